// Two broker replicas (A and B) over one local 3-node JetStream cluster, as behind a load balancer:
// - wake-up: consumers long-poll through A while a producer writes one message at a time through B (and, for
//   comparison, through A itself); latency = consumer got it − produce sent;
// - visibility: batches produced through B, each fetched through A the moment B answered: how much of it A
//   returned (read-after-write across replicas: all of it, every time).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, postJson } from '../lib/http.mjs';
import { natsServerAvailable, startNatsCluster } from '../lib/nats-cluster.mjs';
import { markdownTable } from '../lib/report.mjs';
import { startBroker } from '../lib/servers.mjs';

export const usesBaselines = false;

const CONSUMERS = 4;
const BATCH = 100;
/** Between two produces: long enough for every consumer to be back in a fresh wait, as with a quiet topic. */
const IDLE_MS = 150;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Consumers long-polling `reader` while one producer writes through `writer`; latencies in ms. */
async function wakeLatencies(reader, writer, topic, messages) {
  await postJson(`${writer.url}/topics/${topic}/create`);
  await call('GET', `${reader.url}/topics/${topic}`);
  const sentAt = new Map();
  const latencies = [];
  let stop = false;
  const consumers = Array.from({ length: CONSUMERS }, async (_, c) => {
    const id = `lp-${c}`;
    for (let got = 0; !stop && got < messages; ) {
      const res = await call('GET', `${reader.url}/topics/${topic}/messages?consumer_id=${id}&wait_ms=5000`).catch(() => null);
      const now = performance.now();
      if (!res || res.message_id === undefined) continue;
      latencies.push(now - sentAt.get(res.message_id));
      got++;
      await postJson(`${reader.url}/topics/${topic}/messages/${res.message_id}/ack?consumer_id=${id}`);
    }
  });
  await new Promise((r) => setTimeout(r, 300)); // every consumer waiting
  for (let i = 0; i < messages; i++) {
    sentAt.set(i, performance.now());
    await postJson(`${writer.url}/topics/${topic}/messages?message=m${i}`);
    await new Promise((r) => setTimeout(r, IDLE_MS)); // consumers are idle, their waits registered, when the next one comes
  }
  await Promise.race([Promise.all(consumers), new Promise((r) => setTimeout(r, 10_000))]);
  stop = true;
  return latencies.sort((a, b) => a - b);
}

/** Batches through B, each fetched through A at once: messages A returned of those B answered. */
async function visibility(a, b, rounds) {
  const topic = 'bench-replicas-visible';
  await postJson(`${b.url}/topics/${topic}/create`);
  await call('GET', `${a.url}/topics/${topic}`);
  let answered = 0;
  let seen = 0;
  let whole = 0;
  const fetchMs = [];
  for (let r = 0; r < rounds; r++) {
    const messages = Array.from({ length: BATCH }, (_, i) => ({ message: `r${r}-${i}` }));
    const res = await postJson(`${b.url}/topics/${topic}/messages/batch`, { messages });
    const t = performance.now();
    // From the previous batch on: a read that starts inside what A already knew and must run past it.
    const from = Math.max(0, res.base_offset - BATCH);
    const page = await call('GET', `${a.url}/topics/${topic}/partitions/0/messages?from_offset=${from}&max=1000`);
    fetchMs.push(performance.now() - t);
    const got = page.messages.filter((m) => m.message_id >= res.base_offset).length;
    answered += BATCH;
    seen += got;
    if (got === BATCH && page.end_offset === res.message_ids.at(-1) + 1) whole++;
  }
  return { rounds, answered, seen, whole, fetchMs: fetchMs.sort((x, y) => x - y) };
}

export async function run(ctx) {
  if (!(await natsServerAvailable())) {
    console.error('  nats-server is not installed: replicas scenario skipped (apt-get install nats-server)');
    return { sections: [{ title: 'Two broker replicas over JetStream', body: 'Skipped: nats-server is not installed.' }] };
  }
  const cluster = await startNatsCluster(ctx.workDir, 3);
  const brokers = [];
  try {
    const start = async (name) => {
      const dataDir = mkdtempSync(join(ctx.workDir, `${name}-`));
      const broker = await startBroker({ name, dataDir, env: { STORAGE: 'jetstream', NATS_URLS: cluster.urls }, logPath: join(ctx.workDir, `${name}.log`), cpuProfDir: ctx.settings.cpuProfDir });
      broker.dataDir = dataDir;
      brokers.push(broker);
      return broker;
    };
    const a = await start('replica-a');
    const b = await start('replica-b');
    const messages = Math.max(60, Math.round(ctx.settings.seconds * 20));
    const same = await wakeLatencies(a, a, 'bench-replicas-same', messages);
    const across = await wakeLatencies(a, b, 'bench-replicas-across', messages);
    const rows = [
      ['same replica (produce and poll through A)', same],
      ['across replicas (produce through B, poll through A)', across],
    ].map(([label, l]) => {
      console.error(`  wake-up ${label}: p50 ${percentile(l, 50).toFixed(1)} ms, p99 ${percentile(l, 99).toFixed(1)} ms (${l.length} deliveries)`);
      return [label, String(l.length), percentile(l, 50).toFixed(1), percentile(l, 99).toFixed(1), l[l.length - 1].toFixed(1)];
    });
    const v = await visibility(a, b, Math.max(50, Math.round(ctx.settings.seconds * 20)));
    console.error(`  visibility: ${v.seen}/${v.answered} messages, ${v.whole}/${v.rounds} batches whole with their end_offset`);
    const wake = markdownTable(['long poll', 'deliveries', 'p50 ms', 'p99 ms', 'max ms'], rows);
    const visible = markdownTable(
      ['batches (×100) through B', 'messages answered', 'returned by A at once', 'batches whole, exact end_offset', 'fetch p50 ms', 'fetch p99 ms'],
      [[String(v.rounds), String(v.answered), String(v.seen), `${v.whole}/${v.rounds}`, percentile(v.fetchMs, 50).toFixed(1), percentile(v.fetchMs, 99).toFixed(1)]],
    );
    return {
      sections: [
        {
          title: 'Two broker replicas over JetStream',
          body:
            `Two brokers over one local 3-node cluster (R3). ${CONSUMERS} consumers long-poll through A (\`wait_ms=5000\`) while one producer ` +
            `sends a message every ${IDLE_MS} ms or so, through A or through B; latency runs from sending the produce to the consumer receiving it ` +
            '(the produce itself included).\n\n' +
            wake +
            '\n\nEach batch produced through B is fetched through A as soon as B answered, from the previous batch on (200 messages):\n\n' +
            visible,
        },
      ],
    };
  } finally {
    for (const broker of brokers) {
      await broker.stop();
      rmSync(broker.dataDir, { recursive: true, force: true });
    }
    await cluster.stop();
  }
}
