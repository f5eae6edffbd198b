// The worker container of the compose test (npm run test:docker): reaches the broker by its compose service name,
// produces COUNT messages with the TypeScript client's Producer.send, consumes them with the Consumer's
// `for await` loop (acked after each body), checks order, content and the committed cursor, prints one
// `RESULT {...}` line and exits 0; anything wrong exits non-zero with the reason.
import { createBrokerClient } from '@mini-kafka/client';

const brokerUrl = process.env.BROKER_URL ?? 'http://broker:8000';
const topic = process.env.TOPIC ?? 'compose-worker';
const workerId = process.env.WORKER_ID ?? 'compose-worker';
const count = Number(process.env.COUNT ?? '100');
const runId = process.env.RUN_ID ?? 'run';
const deadline = setTimeout(() => fail(new Error('worker timed out after 120 s')), 120_000);

function fail(error) {
  console.error(`WORKER FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
}

try {
  const started = Date.now();
  const broker = createBrokerClient(brokerUrl, {
    onRetry: (e) => console.log(`retrying ${e.method} ${e.url} in ${e.delayMs} ms (${e.status ?? String(e.error)})`),
  });
  console.log(`worker ${workerId}: ${count} messages through ${topic} at ${brokerUrl}`);
  await broker.createTopic(topic);

  const sent = [];
  for (let i = 0; i < count; i++) {
    const data = `${runId}-${i}`;
    const offset = await broker.producer.send(topic, data);
    if (offset !== i) throw new Error(`message ${i} was stored at offset ${offset}, expected ${i} (fresh volume, dense offsets)`);
    sent.push(data);
  }
  console.log(`produced ${sent.length} messages`);

  const received = [];
  // Long poll (waitMs) and stop once caught up.
  for await (const message of broker.consumer(topic, workerId, { waitMs: 500, stopWhenIdle: true })) {
    if (message.message_id !== received.length) throw new Error(`expected message ${received.length}, got ${message.message_id}`);
    if (message.data !== sent[received.length]) throw new Error(`message ${message.message_id}: ${JSON.stringify(message.data)} != ${JSON.stringify(sent[received.length])}`);
    received.push(message.data);
  }
  if (received.length !== count) throw new Error(`consumed ${received.length} of ${count} messages`);
  const cursor = await broker.cursor(topic, workerId);
  if (cursor.offset !== count || cursor.lag !== 0) throw new Error(`cursor after consuming: ${JSON.stringify(cursor)}, expected offset ${count} lag 0`);
  console.log(`consumed ${received.length} messages`);
  console.log(`RESULT ${JSON.stringify({ topic, workerId, produced: sent.length, consumed: received.length, cursor, ms: Date.now() - started })}`);
  clearTimeout(deadline);
} catch (e) {
  fail(e);
}
