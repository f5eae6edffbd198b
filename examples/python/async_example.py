# The async client: an AsyncProducer sends COUNT messages concurrently (plus a batch), then an AsyncConsumer reads
# them with `async for`, long polling, acking each message after the loop body (at-least-once).
# Run: BROKER_URL=http://localhost:8000 python3 examples/python/async_example.py   (after installing clients/python)
import asyncio
import os

from mini_kafka import AsyncConsumer, AsyncProducer

BROKER = os.environ.get("BROKER_URL", "http://localhost:8000")
API_KEY = os.environ.get("API_KEY")  # only when the broker has AUTH_KEYS
TOPIC = os.environ.get("TOPIC", "async-orders")
COUNT = int(os.environ.get("COUNT", "10"))


async def main() -> None:
    async with AsyncProducer(BROKER, "async-producer", api_key=API_KEY, idempotent=True) as producer:
        # idempotent=True: each send carries its own Idempotency-Key, so a retried send is never stored twice.
        offsets = await asyncio.gather(*(producer.send(TOPIC, {"order": i}) for i in range(COUNT)))
        print(f"sent {COUNT} orders as messages {min(offsets)}..{max(offsets)}")
        print(f"sent a batch as messages {await producer.send_batch(TOPIC, ['batch-a', 'batch-b'])}")

    # wait_ms: the broker holds an empty poll up to 1 s and answers as soon as a message arrives;
    # stop_when_idle: end the loop once caught up (leave it out to keep consuming).
    async with AsyncConsumer(BROKER, "async-consumer", TOPIC, api_key=API_KEY, wait_ms=1000, stop_when_idle=True) as consumer:
        received = 0
        async for message in consumer:
            received += 1  # process the message here; raising leaves it unacked, so it comes again
        cursor = await consumer.cursor()
        print(f"received {received} message(s); committed offset {cursor['offset']}, lag {cursor['lag']}")


asyncio.run(main())
