// Consumers in the seed's loop: poll the next message, ack it, repeat; each connection is its own
// consumer reading the topic from the start. Durable acks (FSYNC=always).
import { getJson } from '../lib/http.mjs';
import { prefill } from '../lib/load.mjs';
import { VALUE_BYTES } from '../lib/payloads.mjs';

export const usesBaselines = true;

const TOPIC = 'bench-consume';
const CONNECTIONS = [1, 16];
// More than any one consumer gets through in a run, so nobody reaches the end (a 404 would count as failed).
const STORED = 200_000;

/** Poll, then ack the polled id; when the poll fails, autocannon restarts the sequence at the poll. */
function pollAckSequence(serial) {
  const consumer = `bench-${serial}`;
  return [
    {
      method: 'GET',
      path: `/topics/${TOPIC}/messages?consumer_id=${consumer}`,
      onResponse(status, body, context) {
        context.id = status === 200 ? JSON.parse(body).message_id : undefined;
      },
    },
    {
      method: 'POST',
      setupRequest: (req, context) =>
        context.id === undefined ? null : { ...req, path: `/topics/${TOPIC}/messages/${context.id}/ack?consumer_id=${consumer}` },
    },
  ];
}

export async function run(ctx) {
  const rows = [];
  const broker = await ctx.startBroker('poll-ack', { FSYNC: 'always' });
  try {
    await prefill(broker, TOPIC, STORED);
    for (const connections of CONNECTIONS) {
      const workload = {
        perConnection: pollAckSequence,
        connections,
        // Two requests deliver one message.
        messagesPerRequest: 0.5,
        valueBytes: VALUE_BYTES,
        baselineMessages: false,
      };
      rows.push(...(await ctx.compare('poll+ack fsync=always', broker, workload)));
    }
    const sample = await getJson(`${broker.url}/topics/${TOPIC}/consumers`);
    console.error(`    (${sample.consumers.length} consumers committed)`);
  } finally {
    await ctx.discard(broker);
  }
  return { rows };
}
