// Per-layer CPU cost of one route, in µs per request: runs the built broker (or the Nest no-op) under
// `node --cpu-prof`, sends a fixed number of requests, and charges every profile sample to the innermost
// layer on its stack (request logging, helmet, metrics, guards, pipes, codec, idempotency, storage, ...).
// Usage: npm run build && node bench/profile-layers.mjs [--target=broker|nest] [--requests=N] [--connections=C]
//        [--fsync=always|never] [--idempotency] [--keep=DIR]   (env passes through: LOG_LEVEL, AUTH_KEYS, ...)
// Or, for an existing profile: node bench/profile-layers.mjs --profile=FILE.cpuprofile --requests=N
import autocannon from 'autocannon';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRODUCE_BODY, JSON_HEADERS } from './lib/payloads.mjs';
import { NEST_BASELINE, requireBuiltBroker, spawnServer, startBroker, waitForStatus } from './lib/servers.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const requests = Number(args.requests ?? 40_000);
const connections = Number(args.connections ?? 64);

/**
 * Layers, innermost first wins: a sample is charged to the first layer (walking from the leaf towards the root)
 * whose rule matches a frame. Express middleware nest (each calls next()), so only "innermost" keeps helmet from
 * being charged with the whole request.
 */
const LAYERS = [
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['request logging (pino-http, pino, sonic-boom)', (f) => /node_modules\/(pino|pino-http|nestjs-pino|sonic-boom|pino-std-serializers|fast-redact|quick-format-unescaped|thread-stream|on-exit-leak-free)\//.test(f.url) || /(src|dist)\/common\/logging\//.test(f.url)],
  ['metrics (prom-client, request-metrics)', (f) => /node_modules\/prom-client\//.test(f.url) || /(src|dist)\/metrics\//.test(f.url)],
  ['helmet', (f) => /node_modules\/helmet\//.test(f.url)],
  ['auth guard', (f) => /(src|dist)\/auth\/auth\.guard/.test(f.url)],
  ['throttler', (f) => /node_modules\/@nestjs\/throttler\//.test(f.url) || /(src|dist)\/auth\/rate-limit/.test(f.url)],
  ['idempotency (fingerprint, window, marker)', (f) => /(src|dist)\/storage\/(idempotency-window|producer-marker)/.test(f.url) || (/(src|dist)\/storage\/broker/.test(f.url) && /produceOnce|appendOnce|idempotency/.test(f.functionName))],
  ['storage: record encode + CRC', (f) => /(src|dist)\/storage\/record-batch/.test(f.url)],
  ['storage: partition log + group commit', (f) => /(src|dist)\/storage\/(log|handle-cache|append-waiters|segment|offset-index)/.test(f.url)],
  ['storage: broker.produce', (f) => /(src|dist)\/storage\//.test(f.url)],
  ['codec + produce service', (f) => /(src|dist)\/messages\/(message-codec|messages\.service)/.test(f.url)],
  ['pipes (topic name, body)', (f) => /(src|dist)\/(common\/pipes|messages\/produce-body)/.test(f.url)],
  ['controller', (f) => /(src|dist)\/messages\/messages\.controller/.test(f.url)],
  ['other middleware (body limit, content type, drain, filter)', (f) => /(src|dist)\/common\//.test(f.url)],
  ['validation (class-validator/transformer, ValidationPipe)', (f) => /node_modules\/(class-validator|class-transformer)\//.test(f.url) || /validation\.pipe/.test(f.url)],
  ['body parsing (body-parser, raw-body)', (f) => /node_modules\/(body-parser|raw-body|iconv-lite|type-is|media-typer|content-type|bytes)\//.test(f.url)],
  ['Nest router + pipeline', (f) => /node_modules\/@nestjs\//.test(f.url)],
  ['Express routing + response', (f) => /node_modules\/(express|router|finalhandler|send|etag|fresh|on-finished|qs|parseurl|path-to-regexp|depd|accepts|negotiator|mime|vary|encodeurl|escape-html|cookie|proxy-addr|forwarded|ipaddr\.js|statuses|setprototypeof|http-errors|merge-descriptors|utils-merge|serve-static|range-parser|debug|ms)\//.test(f.url)],
  ['Node HTTP + net', (f) => /^node:/.test(f.url)],
  ['other JS', (f) => f.url !== ''],
  ['native (JSON, buffers, syscalls)', () => true],
];

/** µs per layer over the samples taken while load ran (start-up and shutdown left out by time window). */
export function layerCosts(profile, fromUs = -Infinity, toUs = Infinity) {
  const parent = new Map();
  const byId = new Map();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const layerOf = new Map();
  const classify = (id) => {
    if (layerOf.has(id)) return layerOf.get(id);
    let best = null;
    for (let cur = id; cur !== undefined && best === null; cur = parent.get(cur)) {
      const f = byId.get(cur).callFrame;
      if (f.functionName === '(root)') break;
      if (f.functionName === '(idle)' || f.functionName === '(program)') return (layerOf.set(id, f.functionName), f.functionName);
      for (const [name, match] of LAYERS) {
        if (name === 'other JS' || name.startsWith('native')) continue;
        if (match(f)) {
          best = name;
          break;
        }
      }
    }
    if (best === null) best = byId.get(id).callFrame.url ? 'other JS' : 'native (JSON, buffers, syscalls)';
    layerOf.set(id, best);
    return best;
  };
  const totals = new Map();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) return;
    const layer = classify(id);
    totals.set(layer, (totals.get(layer) ?? 0) + dt);
  });
  return totals;
}

export function printLayers(totals, requestCount, title) {
  const busy = [...totals].filter(([k]) => k !== '(idle)' && k !== '(program)').reduce((a, [, v]) => a + v, 0);
  console.log(`\n${title}: ${requestCount} requests, ${(busy / requestCount).toFixed(1)} µs of JS/GC CPU per request (idle ${(((totals.get('(idle)') ?? 0)) / 1e6).toFixed(2)} s, program ${((totals.get('(program)') ?? 0) / requestCount).toFixed(1)} µs/req)`);
  console.log('| layer | µs / request | share |\n|---|---:|---:|');
  for (const [name, us] of [...totals].filter(([k]) => k !== '(idle)' && k !== '(program)').sort((a, b) => b[1] - a[1])) {
    console.log(`| ${name} | ${(us / requestCount).toFixed(1)} | ${((100 * us) / busy).toFixed(1)}% |`);
  }
}

let serial = 0;

/** `amount` produce requests; with --idempotency each carries a fresh Idempotency-Key. */
async function fire(url, amount) {
  const opts = { url, method: 'POST', body: PRODUCE_BODY, headers: JSON_HEADERS, connections, amount, timeout: 30 };
  if (args.idempotency) {
    opts.requests = [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `k-${serial++}` } }) }];
  }
  return new Promise((resolve, reject) => autocannon(opts, (err, r) => (err ? reject(err) : resolve(r))));
}

async function main() {
  if (args.profile) {
    printLayers(layerCosts(JSON.parse(readFileSync(args.profile, 'utf8'))), requests, args.profile);
    return;
  }
  const target = args.target ?? 'broker';
  const work = mkdtempSync(join(tmpdir(), 'mk-layers-'));
  const profDir = args.keep ?? join(work, 'prof');
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
  let server;
  if (target === 'nest') {
    server = await spawnServer('Nest no-op', NEST_BASELINE, { logPath: join(work, 'nest.log'), nodeArgs });
    await waitForStatus(`${server.url}/`, null, { child: server.child });
  } else {
    requireBuiltBroker();
    const env = { FSYNC: args.fsync ?? 'never' };
    server = await startBroker({ dataDir: join(work, 'data'), env, logPath: join(work, 'broker.log') });
    // startBroker's cpuProfDir option names the directory; restart with it so the profile covers this process only.
    await server.stop();
    server = await startBroker({ dataDir: join(work, 'data'), env, logPath: join(work, 'broker.log'), cpuProfDir: profDir });
  }
  const url = `${server.url}/topics/layers/messages`;
  await fire(url, Math.min(5000, requests)); // JIT warm-up, left out of the window
  const from = Date.now();
  const result = await fire(url, requests);
  const to = Date.now();
  await server.stop();
  const file = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f)).pop();
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  // The profile's clock is the process's monotonic µs; line the load window up with its end (stop ≈ profile end).
  const endWall = Date.now();
  const toUs = profile.endTime - (endWall - to) * 1000;
  const fromUs = toUs - (to - from) * 1000;
  console.log(`${target}: ${result['2xx']} ok, ${result.non2xx} non-2xx, ${result.requests.average} req/s over ${((to - from) / 1000).toFixed(1)} s; profile ${file}`);
  printLayers(layerCosts(profile, fromUs, toUs), result['2xx'] + result.non2xx, `${target} (${connections} connections${target === 'broker' ? `, FSYNC=${args.fsync ?? 'never'}` : ''})`);
  if (!args.keep) rmSync(work, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
