"""The asyncio client on httpx.AsyncClient: AsyncProducer, AsyncConsumer (``async for``) and AsyncGroupWorker,
the async twins of sync.py's classes with the same constructors, methods and semantics."""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, AsyncIterator, List, Mapping, Optional, Sequence, TypeVar

import httpx

from . import _contract as c
from ._core import (
    DEFAULT_TIMEOUT, Call, Lease, OnRetry, R, RetryEvent, RetryPolicy, ack_call, answer, batch_call, batch_ids,
    client_headers, is_missing_topic, lease_ids, new_idempotency_key, poll_call, poll_result, produce_call, should_retry,
)
from .errors import BrokerError, BrokerUnreachable
from .types import CreateTopicResponse, CursorResponse, GroupMessage, GroupResponse, LeaseResultResponse, PolledMessage


E = TypeVar("E")


class _AsyncEndpoint:
    """An httpx.AsyncClient on the broker, with retries. ``await x.aclose()`` (or ``async with``) releases it."""

    def __init__(
        self,
        broker_url: str,
        *,
        api_key: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ):
        self.broker_url = broker_url.rstrip("/")
        self.retry = retry
        self.on_retry = on_retry
        self.timeout = timeout
        self._http = httpx.AsyncClient(base_url=self.broker_url, headers=client_headers(api_key, headers), transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self: E) -> E:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call[Any]) -> httpx.Response:
        for attempt in itertools.count(1):
            request = call.build(self._http, self.timeout)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as error:
                if not should_retry(self.retry, attempt, None):
                    raise BrokerUnreachable(request.method, str(request.url.copy_with(query=None)), attempt, error) from error
                await self._wait(RetryEvent(attempt, self.retry.delay(attempt, None), request.method, str(request.url), error=error))
                continue
            if not should_retry(self.retry, attempt, response):
                return response
            await response.aclose()
            delay = self.retry.delay(attempt, response.headers.get("retry-after"))
            await self._wait(RetryEvent(attempt, delay, request.method, str(request.url), status=response.status_code))
        raise AssertionError("unreachable")

    async def _wait(self, event: RetryEvent) -> None:
        if self.on_retry is not None:
            self.on_retry(event)
        await asyncio.sleep(event.delay)

    async def _call(self, call: Call[R]) -> R:
        return answer(call, await self._send(call))


class AsyncProducer(_AsyncEndpoint):
    """``await AsyncProducer(broker_url).send(topic, message)`` answers the offset; see sync.Producer."""

    def __init__(
        self, broker_url: str, producer_id: Optional[str] = None, *, idempotent: bool = False,
        api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None, timeout: float = DEFAULT_TIMEOUT, transport: Optional[httpx.AsyncBaseTransport] = None,
    ):
        super().__init__(broker_url, api_key=api_key, headers=headers, retry=retry, on_retry=on_retry, timeout=timeout, transport=transport)
        self.producer_id = producer_id
        self.idempotent = idempotent

    async def send(
        self, topic_name: str, message: Any, *, key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
        partition: Optional[int] = None, idempotency_key: Optional[str] = None,
    ) -> int:
        call = produce_call(topic_name, message, key, headers, partition, self._key(idempotency_key))
        return int((await self._call(call))["message_id"])

    async def send_batch(
        self, topic_name: str, messages: Sequence[Any], *, key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
        partition: Optional[int] = None, idempotency_key: Optional[str] = None,
    ) -> List[int]:
        call = batch_call(topic_name, messages, key, headers, partition, self._key(idempotency_key))
        return batch_ids(call, await self._send(call))

    async def create_topic(self, topic_name: str, partitions: Optional[int] = None) -> CreateTopicResponse:
        body = None if partitions is None else {"partitions": partitions}
        return await self._call(Call(c.CREATE_TOPIC, {"topic": topic_name}, json=body))

    def _key(self, given: Optional[str]) -> Optional[str]:
        return given if given is not None or not self.idempotent else new_idempotency_key()


class AsyncConsumer(_AsyncEndpoint):
    """``async for message in consumer:`` polls (long polls with ``wait_ms``) and acknowledges each message
    after the loop body finished with it (at-least-once); see sync.Consumer."""

    def __init__(
        self, broker_url: str, consumer_id: str, topic: str, *, partition: Optional[int] = None, wait_ms: Optional[int] = None,
        stop_when_idle: bool = False, idle_initial: float = 0.05, idle_max: float = 1.0,
        api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None, timeout: float = DEFAULT_TIMEOUT, transport: Optional[httpx.AsyncBaseTransport] = None,
    ):
        super().__init__(broker_url, api_key=api_key, headers=headers, retry=retry, on_retry=on_retry, timeout=timeout, transport=transport)
        self.consumer_id = consumer_id
        self.topic = topic
        self.partition = partition
        self.wait_ms = wait_ms
        self.stop_when_idle = stop_when_idle
        self.idle_initial = idle_initial
        self.idle_max = max(idle_initial, idle_max)

    async def poll(self) -> Optional[PolledMessage]:
        call = poll_call(self.topic, self.consumer_id, self.partition, self.wait_ms)
        return poll_result(call, await self._send(call))

    async def acknowledge(self, message_id: int, partition: Optional[int] = None) -> None:
        await self._call(ack_call(self.topic, self.consumer_id, message_id, self.partition if partition is None else partition))

    ack = acknowledge

    async def cursor(self, partition: Optional[int] = None) -> CursorResponse:
        path = {"topic": self.topic, "consumer_id": self.consumer_id}
        return await self._call(Call(c.GET_CURSOR, path, query={"partition": self.partition if partition is None else partition}))

    async def __aiter__(self) -> AsyncIterator[PolledMessage]:
        idle = self.idle_initial
        while True:
            started = time.monotonic()
            try:
                message = await self.poll()
            except BrokerError as error:
                if not is_missing_topic(error):
                    raise
                message = None
            if message is not None:
                idle = self.idle_initial
                yield message
                # Reached only when the loop body finished normally (at-least-once, as in sync.Consumer).
                await self.acknowledge(message["message_id"], message.get("partition"))
                continue
            if self.stop_when_idle:
                return
            await asyncio.sleep(max(0.0, idle - (time.monotonic() - started)))
            idle = min(idle * 2, self.idle_max)


class AsyncGroupWorker(_AsyncEndpoint):
    """A consumer-group worker: ``async for message in worker:`` acks each message after the loop body; see
    sync.GroupWorker."""

    def __init__(
        self, broker_url: str, topic: str, group: str, *, max_messages: int = 10, wait_ms: Optional[int] = None,
        lease_ms: Optional[int] = None, stop_when_idle: bool = False, idle_initial: float = 0.05, idle_max: float = 1.0,
        api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None, retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[OnRetry] = None, timeout: float = DEFAULT_TIMEOUT, transport: Optional[httpx.AsyncBaseTransport] = None,
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

    async def configure(
        self, *, max_deliveries: Optional[int] = None, per_key_ordering: Optional[bool] = None,
        dead_letter_topic: Optional[str] = None, lease_ms: Optional[int] = None,
    ) -> GroupResponse:
        body = {"max_deliveries": max_deliveries, "per_key_ordering": per_key_ordering, "dead_letter_topic": dead_letter_topic, "lease_ms": lease_ms}
        return await self._call(Call(c.CONFIGURE_GROUP, self._path, json={k: v for k, v in body.items() if v is not None}))

    async def describe(self) -> GroupResponse:
        return await self._call(Call(c.GET_GROUP, self._path))

    async def receive(
        self, max_messages: Optional[int] = None, *, wait_ms: Optional[int] = None, lease_ms: Optional[int] = None,
        partition: Optional[int] = None,
    ) -> List[GroupMessage]:
        wait = self.wait_ms if wait_ms is None else wait_ms
        query = {"max": max_messages or self.max_messages, "wait_ms": wait, "lease_ms": lease_ms or self.lease_ms, "partition": partition}
        return list((await self._call(Call(c.RECEIVE, self._path, query=query, hold=(wait or 0) / 1000)))["messages"])

    async def ack(self, *leases: Lease) -> List[LeaseResultResponse]:
        return list((await self._call(Call(c.GROUP_ACK, self._path, json={"lease_ids": lease_ids(leases)})))["results"])

    async def nack(self, *leases: Lease, delay_ms: int = 0) -> List[LeaseResultResponse]:
        body = {"lease_ids": lease_ids(leases), "delay_ms": delay_ms}
        return list((await self._call(Call(c.GROUP_NACK, self._path, json=body)))["results"])

    async def extend(self, *leases: Lease, lease_ms: int) -> List[LeaseResultResponse]:
        body = {"lease_ids": lease_ids(leases), "lease_ms": lease_ms}
        return list((await self._call(Call(c.GROUP_EXTEND, self._path, json=body)))["results"])

    async def __aiter__(self) -> AsyncIterator[GroupMessage]:
        idle = self.idle_initial
        while True:
            started = time.monotonic()
            try:
                messages = await self.receive()
            except BrokerError as error:
                if not is_missing_topic(error):
                    raise
                messages = []
            for message in messages:
                yield message
                await self.ack(message)
            if messages:
                idle = self.idle_initial
                continue
            if self.stop_when_idle:
                return
            await asyncio.sleep(max(0.0, idle - (time.monotonic() - started)))
            idle = min(idle * 2, self.idle_max)
