# The seed tutorial's own HTTP Producer and Consumer classes and its example, unchanged except that the broker URL
# comes from BROKER_URL (default http://localhost:8000, where `docker compose up` or `npm start` serves it).
# Run: BROKER_URL=http://localhost:8000 python3 examples/python/seed_example.py   (needs `requests`)
import os
import time

import requests


class Producer:
    def __init__(self, broker_url: str, producer_id: str):
        self.broker_url = broker_url
        self.producer_id = producer_id

    def send(self, topic_name: str, message: str):
        url = f"{self.broker_url}/topics/{topic_name}/messages"
        response = requests.post(url, params={"message": message})
        return response.json()["message_id"]

class Consumer:
    def __init__(self, broker_url: str, consumer_id: str, topic: str):
        self.url = f"{broker_url}/topics/{topic}/messages"
        self.ack_url_template = f"{broker_url}/topics/{topic}/messages/{{message_id}}/ack"
        self.consumer_id = consumer_id

    def poll(self):
        response = requests.get(self.url, params={"consumer_id": self.consumer_id})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def acknowledge(self, message_id):
        ack_url = self.ack_url_template.format(message_id=message_id)
        response = requests.post(ack_url, params={"consumer_id": self.consumer_id})
        response.raise_for_status()


BROKER = os.environ.get("BROKER_URL", "http://localhost:8000").rstrip("/")
TOPIC_NAME = "my-topic"
PRODUCER_ID = "my-producer"
CONSUMER_ID = "my-consumer"

requests.post(f"{BROKER}/topics/{TOPIC_NAME}/create").raise_for_status()

producer = Producer(BROKER, PRODUCER_ID)
print(f"Sending message to topic '{TOPIC_NAME}'...")
for i in range(10):
    message_id = producer.send(TOPIC_NAME, f"Hello, Mini Kafka! - message {i}")
    print(f"Message sent with ID: {message_id}")

consumer = Consumer(BROKER, CONSUMER_ID, TOPIC_NAME)
print(f"Waiting for message on topic '{TOPIC_NAME}' for consumer '{CONSUMER_ID}'...")

i = 0
while True:
    msg = consumer.poll()
    if msg:
        print(f"Received message: {msg['data']} (ID: {msg['message_id']})")
        consumer.acknowledge(msg['message_id'])
        print(f"Acknowledged message ID: {msg['message_id']}")
        i += 1
        if i >= 10:
            break
    else:
        print("No new messages. Waiting...")
        time.sleep(5)

assert consumer.poll() is None, "caught up: the broker must answer 404 No new messages"
print("DONE")
