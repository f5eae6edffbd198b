// Batch fetch: GET …/partitions/0/messages?max=1000 walking through a stored log; each connection starts
// at a different offset so reads are spread over the log rather than served from one cached chunk.
import { getJson } from '../lib/http.mjs';
import { prefill } from '../lib/load.mjs';
import { VALUE_BYTES } from '../lib/payloads.mjs';

export const usesBaselines = true;

const TOPIC = 'bench-fetch';
const MAX = 1000;
const MAX_BYTES = 1024 * 1024;
const CONNECTIONS = [1, 16];
const STORED = 200_000;

function fetchPath(offset) {
  return `/topics/${TOPIC}/partitions/0/messages?from_offset=${offset}&max=${MAX}&max_bytes=${MAX_BYTES}`;
}

/** One request repeated with an advancing offset; wraps before the log end so every fetch is full. */
function fetchSequence(serial) {
  const span = STORED - MAX;
  let next = ((serial * 7919) % (span / MAX)) * MAX;
  return [
    {
      method: 'GET',
      setupRequest(req) {
        const path = fetchPath(next);
        next = (next + MAX) % span;
        return { ...req, path };
      },
    },
  ];
}

export async function run(ctx) {
  const rows = [];
  const broker = await ctx.startBroker('fetch', { FSYNC: 'always' });
  try {
    await prefill(broker, TOPIC, STORED);
    // msg/s is req/s × MAX: check once that a fetch really returns MAX messages.
    const probe = await getJson(broker.url + fetchPath(STORED - 2 * MAX));
    if (probe.messages.length !== MAX) throw new Error(`fetch returned ${probe.messages.length} messages, expected ${MAX}`);
    for (const connections of CONNECTIONS) {
      const workload = {
        perConnection: fetchSequence,
        connections,
        messagesPerRequest: MAX,
        valueBytes: VALUE_BYTES,
        baselineMessages: false,
      };
      rows.push(...(await ctx.compare(`fetch max=${MAX}`, broker, workload)));
    }
  } finally {
    await ctx.discard(broker);
  }
  return { rows };
}
