"""The blocking Producer / Consumer against a real broker: the seed's shape and cycle, batches, iteration with
ack after the loop body, long polling, errors."""
import threading
import time

import pytest

from mini_kafka import BatchPartlyRejected, BrokerError, BrokerUnreachable, Consumer, Message, Producer, RetryPolicy


def test_the_seed_example_runs_with_these_classes(broker_url, topic):
    # The tutorial's example, unchanged but for the import (and a fresh topic).
    producer = Producer(broker_url, "my-producer")
    ids = [producer.send(topic, f"Hello, Mini Kafka! - message {i}") for i in range(10)]
    assert ids == list(range(10))

    consumer = Consumer(broker_url, "my-consumer", topic)
    received = []
    while len(received) < 10:
        msg = consumer.poll()
        assert msg, "all ten messages are there"
        received.append(f"{msg['data']} (ID: {msg['message_id']})")
        consumer.acknowledge(msg["message_id"])
    assert received == [f"Hello, Mini Kafka! - message {i} (ID: {i})" for i in range(10)]
    assert consumer.poll() is None


def test_poll_answers_the_same_message_until_acknowledged(broker_url, topic):
    Producer(broker_url).send(topic, "one")
    consumer = Consumer(broker_url, "c", topic)
    assert consumer.poll() == {"message_id": 0, "data": "one"}
    assert consumer.poll() == {"message_id": 0, "data": "one"}
    consumer.acknowledge(0)
    assert consumer.poll() is None
    assert consumer.cursor()["offset"] == 1


def test_values_keys_headers_and_bytes(broker_url, topic):
    producer = Producer(broker_url)
    producer.create_topic(topic, partitions=3)
    assert producer.create_topic(topic)["status"] == "exists"
    producer.send(topic, {"order": 42}, key="customer-17", headers={"source": "test"})
    producer.send(topic, b"\x00\x01\xff", partition=2)
    got = [(m["partition"], m["data"]) for m in Consumer(broker_url, "c", topic, stop_when_idle=True)]
    assert len(got) == 2
    assert (2, "AAH/") in got  # bytes travel as base64
    assert [data for _, data in got if data != "AAH/"] == [{"order": 42}]


def test_batch_produce(broker_url, topic):
    producer = Producer(broker_url)
    assert producer.send_batch(topic, ["a", "b", Message({"n": 3}, key="k", headers={"h": "v"})]) == [0, 1, 2]
    assert [m["data"] for m in Consumer(broker_url, "c", topic, stop_when_idle=True)] == ["a", "b", {"n": 3}]


def test_a_partly_rejected_batch_raises_with_the_stored_offsets(broker_url, topic):
    with pytest.raises(BatchPartlyRejected) as caught:
        Producer(broker_url).send_batch(topic, ["ok", Message("too old", timestamp=1)])
    assert caught.value.status == 207
    assert caught.value.message_ids == [0, None]
    assert [r["status"] for r in caught.value.results] == [200, 400]
    assert "timestamp" in caught.value.detail


def test_iteration_acknowledges_after_the_body_only(broker_url, topic):
    Producer(broker_url).send_batch(topic, ["a", "b", "c"])
    consumer = Consumer(broker_url, "worker", topic, stop_when_idle=True)
    with pytest.raises(RuntimeError):
        for message in consumer:
            if message["data"] == "b":
                raise RuntimeError("processing failed")
    assert consumer.poll() == {"message_id": 1, "data": "b"}, "b was not acknowledged"
    for message in consumer:
        break  # leaving the loop also leaves the message unacknowledged
    assert consumer.poll() == {"message_id": 1, "data": "b"}
    assert [m["data"] for m in consumer] == ["b", "c"]
    assert consumer.poll() is None


def test_long_poll_answers_when_a_message_arrives(broker_url, topic):
    producer = Producer(broker_url)
    producer.create_topic(topic)
    consumer = Consumer(broker_url, "c", topic, wait_ms=10_000)
    timer = threading.Timer(0.3, lambda: producer.send(topic, "late"))
    started = time.monotonic()
    timer.start()
    try:
        message = consumer.poll()
    finally:
        timer.join()
    assert message == {"message_id": 0, "data": "late"}
    assert time.monotonic() - started < 5


def test_a_worker_may_start_before_its_topic_exists(broker_url, topic):
    consumer = Consumer(broker_url, "c", topic, stop_when_idle=True)
    assert list(consumer) == []


def test_errors_carry_status_detail_and_code(broker_url, topic):
    with pytest.raises(BrokerError) as caught:
        Consumer(broker_url, "not a valid id!", topic).poll()
    assert caught.value.status == 400
    assert "consumer id" in caught.value.detail
    with pytest.raises(BrokerError) as missing:
        Consumer(broker_url, "c", topic).poll()
    assert (missing.value.status, missing.value.code) == (404, "TOPIC_NOT_FOUND")
    assert missing.value.detail == f"Topic '{topic}' does not exist"
    Producer(broker_url).send(topic, "x")
    with pytest.raises(BrokerError) as conflict:
        Consumer(broker_url, "c", topic).acknowledge(5)
    assert conflict.value.status == 409
    assert str(conflict.value).startswith("409 ")


def test_no_broker_raises_broker_unreachable_after_the_retries(topic):
    producer = Producer("http://127.0.0.1:9", retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    with pytest.raises(BrokerUnreachable) as caught:
        producer.send(topic, "x")
    assert caught.value.attempts == 2
