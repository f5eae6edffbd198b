// Produce → consume latency through long polling: consumers hold `wait_ms` polls open while a producer
// sends one message at a time (FSYNC=always); latency = time the consumer got it − time the produce was sent.
import { performance } from 'node:perf_hooks';
import { call, getJson, postJson } from '../lib/http.mjs';
import { markdownTable } from '../lib/report.mjs';

export const usesBaselines = false;

const TOPIC = 'bench-long-poll';
const CONSUMERS = 4;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function run(ctx) {
  const broker = await ctx.startBroker('long-poll', { FSYNC: 'always' });
  const messages = Math.max(50, Math.round(ctx.settings.seconds * 40));
  const sentAt = new Map();
  const latencies = [];
  try {
    await postJson(`${broker.url}/topics/${TOPIC}/create`);
    let stop = false;
    // Each consumer reads the whole topic with its own cursor, acking as it goes.
    const consumers = Array.from({ length: CONSUMERS }, async (_, c) => {
      const id = `lp-${c}`;
      let got = 0;
      while (!stop && got < messages) {
        const res = await call('GET', `${broker.url}/topics/${TOPIC}/messages?consumer_id=${id}&wait_ms=5000`).catch(() => null);
        const now = performance.now();
        if (!res || res.message_id === undefined) continue;
        latencies.push(now - sentAt.get(res.message_id));
        got++;
        await postJson(`${broker.url}/topics/${TOPIC}/messages/${res.message_id}/ack?consumer_id=${id}`);
      }
    });
    await new Promise((r) => setTimeout(r, 200)); // let every consumer start waiting
    for (let i = 0; i < messages; i++) {
      const t = performance.now();
      sentAt.set(i, t);
      await postJson(`${broker.url}/topics/${TOPIC}/messages?message=m${i}`);
      await new Promise((r) => setTimeout(r, 20)); // consumers are idle and waiting when the next one comes
    }
    await Promise.race([Promise.all(consumers), new Promise((r) => setTimeout(r, 10_000))]);
    stop = true;
    const view = await getJson(`${broker.url}/topics/${TOPIC}`);
    latencies.sort((a, b) => a - b);
    const body = markdownTable(
      ['consumers', 'messages', 'deliveries', 'p50 ms', 'p99 ms', 'max ms'],
      [[CONSUMERS, view.message_count, latencies.length, percentile(latencies, 50).toFixed(2), percentile(latencies, 99).toFixed(2), latencies[latencies.length - 1].toFixed(2)]],
    );
    return {
      sections: [
        {
          title: 'Long polling: produce → consume latency',
          body: `Consumers wait in \`GET …/messages?wait_ms=5000\`; one producer sends a message every 20 ms (FSYNC=always). Latency runs from sending the produce to the consumer receiving the message, so it includes the produce's fsync.\n\n${body}`,
        },
      ],
    };
  } finally {
    await ctx.discard(broker);
  }
}
