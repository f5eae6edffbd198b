"""Consumer-group workers against a real broker: disjoint leases, ack / nack / extend, expired leases, the
worker loop, settings."""
import time

import pytest

from mini_kafka import AsyncGroupWorker, AsyncProducer, BrokerError, GroupWorker, Producer


def test_workers_of_a_group_get_disjoint_messages(broker_url, topic):
    Producer(broker_url).send_batch(topic, [f"m{i}" for i in range(6)])
    a, b = GroupWorker(broker_url, topic, "billing"), GroupWorker(broker_url, topic, "billing")
    got_a, got_b = a.receive(3), b.receive(10)
    ids_a, ids_b = {m["message_id"] for m in got_a}, {m["message_id"] for m in got_b}
    assert len(got_a) == 3 and ids_a.isdisjoint(ids_b) and ids_a | ids_b == set(range(6))
    assert all(m["deliveries"] == 1 and m["lease_id"] for m in got_a + got_b)
    assert [r["status"] for r in a.ack(*got_a)] == ["acked"] * 3
    assert [r["status"] for r in a.ack(got_a[0])] == ["already_acked"], "a retried ack is harmless"
    assert [r["status"] for r in b.ack(*(m["lease_id"] for m in got_b))] == ["acked"] * 3
    assert a.receive(wait_ms=0) == []
    # Every group of a topic sees every message.
    assert len(GroupWorker(broker_url, topic, "audit").receive(10)) == 6


def test_nack_hands_a_message_out_again_and_extend_renews_a_lease(broker_url, topic):
    Producer(broker_url).send(topic, "job")
    worker = GroupWorker(broker_url, topic, "g", lease_ms=30_000)
    [message] = worker.receive()
    [extended] = worker.extend(message, lease_ms=60_000)
    assert extended["status"] == "ok" and extended["lease_expires_at"] > message["lease_expires_at"]
    assert worker.nack(message) == [{"lease_id": message["lease_id"], "status": "ok"}]
    [again] = worker.receive()
    assert (again["message_id"], again["deliveries"]) == (0, 2)
    worker.ack(again)
    group = worker.describe()
    assert group["partitions"][0]["committed_offset"] == 1 and group["partitions"][0]["lag"] == 0


def test_an_expired_lease_taken_by_another_worker_cannot_be_acked(broker_url, topic):
    Producer(broker_url).send(topic, "slow job")
    slow, fast = GroupWorker(broker_url, topic, "g"), GroupWorker(broker_url, topic, "g")
    [message] = slow.receive(lease_ms=50)
    time.sleep(0.2)
    [redelivered] = fast.receive(wait_ms=2_000)
    assert redelivered["deliveries"] == 2
    with pytest.raises(BrokerError) as caught:
        slow.ack(message)
    assert (caught.value.status, caught.value.code) == (409, "LEASE_EXPIRED")
    assert "no longer current" in caught.value.detail
    # With several lease ids the answer is a 207 with a status per lease, returned rather than raised.
    assert [r["status"] for r in fast.ack(redelivered, message)] == ["acked", "lease_expired"]


def test_configure_and_the_worker_loop(broker_url, topic):
    Producer(broker_url).send_batch(topic, ["a", "b", "c", "d"])
    worker = GroupWorker(broker_url, topic, "g", max_messages=2, wait_ms=100, stop_when_idle=True)
    settings = worker.configure(max_deliveries=3, lease_ms=20_000)
    assert (settings["max_deliveries"], settings["lease_ms"], settings["dead_letter_topic"]) == (3, 20_000, f"{topic}.dlq")
    with pytest.raises(RuntimeError):
        for message in worker:
            if message["data"] == "b":
                raise RuntimeError("failed")  # b stays leased: not acked
    assert worker.describe()["partitions"][0]["in_flight"] == 1
    assert [m["data"] for m in worker] == ["c", "d"]
    assert worker.describe()["partitions"][0]["committed_offset"] == 1, "b is still unsettled"


async def test_async_group_worker(broker_url, topic):
    async with AsyncProducer(broker_url) as producer:
        await producer.send_batch(topic, ["x", "y", "z"])
    async with AsyncGroupWorker(broker_url, topic, "g", wait_ms=100, stop_when_idle=True) as worker:
        assert [m["data"] async for m in worker] == ["x", "y", "z"]
        [first] = await AsyncGroupWorker(broker_url, topic, "other").receive(1)
        assert first["data"] == "x"
        group = await worker.describe()
        assert group["partitions"][0]["committed_offset"] == 3
