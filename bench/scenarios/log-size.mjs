// Does cost grow with the log? One broker per log size (10k and 1M stored messages; 10M with
// BENCH_FULL=1), all running, measured in interleaved slices so each figure can be set against 10k's.
import { describeTopic, putJson } from '../lib/http.mjs';
import { measure, prefill } from '../lib/load.mjs';
import { PRODUCE_BODY, VALUE_BYTES } from '../lib/payloads.mjs';
import { count, markdownTable, ms, progressLine, ratio, rssMb } from '../lib/report.mjs';

export const usesBaselines = false;

const TOPIC = 'bench-size';
const PRODUCE_CONNECTIONS = 64;
// Fewer consumers than the 10 batches of the smallest log: each then polls inside a batch of its own at
// every size (a poll reads its whole batch, so sharing one would make small logs look cheaper).
const POLL_CONSUMERS = 8;

const PRODUCE = {
  path: `/topics/${TOPIC}/messages`,
  method: 'POST',
  body: PRODUCE_BODY,
  connections: PRODUCE_CONNECTIONS,
  messagesPerRequest: 1,
  valueBytes: VALUE_BYTES,
};

const consumerId = (i) => `size-${i}`;

/** Each connection polls as one of the parked consumers (the same ids exist on every broker). */
const POLL = {
  perConnection: (serial) => [{ method: 'GET', path: `/topics/${TOPIC}/messages?consumer_id=${consumerId(serial % POLL_CONSUMERS)}` }],
  connections: POLL_CONSUMERS,
  messagesPerRequest: 1,
  valueBytes: VALUE_BYTES,
};

/**
 * Consumers parked at offsets spread over the prefilled log. Polling without ack re-reads the same
 * message; with the consumers interleaved each poll is a real index lookup and positioned read.
 */
async function parkConsumers(broker, stored) {
  for (let i = 0; i < POLL_CONSUMERS; i++) {
    const offset = Math.floor(((i + 0.5) * stored) / POLL_CONSUMERS);
    await putJson(`${broker.url}/topics/${TOPIC}/consumers/${consumerId(i)}`, { offset });
  }
}

async function fillBrokers(ctx, sizes) {
  const brokers = [];
  for (const size of sizes) {
    const broker = await ctx.startBroker(`log-size-${size}`, { FSYNC: 'always' });
    brokers.push(broker);
    broker.name = `${count(size)} stored`;
    const started = Date.now();
    await prefill(broker, TOPIC, size);
    console.error(`  prefilled ${count(size)} messages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return brokers;
}

export async function run(ctx) {
  const sizes = [10_000, 1_000_000, ...(ctx.settings.full ? [10_000_000] : [])];
  const brokers = await fillBrokers(ctx, sizes);
  let produce, poll, views;
  try {
    const targets = brokers.map((server) => ({ server }));
    // Poll first, while every log holds only its 1000-message batches.
    await Promise.all(brokers.map((b, i) => parkConsumers(b, sizes[i])));
    poll = await measure(targets, POLL, ctx.settings);
    poll.forEach((r) => console.error(progressLine('poll', r)));
    produce = await measure(targets, PRODUCE, ctx.settings);
    produce.forEach((r) => console.error(progressLine('produce', r)));
    views = await Promise.all(brokers.map((b) => describeTopic(b, TOPIC)));
  } finally {
    await Promise.all(brokers.map((b) => ctx.discard(b)));
  }

  const rows = views.map((view, i) => [
    count(view.message_count),
    count(view.size_bytes / 1e6),
    String(view.segment_count),
    count(produce[i].reqPerSec),
    ms(produce[i].p50),
    ms(produce[i].p99),
    ratio(produce[i].reqPerSec / produce[0].reqPerSec),
    count(poll[i].reqPerSec),
    ms(poll[i].p50),
    ms(poll[i].p99),
    ratio(poll[i].reqPerSec / poll[0].reqPerSec),
    rssMb(Math.max(produce[i].rssPeak, poll[i].rssPeak)),
    count(produce[i].failed + poll[i].failed),
  ]);
  const table = markdownTable(
    ['stored msgs', 'log MB', 'segments', 'produce req/s', 'p50 ms', 'p99 ms', 'req/s × 10k', 'poll req/s', 'p50 ms', 'p99 ms', 'req/s × 10k', 'peak RSS MB', 'failed'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const note =
    `One broker per size, measured in interleaved slices. Produce: ${PRODUCE_CONNECTIONS} connections, single 100-byte ` +
    `messages, FSYNC=always. Poll: ${POLL_CONSUMERS} consumers parked at offsets spread over the log, polling ` +
    'without ack, before the produce runs. Stored count and size are taken after the produce runs.';
  return { sections: [{ title: 'Cost vs log size', body: `${note}\n\n${table}` }] };
}
