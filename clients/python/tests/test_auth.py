"""API keys against a broker started with AUTH_KEYS (one key with produce, consume and admin on topics py-*)."""
import pytest

from mini_kafka import AsyncProducer, BrokerError, Consumer, GroupWorker, Producer


def test_requests_without_a_key_are_refused_with_401(auth_broker, topic):
    with pytest.raises(BrokerError) as caught:
        Producer(auth_broker["url"]).send(topic, "x")
    assert caught.value.status == 401
    assert "API key" in caught.value.detail


def test_a_key_is_sent_on_every_request(auth_broker, topic):
    key = auth_broker["key"]
    assert Producer(auth_broker["url"], api_key=key).send(topic, "x") == 0
    consumer = Consumer(auth_broker["url"], "c", topic, api_key=key, stop_when_idle=True)
    assert [m["data"] for m in consumer] == ["x"]
    worker = GroupWorker(auth_broker["url"], topic, "g", api_key=key)
    assert worker.configure(lease_ms=1000)["lease_ms"] == 1000
    assert [m["data"] for m in worker.receive()] == ["x"]


async def test_a_topic_outside_the_key_rights_is_403(auth_broker):
    async with AsyncProducer(auth_broker["url"], api_key=auth_broker["key"]) as producer:
        with pytest.raises(BrokerError) as caught:
            await producer.send("not-mine", "x")
    assert caught.value.status == 403
