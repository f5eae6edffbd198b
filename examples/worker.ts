// Example worker: consumes a topic with the TypeScript client's at-least-once loop. Each message is acked only
// after the loop body finished with it; if the body throws, the message is delivered again on the next run.
// Run: BROKER_URL=http://localhost:8000 node examples/worker.ts   (Ctrl-C stops it; STOP_WHEN_IDLE=true exits when caught up)
// Settings: TOPIC, WORKER_ID, WAIT_MS (long poll), API_KEY.
import { createBrokerClient } from '@mini-kafka/client';

const brokerUrl = process.env.BROKER_URL ?? 'http://localhost:8000';
const topic = process.env.TOPIC ?? 'orders';
const workerId = process.env.WORKER_ID ?? 'order-worker';

const broker = createBrokerClient(brokerUrl, { apiKey: process.env.API_KEY });
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

const consumer = broker.consumer(topic, workerId, {
  // Long poll: an empty poll is held up to WAIT_MS (default 10 s) and answered as soon as a message arrives.
  waitMs: Number(process.env.WAIT_MS ?? '10000'),
  signal: stop.signal,
  stopWhenIdle: process.env.STOP_WHEN_IDLE === 'true',
});
console.log(`worker ${workerId} consuming ${topic} at ${brokerUrl}`);
let processed = 0;
for await (const message of consumer) {
  // Do the work here; throwing leaves the message unacked.
  console.log(`processed message ${message.message_id}: ${message.data}`);
  processed++;
}
const cursor = await broker.cursor(topic, workerId);
console.log(`worker ${workerId} stopped after ${processed} message(s); committed offset ${cursor.offset}, lag ${cursor.lag}`);
