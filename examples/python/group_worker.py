# A consumer-group worker: start several and each message goes to one of them. A message is leased to the worker
# that received it; it is acked after the loop body, nacked (given back with a delay) when processing fails, and
# handed out again if the worker dies before either.
# Run: BROKER_URL=http://localhost:8000 TOPIC=orders GROUP=billing python3 examples/python/group_worker.py
import os

from mini_kafka import GroupWorker, Producer

BROKER = os.environ.get("BROKER_URL", "http://localhost:8000")
API_KEY = os.environ.get("API_KEY")  # only when the broker has AUTH_KEYS
TOPIC = os.environ.get("TOPIC", "orders")
GROUP = os.environ.get("GROUP", "billing")
STOP_WHEN_IDLE = os.environ.get("STOP_WHEN_IDLE") == "true"  # exit once caught up instead of waiting for more


def process(order: dict[str, int]) -> None:
    if order.get("amount", 0) < 0:
        raise ValueError("negative amount")


if os.environ.get("PRODUCE", "true") == "true":  # some work to do, for the demo
    Producer(BROKER, api_key=API_KEY).send_batch(TOPIC, [{"id": 1, "amount": 10}, {"id": 2, "amount": -5}, {"id": 3, "amount": 7}])

worker = GroupWorker(BROKER, TOPIC, GROUP, api_key=API_KEY, wait_ms=1000, lease_ms=30_000, stop_when_idle=STOP_WHEN_IDLE)
worker.configure(max_deliveries=2)  # a message nacked or expired twice goes to the dead-letter topic (orders.dlq)
processed = 0
while True:
    messages = worker.receive(10)  # leased to this worker for lease_ms; empty after wait_ms when idle
    if not messages and STOP_WHEN_IDLE:
        break
    for message in messages:
        try:
            process(message["data"])
        except ValueError as error:
            print(f"message {message['message_id']} failed ({error}), delivery {message['deliveries']}: nacked")
            worker.nack(message, delay_ms=100)
            continue
        worker.ack(message)
        processed += 1
        print(f"processed message {message['message_id']}: {message['data']}")

partition = worker.describe()["partitions"][0]
print(f"{processed} processed; committed offset {partition['committed_offset']}, dead-lettered {partition['dead_lettered']}")
