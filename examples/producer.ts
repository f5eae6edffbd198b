// Example producer: creates a topic and sends messages to it with the TypeScript client.
// Run: BROKER_URL=http://localhost:8000 node examples/producer.ts   (Node >= 22.18 runs TypeScript directly)
import { createBrokerClient } from '@mini-kafka/client';

const brokerUrl = process.env.BROKER_URL ?? 'http://localhost:8000';
const topic = process.env.TOPIC ?? 'orders';
const count = Number(process.env.COUNT ?? '10');

const broker = createBrokerClient(brokerUrl, {
  apiKey: process.env.API_KEY, // only needed when the broker has AUTH_KEYS
  idempotentProduce: true, // a retry after a lost answer never stores an order twice
  onRetry: (e) => console.error(`retrying ${e.method} ${e.url} in ${e.delayMs} ms (${e.status ?? String(e.error)})`),
});

await broker.createTopic(topic);
for (let i = 0; i < count; i++) {
  const offset = await broker.producer.send(topic, JSON.stringify({ order: i, at: new Date().toISOString() }));
  console.log(`sent order ${i} as message ${offset}`);
}
// Many messages at once: one request, one write and one fsync on the broker.
const offsets = await broker.producer.sendBatch(topic, ['batch-a', 'batch-b', 'batch-c']);
console.log(`sent a batch as messages ${offsets.join(', ')}`);
