"""Retries: 503 / 429 answers are retried after Retry-After with the same Idempotency-Key (httpx.MockTransport),
and an answer lost on the way back is retried against the real broker without storing the message twice."""
import email.utils
import time

import httpx
import pytest

from mini_kafka import AsyncProducer, BrokerError, BrokerUnreachable, Consumer, Producer, RetryPolicy
from mini_kafka._core import parse_retry_after


class Script:
    """A fake broker answering from a list; records every request it saw."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def keys(self):
        return [r.headers.get("idempotency-key") for r in self.requests]


def busy(status=503, retry_after="1"):
    return httpx.Response(status, headers={"Retry-After": retry_after}, json={"detail": "Partition write queue full", "code": "BUSY", "status": status})


def stored(offset=7):
    return httpx.Response(200, json={"message_id": offset})


def test_503_and_429_are_retried_after_retry_after_with_the_same_idempotency_key():
    script = Script(busy(503, "1"), busy(429, "1"), stored(7))
    events = []
    producer = Producer("http://broker", idempotent=True, transport=httpx.MockTransport(script), on_retry=events.append)
    started = time.monotonic()
    assert producer.send("orders", "charge") == 7
    assert time.monotonic() - started >= 2.0, "waited Retry-After (1 s) twice"
    assert [(e.attempt, e.status) for e in events] == [(1, 503), (2, 429)]
    assert all(e.delay >= 1.0 for e in events)
    keys = script.keys()
    assert len(keys) == 3 and keys[0] and len(set(keys)) == 1, "one key per logical send, repeated by its retries"
    assert all(r.url.path == "/topics/orders/messages" for r in script.requests)


def test_each_logical_send_gets_its_own_key_and_a_given_key_is_used():
    script = Script(stored(0), stored(1), stored(2), httpx.Response(200, json={"message_ids": [3], "partition": 0}))
    producer = Producer("http://broker", idempotent=True, transport=httpx.MockTransport(script))
    producer.send("t", "a")
    producer.send("t", "b")
    producer.send("t", "c", idempotency_key="mine-1")
    producer.send_batch("t", ["d"])
    keys = script.keys()
    assert len(set(keys)) == 4 and keys[2] == "mine-1" and None not in keys


def test_without_idempotent_no_key_is_sent():
    script = Script(stored())
    Producer("http://broker", transport=httpx.MockTransport(script)).send("t", "a")
    assert script.keys() == [None]


def test_retries_are_bounded_and_the_last_answer_raises_with_its_detail():
    script = Script(*(busy(503, "0") for _ in range(3)))
    producer = Producer("http://broker", retry=RetryPolicy(max_attempts=3, base_delay=0.001), transport=httpx.MockTransport(script))
    with pytest.raises(BrokerError) as caught:
        producer.send("t", "a")
    assert (caught.value.status, caught.value.code, caught.value.detail) == (503, "BUSY", "Partition write queue full")
    assert len(script.requests) == 3


def test_other_errors_are_not_retried():
    script = Script(httpx.Response(400, json={"detail": "Invalid topic name", "code": "INVALID_NAME", "status": 400}))
    with pytest.raises(BrokerError) as caught:
        Producer("http://broker", transport=httpx.MockTransport(script)).send("t", "a")
    assert caught.value.detail == "Invalid topic name" and len(script.requests) == 1


def test_max_delay_caps_a_long_retry_after():
    script = Script(busy(503, "3600"), stored())
    events = []
    producer = Producer("http://broker", retry=RetryPolicy(max_delay=0.05), transport=httpx.MockTransport(script), on_retry=events.append)
    assert producer.send("t", "a") == 7
    assert events[0].delay == 0.05


def test_retry_after_as_an_http_date():
    in_two_seconds = email.utils.formatdate(time.time() + 2, usegmt=True)
    assert 0.5 < parse_retry_after(in_two_seconds) <= 2.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("soon") == 0.0 and parse_retry_after(None) == 0.0


async def test_async_retries_honour_retry_after_with_one_key():
    script = Script(busy(503, "1"), stored(3))

    async def handler(request):
        return script(request)

    async with AsyncProducer("http://broker", idempotent=True, transport=httpx.MockTransport(handler)) as producer:
        started = time.monotonic()
        assert await producer.send("t", "a") == 3
        assert time.monotonic() - started >= 1.0
    assert len(script.keys()) == 2 and len(set(script.keys())) == 1


class LoseFirstAnswer(httpx.BaseTransport):
    """Forwards to the real broker, but the first answer is "lost" (the connection drops after the broker
    stored the message): the client sees a network error and retries."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.keys = []

    def handle_request(self, request):
        self.keys.append(request.headers.get("idempotency-key"))
        response = self.inner.handle_request(request)
        if len(self.keys) == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset after the broker answered", request=request)
        return response

    def close(self):
        self.inner.close()


def test_a_retry_after_a_lost_answer_stores_the_message_once(broker_url, topic):
    transport = LoseFirstAnswer()
    producer = Producer(broker_url, idempotent=True, transport=transport, retry=RetryPolicy(base_delay=0.01))
    assert producer.send(topic, "charge") == 0
    assert producer.send(topic, "next") == 1, "the retried send took offset 0 once"
    assert transport.keys[0] == transport.keys[1] != transport.keys[2]
    messages = list(Consumer(broker_url, "check", topic, stop_when_idle=True))
    assert [m["data"] for m in messages] == ["charge", "next"]


def test_without_a_key_the_same_lost_answer_stores_it_twice(broker_url, topic):
    # Why the key matters: the control case of the test above.
    producer = Producer(broker_url, transport=LoseFirstAnswer(), retry=RetryPolicy(base_delay=0.01))
    assert producer.send(topic, "charge") == 1
    assert [m["data"] for m in Consumer(broker_url, "check", topic, stop_when_idle=True)] == ["charge", "charge"]


def test_a_lost_answer_with_no_retries_left_is_broker_unreachable(broker_url, topic):
    producer = Producer(broker_url, idempotent=True, transport=LoseFirstAnswer(), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(BrokerUnreachable):
        producer.send(topic, "x")
