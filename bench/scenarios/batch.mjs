// Batch produce: 1, 10, 100 and 1000 messages of 100 bytes per request, durable (FSYNC=always), JSON bodies,
// against the bare node:http and Nest no-op baselines. batch-limit.mjs compares ×1000 with a server doing the work.
import { batchBody, JSON_HEADERS, ndjsonBatchBody, NDJSON_HEADERS, VALUE_BYTES } from '../lib/payloads.mjs';

export const usesBaselines = true;

const BATCH_SIZES = [1, 10, 100, 1000];
// Enough concurrent batches for group commit to matter, few enough that autocannon is not the limit.
const CONNECTIONS = 16;
const PATH = '/topics/bench-batch/messages/batch';

export function batchWorkload(size, ndjson = false) {
  return {
    path: PATH,
    method: 'POST',
    body: ndjson ? ndjsonBatchBody(size) : batchBody(size),
    headers: ndjson ? NDJSON_HEADERS : JSON_HEADERS,
    connections: CONNECTIONS,
    messagesPerRequest: size,
    valueBytes: VALUE_BYTES,
    // The baselines receive (and Nest validates, parse+fsync stores) the same messages.
    baselineMessages: true,
  };
}

export async function run(ctx) {
  const rows = [];
  const broker = await ctx.startBroker('batch', { FSYNC: 'always' });
  try {
    for (const size of BATCH_SIZES) rows.push(...(await ctx.compare(`batch ×${size} fsync=always`, broker, batchWorkload(size))));
  } finally {
    await ctx.discard(broker);
  }
  return { rows };
}
