"""AsyncProducer / AsyncConsumer against a real broker: concurrent sends, ``async for`` with ack after the
body, long polling."""
import asyncio
import time

import pytest

from mini_kafka import AsyncConsumer, AsyncProducer, BrokerError


async def test_concurrent_sends_get_dense_offsets(broker_url, topic):
    async with AsyncProducer(broker_url, "p") as producer:
        ids = await asyncio.gather(*(producer.send(topic, f"m{i}") for i in range(50)))
        assert sorted(ids) == list(range(50))
        assert await producer.send_batch(topic, ["x", "y"]) == [50, 51]


async def test_async_for_acknowledges_each_message_after_the_body(broker_url, topic):
    async with AsyncProducer(broker_url) as producer:
        await producer.send_batch(topic, ["a", "b", "c"])
    async with AsyncConsumer(broker_url, "c", topic, stop_when_idle=True) as consumer:
        with pytest.raises(RuntimeError):
            async for message in consumer:
                if message["data"] == "b":
                    raise RuntimeError("processing failed")
        assert await consumer.poll() == {"message_id": 1, "data": "b"}
        assert [m["data"] async for m in consumer] == ["b", "c"]
        assert await consumer.poll() is None
        assert (await consumer.cursor())["lag"] == 0


async def test_long_poll_wakes_on_produce(broker_url, topic):
    async with AsyncProducer(broker_url) as producer, AsyncConsumer(broker_url, "c", topic, wait_ms=10_000) as consumer:
        await producer.create_topic(topic)

        async def produce_later():
            await asyncio.sleep(0.3)
            await producer.send(topic, "late")

        started = time.monotonic()
        message, _ = await asyncio.gather(consumer.poll(), produce_later())
        assert message == {"message_id": 0, "data": "late"}
        assert time.monotonic() - started < 5


async def test_async_for_waits_for_messages_with_long_polls(broker_url, topic):
    async with AsyncProducer(broker_url) as producer, AsyncConsumer(broker_url, "c", topic, wait_ms=5_000) as consumer:
        await producer.create_topic(topic)
        received = []

        async def consume():
            async for message in consumer:
                received.append(message["data"])
                if len(received) == 3:
                    break

        task = asyncio.ensure_future(consume())
        for text in ["one", "two", "three"]:
            await asyncio.sleep(0.05)
            await producer.send(topic, text)
        await asyncio.wait_for(task, 10)
        assert received == ["one", "two", "three"]
        # The loop was left by break inside the third body: that one is not acknowledged.
        assert await consumer.poll() == {"message_id": 2, "data": "three"}


async def test_async_errors_carry_status_and_detail(broker_url, topic):
    async with AsyncConsumer(broker_url, "c", topic) as consumer:
        with pytest.raises(BrokerError) as caught:
            await consumer.poll()
    assert caught.value.status == 404
    assert caught.value.code == "TOPIC_NOT_FOUND"
