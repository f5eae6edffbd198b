# Drives the seed cycle with a Python client that Swagger Codegen generated from openapi.yaml (no hand-written HTTP):
# create, produce, poll until the seed's 404 "No new messages", ack, read the cursor. Prints one JSON line.
# Usage: generated_client_cycle.py <dir holding the generated package> <broker url> [api key]
import json
import sys

sys.path.insert(0, sys.argv[1])

import mini_kafka_client  # noqa: E402  (generated)
from mini_kafka_client.rest import ApiException  # noqa: E402

config = mini_kafka_client.Configuration()
config.host = sys.argv[2]
if len(sys.argv) > 3:
    config.api_key["X-API-Key"] = sys.argv[3]
api = mini_kafka_client.ApiClient(config)
topics = mini_kafka_client.TopicsApi(api)
messages = mini_kafka_client.MessagesApi(api)

TOPIC = "python-generated"
CONSUMER = "py-gen"
created = topics.create_topic_by_name(TOPIC)
ids = [messages.produce_message(TOPIC, message=text).message_id for text in ("one", "two")]
ids.append(messages.produce_message(TOPIC, body=mini_kafka_client.ProduceBody(message="three")).message_id)
batch = messages.produce_batch(
    mini_kafka_client.ProduceBatchBody(messages=[mini_kafka_client.ProduceBody(message="four")]), TOPIC
)

received = []
repeated = None
while True:
    try:
        polled = messages.poll_message(TOPIC, CONSUMER)
    except ApiException as e:
        if e.status == 404 and json.loads(e.body) == {"detail": "No new messages"}:
            break
        raise
    if repeated is None:
        # Polling again without an ack answers the same message.
        repeated = messages.poll_message(TOPIC, CONSUMER).message_id == polled.message_id
    received.append(polled.data)
    ack = messages.ack_message(TOPIC, polled.message_id, CONSUMER)
    assert ack.status == "ok", ack

cursor = messages.get_cursor(TOPIC, CONSUMER)
print(json.dumps({
    "created": created.status,
    "ids": ids + batch.message_ids,
    "received": received,
    "repeated": repeated,
    "cursor": cursor.offset,
    "lag": cursor.lag,
}))
