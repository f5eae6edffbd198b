// Batch produce: 1, 10, 100 and 1000 messages of 100 bytes per request, durable (FSYNC=always).
import { batchBody, VALUE_BYTES } from '../lib/payloads.mjs';

export const usesBaselines = true;

const BATCH_SIZES = [1, 10, 100, 1000];
// Enough concurrent batches for group commit to matter, few enough that autocannon is not the limit.
const CONNECTIONS = 16;

export async function run(ctx) {
  const rows = [];
  const broker = await ctx.startBroker('batch', { FSYNC: 'always' });
  try {
    for (const size of BATCH_SIZES) {
      const workload = {
        path: '/topics/bench-batch/messages/batch',
        method: 'POST',
        body: batchBody(size),
        connections: CONNECTIONS,
        messagesPerRequest: size,
        valueBytes: VALUE_BYTES,
        // The baselines receive and (Nest) validate the same messages.
        baselineMessages: true,
      };
      rows.push(...(await ctx.compare(`batch ×${size} fsync=always`, broker, workload)));
    }
  } finally {
    await ctx.discard(broker);
  }
  return { rows };
}
