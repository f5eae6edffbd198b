"""What the sync and async clients share: requests built from the contract's operations, the retry policy
(429 / 503 / no answer, honouring Retry-After), produce bodies, and reading answers into results or errors.
The two clients differ only in how they send a request and wait.
"""
from __future__ import annotations

import base64
import email.utils
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, Iterable, List, Mapping, Optional, Sequence, TypeVar, Union, cast
from urllib.parse import quote

import httpx

from . import _contract as c
from .errors import BatchPartlyRejected, BrokerError, error_from_response
from .types import (
    AckResponse, GroupMessage, PolledMessage, ProduceBatchResponse, ProduceBody, ProduceResponse,
)

#: Answers that mean "not now, try again": rate limited (429), or the broker is full, busy or draining (503).
RETRY_STATUSES = frozenset({429, 503})
#: The seed's poll answers exactly this detail (with a 404) when the consumer is caught up.
NO_NEW_MESSAGES = "No new messages"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` before the client waits ``delay`` seconds and tries again."""

    attempt: int
    delay: float
    method: str
    url: str
    status: Optional[int] = None
    error: Optional[BaseException] = None


@dataclass(frozen=True)
class RetryPolicy:
    """429, 503 and requests that got no answer are tried again, up to ``max_attempts`` tries in all, after an
    exponential back-off with jitter (``base_delay`` doubling, seconds) that is never shorter than the broker's
    ``Retry-After`` and never longer than ``max_delay``."""

    max_attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: Optional[str]) -> float:
        exponential = self.base_delay * 2.0 ** (attempt - 1)
        backoff = exponential / 2 + random.random() * exponential / 2
        return min(self.max_delay, max(backoff, parse_retry_after(retry_after)))


def parse_retry_after(value: Optional[str]) -> float:
    """Retry-After is delay-seconds or an HTTP date (RFC 9110, 10.2.3); seconds to wait, 0 when absent or bad."""
    if value is None or not value.strip():
        return 0.0
    try:
        seconds = float(value)
        return max(0.0, seconds)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - time.time())


R = TypeVar("R")


@dataclass
class Call(Generic[R]):
    """One logical request. Retries send this same object again, so its Idempotency-Key stays the same."""

    op: c.Operation[R]
    path: Mapping[str, Union[str, int]]
    query: Dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: Dict[str, str] = field(default_factory=dict)
    #: Extra seconds the broker may legitimately hold the request (long polls), added to the read timeout.
    hold: float = 0.0

    def url(self) -> str:
        return self.op.path.format(**{k: quote(str(v), safe="") for k, v in self.path.items()})

    def build(self, client: Union[httpx.Client, httpx.AsyncClient], timeout: float) -> httpx.Request:
        query = {k: _query_value(v) for k, v in self.query.items() if v is not None}
        unknown = set(query) - set(self.op.query)
        assert not unknown, f"{self.op.operation_id} does not declare query parameters {unknown}"
        return client.build_request(
            self.op.method, self.url(), params=query, json=self.json, headers=self.headers,
            timeout=httpx.Timeout(timeout, read=timeout + self.hold),
        )


def _query_value(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def client_headers(api_key: Optional[str], headers: Optional[Mapping[str, str]]) -> Dict[str, str]:
    out = {"User-Agent": "mini-kafka-python/0.1"}
    out.update(headers or {})
    if api_key is not None:
        # The broker also accepts X-API-Key; Bearer is what /docs' Authorize button sends too.
        out["Authorization"] = f"Bearer {api_key}"
    return out


def should_retry(policy: RetryPolicy, attempt: int, response: Optional[httpx.Response]) -> bool:
    if attempt >= policy.max_attempts:
        return False
    return response is None or response.status_code in RETRY_STATUSES


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


# ---- produce ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A message with its routing and metadata. ``value``: text (the seed's message), bytes (sent as base64) or
    any other JSON value (dict, list, number, bool)."""

    value: Any
    key: Optional[str] = None
    headers: Optional[Mapping[str, str]] = None
    partition: Optional[int] = None
    #: Producer timestamp, ms since the epoch (the broker's clock when absent).
    timestamp: Optional[int] = None


def produce_body(message: Any, key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, partition: Optional[int] = None) -> ProduceBody:
    if isinstance(message, Message):
        body = produce_body(message.value, message.key, message.headers, message.partition)
        if message.timestamp is not None:
            body["timestamp"] = message.timestamp
        key = key if message.key is None else None
        headers = headers if message.headers is None else None
        partition = partition if message.partition is None else None
    elif isinstance(message, str):
        body = {"message": message}
    elif isinstance(message, (bytes, bytearray, memoryview)):
        body = {"value": base64.b64encode(bytes(message)).decode("ascii"), "encoding": "base64"}
    else:
        body = {"value": message}
    if key is not None:
        body["key"] = key
    if headers is not None:
        body["headers"] = dict(headers)
    if partition is not None:
        body["partition"] = partition
    return body


def produce_call(
    topic: str, message: Any, key: Optional[str], headers: Optional[Mapping[str, str]], partition: Optional[int], idempotency_key: Optional[str],
) -> "Call[ProduceResponse]":
    return Call(c.PRODUCE, {"topic": topic}, json=produce_body(message, key, headers, partition), headers=_idem(idempotency_key))


def batch_call(
    topic: str, messages: Iterable[Any], key: Optional[str], headers: Optional[Mapping[str, str]], partition: Optional[int], idempotency_key: Optional[str],
) -> "Call[ProduceBatchResponse]":
    body = {"messages": [produce_body(m, key, headers) for m in messages]}
    return Call(c.PRODUCE_BATCH, {"topic": topic}, query={"partition": partition}, json=body, headers=_idem(idempotency_key))


def _idem(key: Optional[str]) -> Dict[str, str]:
    return {} if key is None else {c.IDEMPOTENCY_KEY: key}


def batch_ids(call: "Call[ProduceBatchResponse]", response: httpx.Response) -> List[int]:
    body = answer(call, response)
    if response.status_code == 207:
        raise BatchPartlyRejected(body["message_ids"], body.get("results", []))
    # 200: every message was stored, so every id is an offset
    return [i for i in body["message_ids"] if i is not None]


# ---- consume ------------------------------------------------------------------------------------------------


def poll_call(topic: str, consumer_id: str, partition: Optional[int], wait_ms: Optional[int]) -> "Call[PolledMessage]":
    # wait_ms is sent only when asked for: the seed's poll stays exactly the seed's request.
    query = {"consumer_id": consumer_id, "partition": partition, "wait_ms": wait_ms}
    return Call(c.POLL, {"topic": topic}, query=query, hold=(wait_ms or 0) / 1000)


def poll_result(call: "Call[PolledMessage]", response: httpx.Response) -> Optional[PolledMessage]:
    if response.status_code == 404:
        error = error_from_response(response)
        if error.detail == NO_NEW_MESSAGES:
            return None
        raise error
    return answer(call, response)


def ack_call(topic: str, consumer_id: str, message_id: int, partition: Optional[int]) -> "Call[AckResponse]":
    return Call(c.ACK, {"topic": topic, "message_id": message_id}, query={"consumer_id": consumer_id, "partition": partition})


def is_missing_topic(error: BaseException) -> bool:
    """A worker may start before its producers: a topic that does not exist yet counts as "nothing yet"."""
    return isinstance(error, BrokerError) and error.status == 404 and error.code == "TOPIC_NOT_FOUND"


# ---- groups -------------------------------------------------------------------------------------------------

Lease = Union[GroupMessage, str]


def lease_ids(leases: Sequence[Lease]) -> List[str]:
    ids = [lease if isinstance(lease, str) else lease["lease_id"] for lease in leases]
    if not ids:
        raise ValueError("give at least one message or lease id")
    return ids


def json_or_raise(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise error_from_response(response)
    return response.json()


def answer(call: "Call[R]", response: httpx.Response) -> R:
    """The success answer, typed by the call's operation (the drift test keeps that type true to openapi.yaml)."""
    return cast(R, json_or_raise(response))


OnRetry = Callable[[RetryEvent], None]
