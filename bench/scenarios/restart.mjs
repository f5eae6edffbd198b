// Restart time: from spawning the broker to its first 200 on GET /topics — on an empty data dir (its
// fixed start cost), after a clean stop and after kill -9 during produce with ~200 MB of log (≥1 GB with
// BENCH_FULL=1) — next to the Nest no-op baseline's start. Warm page cache: the log was just written.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describeTopic } from '../lib/http.mjs';
import { background, prefill } from '../lib/load.mjs';
import { PRODUCE_BODY } from '../lib/payloads.mjs';
import { count, markdownTable, rssMb } from '../lib/report.mjs';
import { BROKER_MAIN, NEST_BASELINE, spawnServer, waitForStatus } from '../lib/servers.mjs';

export const usesBaselines = false;

const TOPIC = 'bench-restart';
const REPEATS = 5;
const MiB = 2 ** 20;

/** Spawn → first 200 on GET /topics, in ms; the broker is left running. */
async function timedStart(ctx, dataDir, label) {
  const t0 = performance.now();
  const broker = await spawnServer(label, BROKER_MAIN, { env: { DATA_DIR: dataDir }, logPath: join(ctx.workDir, `${label}.log`) });
  await waitForStatus(`${broker.url}/topics`, 200, { child: broker.child, intervalMs: 2 });
  const ms = performance.now() - t0;
  broker.dataDir = dataDir;
  return { broker, ms, rss: broker.rssBytes() };
}

/** The same for the Nest no-op baseline (any answer): what Node + Nest + Express cost before any broker work. */
async function timedNestStart(ctx) {
  const t0 = performance.now();
  const server = await spawnServer('nest-start', NEST_BASELINE, { logPath: join(ctx.workDir, 'nest-start.log') });
  await waitForStatus(`${server.url}/`, null, { child: server.child, intervalMs: 2 });
  const ms = performance.now() - t0;
  const rss = server.rssBytes();
  await server.stop();
  return { ms, rss };
}

/** Kills the broker with SIGKILL half a second into a 64-connection produce load, leaving a crash tail. */
async function killUnderLoad(broker) {
  const load = background(broker, { path: `/topics/${TOPIC}/messages`, method: 'POST', body: PRODUCE_BODY, connections: 64 }, 1);
  await new Promise((r) => setTimeout(r, 500));
  await broker.stop('SIGKILL');
  await load;
}

async function fillLog(ctx, targetBytes) {
  // FSYNC=never only to fill faster: the restarts below use the default settings.
  const filler = await ctx.startBroker('restart-fill', { FSYNC: 'never' });
  const started = Date.now();
  const sample = await prefill(filler, TOPIC, 10_000);
  const bytesPerMessage = sample.size_bytes / sample.message_count;
  const view = await prefill(filler, TOPIC, Math.ceil(targetBytes / bytesPerMessage));
  console.error(`  filled ${count(view.size_bytes / MiB)} MiB (${count(view.message_count)} messages) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await filler.stop();
  return filler.dataDir;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function run(ctx) {
  const targetBytes = ctx.settings.full ? 1024 * MiB : 200 * MiB;
  const emptyDir = mkdtempSync(join(ctx.workDir, 'restart-empty-'));
  const dataDir = await fillLog(ctx, targetBytes);
  const cases = {
    nest: { name: 'Nest no-op baseline (reference)', runs: [], view: null },
    empty: { name: 'empty data dir', runs: [], view: { size_bytes: 0, message_count: 0, segment_count: 0 } },
    clean: { name: 'after clean stop (SIGTERM)', runs: [], view: null },
    crash: { name: 'after kill -9 under produce load', runs: [], view: null },
  };

  // Interleaved, like the load runs: a busy moment on the machine hits all three kinds alike.
  let broker = (await timedStart(ctx, dataDir, 'restart')).broker;
  for (let i = 0; i < REPEATS; i++) {
    cases.nest.runs.push(await timedNestStart(ctx));
    const empty = await timedStart(ctx, emptyDir, 'restart-empty');
    cases.empty.runs.push(empty);
    await empty.broker.stop();

    await broker.stop();
    const clean = await timedStart(ctx, dataDir, 'restart');
    cases.clean.view = await describeTopic(clean.broker, TOPIC);
    cases.clean.runs.push(clean);

    await killUnderLoad(clean.broker);
    const crash = await timedStart(ctx, dataDir, 'restart');
    cases.crash.view = await describeTopic(crash.broker, TOPIC);
    cases.crash.runs.push(crash);
    broker = crash.broker;
  }
  await ctx.discard(broker);
  for (const c of Object.values(cases)) console.error(`  ${c.name}: ${c.runs.map((r) => r.ms.toFixed(0)).join(', ')} ms`);

  const baseline = median(cases.empty.runs.map((r) => r.ms));
  const rows = Object.values(cases).map(({ name, runs, view: v }) => [
    name,
    v ? count(v.size_bytes / MiB) : '—',
    v ? count(v.message_count) : '—',
    v ? String(v.segment_count) : '—',
    median(runs.map((r) => r.ms)).toFixed(0),
    Math.max(...runs.map((r) => r.ms)).toFixed(0),
    `${(median(runs.map((r) => r.ms)) - baseline).toFixed(0)}`,
    rssMb(Math.max(...runs.map((r) => r.rss ?? 0))),
  ]);
  const table = markdownTable(
    ['start', 'log MiB', 'messages', 'segments', `median ms (of ${REPEATS})`, 'max ms', 'ms over empty', 'RSS at ready MB'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const note =
    'Time from spawn to the first 200 on GET /topics (includes starting Node and Nest; the reference row is the ' +
    'Nest no-op baseline to its first answer). Each kind repeated and interleaved; page cache warm.';
  return { sections: [{ title: 'Restart time', body: `${note}\n\n${table}` }] };
}
