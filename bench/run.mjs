// `npm run bench`: runs the built broker and two baselines (bare node:http, a no-op Nest route) side by
// side under the selected scenarios, prints the tables and writes them to bench/results/latest.md.
// Settings: BENCH_SECONDS (5 per target and configuration), BENCH_SLICES (5), BENCH_WARMUP_SECONDS (1),
// BENCH_ONLY=produce,batch,batch-limit,poll-ack,fetch,log-size,restart,partitions,soak,driver,replicas, BENCH_FULL=1 (10M messages, ≥1 GB log),
// BENCH_CPU_PROF=<dir> (profile every broker the load scenarios start).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from './lib/context.mjs';
import { describeRun } from './lib/environment.mjs';
import { comparisonTable } from './lib/report.mjs';
import { ROOT, requireBuiltBroker, startBaselines } from './lib/servers.mjs';
import { readSettings } from './lib/settings.mjs';
import * as batch from './scenarios/batch.mjs';
import * as batchLimit from './scenarios/batch-limit.mjs';
import * as driver from './scenarios/driver.mjs';
import * as fetchScenario from './scenarios/fetch.mjs';
import * as logSize from './scenarios/log-size.mjs';
import * as longPoll from './scenarios/long-poll.mjs';
import * as pollAck from './scenarios/poll-ack.mjs';
import * as partitions from './scenarios/partitions.mjs';
import * as produce from './scenarios/produce.mjs';
import * as replicas from './scenarios/replicas.mjs';
import * as restart from './scenarios/restart.mjs';
import * as soak from './scenarios/soak.mjs';

const SCENARIOS = { produce, batch, 'batch-limit': batchLimit, 'poll-ack': pollAck, fetch: fetchScenario, 'long-poll': longPoll, 'log-size': logSize, restart, partitions, soak, driver, replicas };

const LEGEND = [
  'req/s counts 2xx answers only. msg/s: messages produced or delivered per second (poll+ack: one message per',
  'two requests; fetch: 1000 per request); for the baselines only where they receive the same messages.',
  'MB/s: message value bytes (msg/s × 100 B), not HTTP bytes. p50/p99: per-request latency. Peak RSS: max VmRSS',
  'of the server process sampled every 100 ms. × bare / × Nest: req/s of this row ÷ req/s of that baseline',
  'under the same load; the three targets are measured in interleaved slices (A,B,C,A,B,C,...). The load',
  'generator (autocannon, one thread) shares the machine with the server.',
].join('\n');

async function main() {
  const settings = readSettings();
  requireBuiltBroker();
  const workDir = mkdtempSync(join(tmpdir(), 'mk-bench-'));
  if (settings.cpuProfDir) mkdirSync(settings.cpuProfDir, { recursive: true });
  const started = Date.now();
  const needBaselines = settings.scenarios.some((name) => SCENARIOS[name].usesBaselines);
  const baselines = needBaselines ? await startBaselines(workDir) : null;
  const ctx = createContext(settings, workDir, baselines);
  const rows = [];
  const sections = [];
  try {
    for (const name of settings.scenarios) {
      console.error(`▶ ${name}`);
      const out = await SCENARIOS[name].run(ctx);
      rows.push(...(out.rows ?? []));
      sections.push(...(out.sections ?? []));
    }
  } finally {
    await Promise.all([baselines?.bare.stop(), baselines?.nest.stop()]);
    rmSync(workDir, { recursive: true, force: true });
  }

  const parts = [`# mini-kafka benchmark\n\n${describeRun(settings, Date.now() - started)}`];
  if (rows.length) parts.push(`## Broker vs baselines\n\n${LEGEND}\n\n${comparisonTable(rows)}`);
  for (const { title, body } of sections) parts.push(`## ${title}\n\n${body}`);
  const markdown = `${parts.join('\n\n')}\n`;
  console.log(`\n${markdown}`);
  const out = join(ROOT, 'bench', 'results', 'latest.md');
  writeFileSync(out, markdown);
  console.error(`written to ${out}`);
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
