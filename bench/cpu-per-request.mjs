// CPU time per single-message produce: the servers' own user+system CPU (from /proc/<pid>/stat) divided by the
// requests they answered, for the broker (and optionally a second build of it) and the Nest no-op, in interleaved
// rounds. On a shared machine req/s moves with the neighbours' load; the CPU a server spends per request moves
// far less, so this is the figure to compare the route's own cost with.
// Usage: npm run build && node bench/cpu-per-request.mjs [--connections=64] [--requests=20000] [--rounds=3]
//        [--fsync=never] [--before=.bench-before/dist/main.js]
import autocannon from 'autocannon';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JSON_HEADERS, PRODUCE_BODY } from './lib/payloads.mjs';
import { BROKER_MAIN, NEST_BASELINE, spawnServer, waitForStatus } from './lib/servers.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const connections = Number(args.connections ?? 64);
const requests = Number(args.requests ?? 20_000);
const rounds = Number(args.rounds ?? 3);
const fsync = args.fsync ?? 'never';
const TICK_US = 1e6 / 100; // USER_HZ: /proc reports CPU time in 1/100 s on Linux

function cpuUs(pid) {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * TICK_US;
}

function fire(url, amount) {
  return new Promise((res, rej) =>
    autocannon({ url, method: 'POST', body: PRODUCE_BODY, headers: JSON_HEADERS, connections, amount, timeout: 30 }, (e, r) => (e ? rej(e) : res(r))),
  );
}

async function startTarget(name, script, work, env = {}) {
  const server = await spawnServer(name, script, { env, logPath: join(work, `${name.replace(/\W+/g, '-')}.log`) });
  await waitForStatus(`${server.url}/topics/cpu/messages`, null, { child: server.child });
  return server;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'mk-cpu-'));
  const targets = [{ name: 'broker', script: BROKER_MAIN }];
  if (args.before) targets.push({ name: 'broker (before)', script: resolve(args.before) });
  targets.push({ name: 'Nest no-op', script: NEST_BASELINE });
  try {
    for (const t of targets) {
      const env = t.script === NEST_BASELINE ? {} : { DATA_DIR: mkdtempSync(join(work, 'data-')), FSYNC: fsync };
      t.server = await startTarget(t.name, t.script, work, env);
      t.samples = [];
      t.rates = [];
      await fire(`${t.server.url}/topics/cpu/messages`, Math.min(5000, requests)); // JIT warm-up
    }
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) {
        const before = cpuUs(t.server.pid);
        const r = await fire(`${t.server.url}/topics/cpu/messages`, requests);
        const used = cpuUs(t.server.pid) - before;
        t.samples.push(used / (r['2xx'] || 1));
        t.rates.push(r.requests.average);
        if (r.non2xx || r.errors) console.error(`  ! ${t.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        console.error(`  round ${round + 1} · ${t.name}: ${(used / r['2xx']).toFixed(0)} µs CPU/request, ${r.requests.average.toFixed(0)} req/s`);
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.server?.stop()));
    rmSync(work, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const nest = median(targets.at(-1).samples);
  console.log(`\nCPU per single-message produce, ${connections} connections, FSYNC=${fsync} (broker), ${requests} requests × ${rounds} rounds, median round:`);
  console.log('| target | CPU µs / request (median) | rounds | Nest CPU ÷ this CPU |\n|---|---:|---|---:|');
  for (const t of targets) {
    const m = median(t.samples);
    console.log(`| ${t.name} | ${m.toFixed(0)} | ${t.samples.map((x) => x.toFixed(0)).join(', ')} | ${(nest / m).toFixed(2)}× |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
