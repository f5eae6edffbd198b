// Many topics and partitions (issue 19): topic create latency with 20 clients, the time to ready (/readyz
// 200) after a clean stop and after kill -9 next to an empty data directory's start on the same machine,
// and GET /topics at 10,000 topics (whole, a page, a prefix). 2,500 topics × 4 partitions (10,000
// partitions, a message in each) for the restarts by default (BENCH_TOPICS, BENCH_PARTITIONS change it),
// then 1-partition topics up to BENCH_LIST_TOPICS (10,000) for the list.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { count, markdownTable } from '../lib/report.mjs';
import { BROKER_MAIN, spawnServer, waitForStatus } from '../lib/servers.mjs';

export const usesBaselines = false;

const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 4);
const LIST_TOPICS = Number(process.env.BENCH_LIST_TOPICS ?? 10_000);
const CLIENTS = 20;
const REPEATS = Number(process.env.BENCH_RESTARTS ?? 5);

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const median = (values) => percentile(values, 50);

/** Spawn → /readyz 200, in ms (what a load balancer or `docker compose` waits for); the broker is left running. */
async function timedReady(ctx, dataDir, label, env = {}) {
  const t0 = performance.now();
  const broker = await spawnServer(label, BROKER_MAIN, { env: { ...env, DATA_DIR: dataDir }, logPath: join(ctx.workDir, `${label}.log`) });
  await waitForStatus(`${broker.url}/readyz`, 200, { child: broker.child, intervalMs: 2 });
  return { broker, ms: performance.now() - t0, openMs: storageOpenMs(broker.logPath) };
}

/** The broker's own figure for opening storage (its "Opened ... in X ms" log line): the part that grows with partitions. */
function storageOpenMs(logPath) {
  const lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => l.includes('Opened '));
  const m = /in ([\d.]+) ms/.exec(lines.at(-1) ?? '');
  return m ? Number(m[1]) : NaN;
}

/** Runs `task(i)` for i in [0, n) on `clients` concurrent workers; returns each call's latency in ms. */
async function concurrently(n, clients, task) {
  const latencies = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < n; i = next++) {
        const t0 = performance.now();
        await task(i);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  return latencies;
}

async function send(method, url, body) {
  const res = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text.slice(0, 200)}`);
  return text;
}

/** GET `path` `times` times; median ms and the answer's size. */
async function timedGet(broker, path, times) {
  const ms = [];
  let bytes = 0;
  let topics = 0;
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const text = await send('GET', `${broker.url}${path}`);
    ms.push(performance.now() - t0);
    bytes = Buffer.byteLength(text);
    topics = JSON.parse(text).topics.length;
  }
  return { path, ms: median(ms), bytes, topics };
}

const topicName = (i) => `bench.t${String(i).padStart(5, '0')}`;
const extraName = (i) => `bench.u${String(i).padStart(5, '0')}`;

export async function run(ctx) {
  const topicCount = Number(process.env.BENCH_TOPICS ?? 2500);
  const emptyDir = mkdtempSync(join(ctx.workDir, 'parts-empty-'));
  const dataDir = mkdtempSync(join(ctx.workDir, 'parts-'));

  // Creates, with the default settings (FSYNC=always): 20 clients, each topic 4 partitions.
  let { broker } = await timedReady(ctx, dataDir, 'parts');
  const t0 = performance.now();
  const createMs = await concurrently(topicCount, CLIENTS, (i) => send('POST', `${broker.url}/topics`, { name: topicName(i), partitions: PARTITIONS }));
  const createWall = performance.now() - t0;
  console.error(`  created ${count(topicCount)} topics × ${PARTITIONS} in ${(createWall / 1000).toFixed(1)} s (p50 ${median(createMs).toFixed(1)} ms)`);
  await broker.stop();
  // One message in every partition, so each restart has a tail to check everywhere. FSYNC=never only for this
  // fill: under FSYNC=always each written partition's active segment is zero-filled 4 MiB ahead (40 GB here).
  ({ broker } = await timedReady(ctx, dataDir, 'parts-fill', { FSYNC: 'never' }));
  const p0 = performance.now();
  await concurrently(topicCount * PARTITIONS, CLIENTS, (i) =>
    send('POST', `${broker.url}/topics/${topicName(Math.floor(i / PARTITIONS))}/messages`, { message: `m${i}`, partition: i % PARTITIONS }),
  );
  console.error(`  one message in each of ${count(topicCount * PARTITIONS)} partitions in ${((performance.now() - p0) / 1000).toFixed(1)} s`);

  // Restarts, interleaved with empty-directory starts so a busy moment on the shared machine hits all alike.
  const empty = [];
  const clean = [];
  const crash = [];
  for (let r = 0; r < REPEATS; r++) {
    const e = await timedReady(ctx, emptyDir, 'parts-empty');
    empty.push(e);
    await e.broker.stop();

    await broker.stop('SIGTERM');
    const c = await timedReady(ctx, dataDir, 'parts');
    clean.push(c);
    // Served correctly right away: a partition opened on first use answers its message.
    const first = JSON.parse(await send('GET', `${c.broker.url}/topics/${topicName(r)}/partitions/${r % PARTITIONS}/messages?from_offset=0`));
    if (first.messages.length !== 1) throw new Error(`after a clean restart, ${topicName(r)}/${r % PARTITIONS} holds ${first.messages.length} messages`);

    await c.broker.stop('SIGKILL');
    const k = await timedReady(ctx, dataDir, 'parts');
    crash.push(k);
    const listed = JSON.parse(await send('GET', `${k.broker.url}/topics?limit=1`));
    if (!listed.next) throw new Error('after kill -9, the topic list lost its topics');
    broker = k.broker;
  }
  // The list at LIST_TOPICS topics: 1-partition topics added to those above.
  const extra = Math.max(0, LIST_TOPICS - topicCount);
  const extraMs = await concurrently(extra, CLIENTS, (i) => send('POST', `${broker.url}/topics`, { name: extraName(i), partitions: 1 }));
  const lists = [
    await timedGet(broker, '/topics', 5),
    await timedGet(broker, '/topics?limit=100', 20),
    await timedGet(broker, `/topics?limit=100&after=${topicName(Math.floor(topicCount / 2))}`, 20),
    await timedGet(broker, `/topics?prefix=${topicName(1)}`, 20),
  ];
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
  const fmt = (runs) => runs.map((r) => `${r.ms.toFixed(0)} (open ${r.openMs.toFixed(0)})`).join(', ');
  console.error(`  ready ms — empty: ${fmt(empty)}; clean: ${fmt(clean)}; kill -9: ${fmt(crash)}`);

  const base = median(empty.map((r) => r.ms));
  const row = (name, runs, target) => {
    const ms = runs.map((r) => r.ms);
    return [name, median(ms).toFixed(0), Math.min(...ms).toFixed(0), Math.max(...ms).toFixed(0), (median(ms) - base).toFixed(0), (median(ms) / base).toFixed(2), median(runs.map((r) => r.openMs)).toFixed(1), target];
  };
  const startTable = markdownTable(
    ['start', `median ms (of ${REPEATS})`, 'min ms', 'max ms', 'ms over empty', '× empty', 'storage open ms (broker log)', 'target'],
    [
      row('empty data dir', empty, ''),
      row(`after clean stop (SIGTERM), ${count(topicCount * PARTITIONS)} partitions`, clean, '≤ 1000 ms over empty'),
      row(`after kill -9, ${count(topicCount * PARTITIONS)} partitions`, crash, '≤ 2000 ms over empty'),
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const createTable = markdownTable(
    ['what', 'p50 ms', 'p99 ms', 'max ms', 'wall s'],
    [
      [`POST /topics (${PARTITIONS} partitions), ${CLIENTS} clients, ${count(topicCount)} topics`, median(createMs).toFixed(1), percentile(createMs, 99).toFixed(1), Math.max(...createMs).toFixed(1), (createWall / 1000).toFixed(1)],
      ...(extra > 0 ? [[`POST /topics (1 partition), ${CLIENTS} clients, ${count(extra)} more topics`, median(extraMs).toFixed(1), percentile(extraMs, 99).toFixed(1), Math.max(...extraMs).toFixed(1), '']] : []),
    ],
    ['l', 'r', 'r', 'r', 'r'],
  );
  const listTable = markdownTable(
    [`GET (${count(topicCount + extra)} topics)`, 'topics answered', 'median ms', 'answer KiB'],
    lists.map((l) => [l.path, count(l.topics), l.ms.toFixed(1), count(l.bytes / 1024)]),
    ['l', 'r', 'r', 'r'],
  );
  const note =
    `${count(topicCount)} topics × ${PARTITIONS} partitions created with the default settings (FSYNC=always), then one ` +
    'message in each partition (written under FSYNC=never, see the scenario). Ready = spawn → first 200 on ' +
    '/readyz (includes starting Node and Nest). After a clean stop the broker reads the clean-shutdown marker and opens ' +
    'partitions on first use; after kill -9 it recovers every partition tail before it answers.';
  return { sections: [{ title: 'Many topics and partitions', body: `${note}\n\n${startTable}\n\n${createTable}\n\n${listTable}` }] };
}
