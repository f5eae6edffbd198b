"""The blocking client: the seed tutorial's Producer and Consumer (same constructors and methods), plus
GroupWorker for consumer groups. Built on httpx.Client; see aio.py for the async twins."""
from __future__ import annotations

import itertools
import time
from typing import Any, Iterator, List, Mapping, Optional, Sequence, TypeVar

import httpx

from . import _contract as c
from ._core import (
    DEFAULT_TIMEOUT, Call, Lease, OnRetry, R, RetryEvent, RetryPolicy, ack_call, answer, batch_call, batch_ids,
    client_headers, is_missing_topic, lease_ids, new_idempotency_key, poll_call, poll_result, produce_call, should_retry,
)
from .errors import BrokerError, BrokerUnreachable
from .types import CreateTopicResponse, CursorResponse, GroupMessage, GroupResponse, LeaseResultResponse, PolledMessage


E = TypeVar("E")


class _Endpoint:
    """An httpx.Client on the broker, with retries. Close it (or use ``with``) to release its connections."""

    def __init__(
        self,
        broker_url: str,
        *,
        api_key: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Optional[httpx.BaseTransport] = None,
    ):
        self.broker_url = broker_url.rstrip("/")
        self.retry = retry
        self.on_retry = on_retry
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.broker_url, headers=client_headers(api_key, headers), transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self: E) -> E:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call[Any]) -> httpx.Response:
        for attempt in itertools.count(1):
            request = call.build(self._http, self.timeout)
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                if not should_retry(self.retry, attempt, None):
                    raise BrokerUnreachable(request.method, str(request.url.copy_with(query=None)), attempt, error) from error
                self._wait(RetryEvent(attempt, self.retry.delay(attempt, None), request.method, str(request.url), error=error))
                continue
            if not should_retry(self.retry, attempt, response):
                return response
            response.close()
            delay = self.retry.delay(attempt, response.headers.get("retry-after"))
            self._wait(RetryEvent(attempt, delay, request.method, str(request.url), status=response.status_code))
        raise AssertionError("unreachable")

    def _wait(self, event: RetryEvent) -> None:
        if self.on_retry is not None:
            self.on_retry(event)
        time.sleep(event.delay)

    def _call(self, call: Call[R]) -> R:
        return answer(call, self._send(call))


class Producer(_Endpoint):
    """The seed's Producer: ``Producer(broker_url, producer_id).send(topic, message)`` answers the offset.

    ``idempotent=True`` gives each send (and send_batch) a fresh Idempotency-Key, reused by its retries, so a
    retry after a lost answer never stores the message twice (off by default: the broker writes each key
    durably, which costs throughput). ``idempotency_key=`` on a call sets your own key.
    """

    def __init__(
        self, broker_url: str, producer_id: Optional[str] = None, *, idempotent: bool = False,
        api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None, timeout: float = DEFAULT_TIMEOUT, transport: Optional[httpx.BaseTransport] = None,
    ):
        super().__init__(broker_url, api_key=api_key, headers=headers, retry=retry, on_retry=on_retry, timeout=timeout, transport=transport)
        self.producer_id = producer_id
        self.idempotent = idempotent

    def send(
        self, topic_name: str, message: Any, *, key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
        partition: Optional[int] = None, idempotency_key: Optional[str] = None,
    ) -> int:
        """Appends one message (text, bytes, a JSON value or a Message); the offset once the broker stored it."""
        call = produce_call(topic_name, message, key, headers, partition, self._key(idempotency_key))
        return int(self._call(call)["message_id"])

    def send_batch(
        self, topic_name: str, messages: Sequence[Any], *, key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
        partition: Optional[int] = None, idempotency_key: Optional[str] = None,
    ) -> List[int]:
        """Appends many messages in one request (one write per partition); their offsets in order. Raises
        BatchPartlyRejected when the broker rejected some (the valid ones are stored)."""
        call = batch_call(topic_name, messages, key, headers, partition, self._key(idempotency_key))
        return batch_ids(call, self._send(call))

    def create_topic(self, topic_name: str, partitions: Optional[int] = None) -> CreateTopicResponse:
        """Creates the topic; one that exists already is fine (``status`` is then "exists")."""
        body = None if partitions is None else {"partitions": partitions}
        return self._call(Call(c.CREATE_TOPIC, {"topic": topic_name}, json=body))

    def _key(self, given: Optional[str]) -> Optional[str]:
        # One key per logical send: the Call carries it, so every retry of this send repeats it.
        return given if given is not None or not self.idempotent else new_idempotency_key()


class Consumer(_Endpoint):
    """The seed's Consumer: ``poll()`` the next message after the committed cursor (None when caught up),
    ``acknowledge(message_id)`` to commit past it.

    ``for message in consumer:`` polls and acknowledges each message after the loop body finished with it
    (at-least-once): if the body raises or breaks, that message is not acknowledged and comes again. It long
    polls with ``wait_ms`` when set, otherwise backs off between empty polls (``idle_initial`` doubling up to
    ``idle_max`` seconds); ``stop_when_idle=True`` ends the loop once caught up.
    """

    def __init__(
        self, broker_url: str, consumer_id: str, topic: str, *, partition: Optional[int] = None, wait_ms: Optional[int] = None,
        stop_when_idle: bool = False, idle_initial: float = 0.05, idle_max: float = 1.0,
        api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None, timeout: float = DEFAULT_TIMEOUT, transport: Optional[httpx.BaseTransport] = None,
    ):
        super().__init__(broker_url, api_key=api_key, headers=headers, retry=retry, on_retry=on_retry, timeout=timeout, transport=transport)
        self.consumer_id = consumer_id
        self.topic = topic
        self.partition = partition
        self.wait_ms = wait_ms
        self.stop_when_idle = stop_when_idle
        self.idle_initial = idle_initial
        self.idle_max = max(idle_initial, idle_max)

    def poll(self) -> Optional[PolledMessage]:
        """The next message, or None when caught up. Polling again without an ack answers the same message."""
        call = poll_call(self.topic, self.consumer_id, self.partition, self.wait_ms)
        return poll_result(call, self._send(call))

    def acknowledge(self, message_id: int, partition: Optional[int] = None) -> None:
        """Commits the cursor past message_id (on the polled message's partition, for topics with several);
        a repeated or late ack is a harmless no-op."""
        self._call(ack_call(self.topic, self.consumer_id, message_id, self.partition if partition is None else partition))

    ack = acknowledge

    def cursor(self, partition: Optional[int] = None) -> CursorResponse:
        """This consumer's committed offset (the next message it gets) and its lag."""
        path = {"topic": self.topic, "consumer_id": self.consumer_id}
        return self._call(Call(c.GET_CURSOR, path, query={"partition": self.partition if partition is None else partition}))

    def __iter__(self) -> Iterator[PolledMessage]:
        idle = self.idle_initial
        while True:
            started = time.monotonic()
            try:
                message = self.poll()
            except BrokerError as error:
                if not is_missing_topic(error):
                    raise
                message = None
            if message is not None:
                idle = self.idle_initial
                yield message
                # Reached only when the loop body finished normally: an exception or break leaves the
                # generator at the yield above, so this message stays unacknowledged (at-least-once).
                self.acknowledge(message["message_id"], message.get("partition"))
                continue
            if self.stop_when_idle:
                return
            # A long poll that was held open already waited; an immediate empty answer backs off, doubling.
            time.sleep(max(0.0, idle - (time.monotonic() - started)))
            idle = min(idle * 2, self.idle_max)


class GroupWorker(_Endpoint):
    """A worker of a consumer group: workers of one group get disjoint messages, each leased until it is
    acked, nacked or its lease ends (then it is handed out again).

    ``for message in worker:`` receives up to ``max_messages`` at a time and acks each after the loop body
    finished with it; if the body raises or breaks, that message (and the rest of its batch) is not acked and
    is handed out again once its lease ends. ``wait_ms`` long polls each receive.
    """

    def __init__(
        self, broker_url: str, topic: str, group: str, *, max_messages: int = 10, wait_ms: Optional[int] = None,
        lease_ms: Optional[int] = None, stop_when_idle: bool = False, idle_initial: float = 0.05, idle_max: float = 1.0,
        api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None, timeout: float = DEFAULT_TIMEOUT, transport: Optional[httpx.BaseTransport] = None,
    ):
        super().__init__(broker_url, api_key=api_key, headers=headers, retry=retry, on_retry=on_retry, timeout=timeout, transport=transport)
        self.topic = topic
        self.group = group
        self.max_messages = max_messages
        self.wait_ms = wait_ms
        self.lease_ms = lease_ms
        self.stop_when_idle = stop_when_idle
        self.idle_initial = idle_initial
        self.idle_max = max(idle_initial, idle_max)

    @property
    def _path(self) -> Mapping[str, str]:
        return {"topic": self.topic, "group": self.group}

    def configure(
        self, *, max_deliveries: Optional[int] = None, per_key_ordering: Optional[bool] = None,
        dead_letter_topic: Optional[str] = None, lease_ms: Optional[int] = None,
    ) -> GroupResponse:
        """Creates the group or changes its settings (needs the admin right); unset ones keep their value."""
        body = {"max_deliveries": max_deliveries, "per_key_ordering": per_key_ordering, "dead_letter_topic": dead_letter_topic, "lease_ms": lease_ms}
        return self._call(Call(c.CONFIGURE_GROUP, self._path, json={k: v for k, v in body.items() if v is not None}))

    def describe(self) -> GroupResponse:
        """Settings and, per partition, committed offset, lag, leases in flight, pending and dead letters."""
        return self._call(Call(c.GET_GROUP, self._path))

    def receive(
        self, max_messages: Optional[int] = None, *, wait_ms: Optional[int] = None, lease_ms: Optional[int] = None,
        partition: Optional[int] = None,
    ) -> List[GroupMessage]:
        """Leases up to max_messages messages to this worker; an empty list when none came within wait_ms."""
        wait = self.wait_ms if wait_ms is None else wait_ms
        query = {"max": max_messages or self.max_messages, "wait_ms": wait, "lease_ms": lease_ms or self.lease_ms, "partition": partition}
        return list(self._call(Call(c.RECEIVE, self._path, query=query, hold=(wait or 0) / 1000))["messages"])

    def ack(self, *leases: Lease) -> List[LeaseResultResponse]:
        """Settles messages (GroupMessage dicts or lease ids) for good. One result per lease, also when some
        failed (a 207: see each status); a single lease that is no longer current raises BrokerError 409
        LEASE_EXPIRED. A retried ack answers ``already_acked``."""
        return list(self._call(Call(c.GROUP_ACK, self._path, json={"lease_ids": lease_ids(leases)}))["results"])

    def nack(self, *leases: Lease, delay_ms: int = 0) -> List[LeaseResultResponse]:
        """Gives messages back, handed out again at once or after delay_ms (or dead-lettered past max_deliveries)."""
        body = {"lease_ids": lease_ids(leases), "delay_ms": delay_ms}
        return list(self._call(Call(c.GROUP_NACK, self._path, json=body))["results"])

    def extend(self, *leases: Lease, lease_ms: int) -> List[LeaseResultResponse]:
        """Renews leases: each now ends lease_ms from now (``lease_expires_at`` in each result)."""
        body = {"lease_ids": lease_ids(leases), "lease_ms": lease_ms}
        return list(self._call(Call(c.GROUP_EXTEND, self._path, json=body))["results"])

    def __iter__(self) -> Iterator[GroupMessage]:
        idle = self.idle_initial
        while True:
            started = time.monotonic()
            try:
                messages = self.receive()
            except BrokerError as error:
                if not is_missing_topic(error):
                    raise
                messages = []
            for message in messages:
                yield message
                self.ack(message)  # only after the body finished with it (see Consumer.__iter__)
            if messages:
                idle = self.idle_initial
                continue
            if self.stop_when_idle:
                return
            time.sleep(max(0.0, idle - (time.monotonic() - started)))
            idle = min(idle * 2, self.idle_max)
