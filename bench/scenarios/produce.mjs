// Single-message produce (100-byte value) at 1, 16 and 64 connections under each flush policy.
import { PRODUCE_BODY, VALUE_BYTES } from '../lib/payloads.mjs';

export const usesBaselines = true;

const CONNECTIONS = [1, 16, 64];
const FSYNC_MODES = ['always', 'interval', 'never'];

export async function run(ctx) {
  const rows = [];
  for (const fsync of FSYNC_MODES) {
    // A broker per policy: FSYNC is read at start.
    const broker = await ctx.startBroker(`produce-${fsync}`, { FSYNC: fsync });
    try {
      for (const connections of CONNECTIONS) {
        const workload = {
          path: '/topics/bench-produce/messages',
          method: 'POST',
          body: PRODUCE_BODY,
          connections,
          messagesPerRequest: 1,
          valueBytes: VALUE_BYTES,
          baselineMessages: true,
        };
        rows.push(...(await ctx.compare(`produce fsync=${fsync}`, broker, workload)));
      }
    } finally {
      await ctx.discard(broker);
    }
  }
  return { rows };
}
