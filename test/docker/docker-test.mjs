// npm run test:docker — the container, tested for real (issue 6, "Container, tested"):
//  1. a Docker engine: the one `docker info` reaches (honoring DOCKER_HOST), as on a user's machine; only where
//     none answers, ../shared/tools/docker-local starts one (and builds node:24-bookworm-slim locally if missing,
//     since nothing can be pulled there);
//  2. builds the real Dockerfile once (mini-kafka:test), runs it with a named volume and a published port, waits
//     for the HEALTHCHECK to say healthy, runs the seed cycle over the port, stops (SIGTERM) and starts the
//     container and checks messages and cursors survived, checks the process is not root and the image holds no
//     dev dependencies or sources; reports image size and start → healthy / start → first 200;
//  3. docker compose up -d with the project's docker-compose.yml plus test/docker/compose.worker.yml (the same
//     image, no second build, beside a worker container that uses the TypeScript client), checks the worker
//     consumed what it produced and the broker holds it, then down -v.
// Fails loudly (exit 1) on anything wrong; never skips. Every name is this run's own (container, volume, images and
// compose project carry a per-run suffix) and every host port is a free one, so runs from several work trees on one
// engine do not collide; it removes what it created when it passes, fails, times out or is interrupted. It installs
// no system package silently: where docker-local needs Debian packages, it says which and why, and installs them with
// scripts/install-test-deps.sh.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE_IMAGE = 'node:24-bookworm-slim';
const NODE_MAJOR = '24';
// One suffix for everything this run creates: pid + random (lowercase, valid in image tags and compose project names).
const RUN = `${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
const IMAGE = `mini-kafka:test-${RUN}`;
const WORKER_IMAGE = `mini-kafka-worker:test-${RUN}`;
const CONTAINER = `mini-kafka-docker-test-${RUN}`;
const VOLUME = `mini-kafka-docker-test-data-${RUN}`;
const PROJECT = `mini-kafka-docker-test-${RUN}`;
const WORKER_COUNT = 100;
const TOTAL_BUDGET_MS = 55 * 60_000;
// Forbidden in the runtime image (dev toolchain); every other dev-only package of the lockfile is checked too.
const DEV_PACKAGES = ['typescript', 'jest', 'ts-jest', '@nestjs/cli', '@nestjs/testing', 'supertest', 'node'];
// The app-only layers (image minus base) hold prod node_modules + dist: ~25 MB. Dev deps would add far more.
const MAX_APP_LAYERS_MB = 60;

const t0 = Date.now();
const phases = [];
const report = {};
const cleanups = [];
/** Commands still running: an interrupted run stops them first (a `docker build` left running would tag an image after cleanup). */
const children = new Set();
let composeCmd = null;
let composePort = 0; // the free host port docker-compose.yml publishes the broker on (MINI_KAFKA_PORT)

const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function log(msg) {
  process.stdout.write(`[docker-test +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}
class TestFailure extends Error {}
function check(cond, msg) {
  if (!cond) throw new TestFailure(msg);
}
function checkEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

async function phase(name, fn) {
  log(`── ${name}`);
  const start = Date.now();
  try {
    return await fn();
  } finally {
    const ms = Date.now() - start;
    phases.push([name, ms]);
    log(`── ${name}: ${sec(ms)}`);
  }
}

/** Runs a command; resolves {code, stdout, stderr}; rejects on spawn error, timeout, or (unless allowFail) a non-zero exit. */
function run(cmd, args, { timeoutMs = 120_000, allowFail = false, stream = false, env, cwd = repo, quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const shown = [cmd, ...args].join(' ');
    if (!quiet) log(`$ ${shown}`);
    let child;
    try {
      child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
    } catch (e) {
      reject(new TestFailure(`cannot run ${shown}: ${e.message}`));
      return;
    }
    let stdout = '';
    let stderr = '';
    const tee = (chunk, sink) => {
      if (stream) for (const line of chunk.toString().split('\n')) if (line.trim()) process.stdout.write(`    ${line}\n`);
      return sink + chunk.toString();
    };
    child.stdout.on('data', (c) => (stdout = tee(c, stdout)));
    child.stderr.on('data', (c) => (stderr = tee(c, stderr)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TestFailure(`timed out after ${sec(timeoutMs)}: ${shown}\n${tail(stdout + stderr)}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      if (allowFail) resolve({ code: -1, stdout, stderr: String(e.message) });
      else reject(new TestFailure(`cannot run ${shown}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && !allowFail) reject(new TestFailure(`exit ${code}: ${shown}\n${tail(stdout + stderr)}`));
      else resolve({ code, stdout, stderr });
    });
  });
}
const tail = (text, lines = 40) => text.trim().split('\n').slice(-lines).join('\n');
const succeeds = async (cmd, args, opts = {}) => (await run(cmd, args, { ...opts, allowFail: true, quiet: true })).code === 0;
const docker = (args, opts) => run('docker', args, opts);
const compose = (args, opts = {}) =>
  run(composeCmd[0], [...composeCmd.slice(1), '-p', PROJECT, '-f', 'docker-compose.yml', '-f', 'test/docker/compose.worker.yml', ...args], {
    ...opts,
    env: {
      ...process.env,
      MINI_KAFKA_PORT: String(composePort),
      MINI_KAFKA_IMAGE: IMAGE,
      MINI_KAFKA_WORKER_IMAGE: WORKER_IMAGE,
      WORKER_COUNT: String(WORKER_COUNT),
      WORKER_RUN_ID: runId,
    },
  });
const runId = `run-${RUN}`;

async function inspect(ref, format) {
  const { stdout } = await docker(['inspect', '-f', format, ref], { quiet: true });
  return stdout.trim();
}
const inspectJson = async (ref, format = '{{json .}}') => JSON.parse(await inspect(ref, format));

/** One HTTP call; answers {status, body} (body parsed as JSON when it is). */
async function http(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}
async function expectHttp(method, url, status, body, what) {
  const res = await http(method, url, body);
  check(res.status === status, `${what}: ${method} ${url} answered ${res.status} ${JSON.stringify(res.body)}, expected ${status}`);
  return res.body;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, () => { // every interface: compose publishes on 0.0.0.0
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
/** Polls GET /readyz until the first 200; answers the Date.now() of that answer. */
async function firstReady(baseUrl, timeoutMs, stopped) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopped()) {
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return Date.now();
    } catch {}
    await sleep(10);
  }
  throw new TestFailure(`no 200 from ${baseUrl}/readyz within ${sec(timeoutMs)}`);
}

/** Waits until Docker's HEALTHCHECK says healthy; fails on unhealthy or an exited container. */
async function waitHealthy(container, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await inspectJson(container, '{{json .State}}');
    if (state.Health?.Status === 'healthy') return { seenAt: Date.now(), state };
    if (!state.Running) throw new TestFailure(`${container} is ${state.Status} (exit ${state.ExitCode}) before becoming healthy\n${await logsOf(container)}`);
    if (state.Health?.Status === 'unhealthy') throw new TestFailure(`${container} HEALTHCHECK reports unhealthy: ${JSON.stringify(state.Health.Log?.slice(-2))}\n${await logsOf(container)}`);
    if (Date.now() > deadline) throw new TestFailure(`${container} not healthy within ${sec(timeoutMs)}: ${JSON.stringify(state.Health)}\n${await logsOf(container)}`);
    await sleep(100);
  }
}
async function logsOf(container) {
  const { stdout, stderr } = await docker(['logs', '--tail', '40', container], { allowFail: true, quiet: true });
  return `--- docker logs ${container} (tail) ---\n${tail(stdout + stderr)}`;
}

/** docker start + measure: start→first 200 on the published port, start→healthy (polled, and from Docker's own health log). */
async function startAndMeasure(label, baseUrl) {
  let done = false;
  const started = Date.now();
  const ready = firstReady(baseUrl, 60_000, () => done);
  ready.catch(() => {});
  try {
    await docker(['start', CONTAINER], { timeoutMs: 60_000 });
    const startReturned = Date.now();
    const first200 = await ready;
    const { seenAt, state } = await waitHealthy(CONTAINER, 90_000);
    const processStart = Date.parse(state.StartedAt);
    const firstPass = (state.Health.Log ?? []).find((e) => e.ExitCode === 0 && Date.parse(e.Start) >= processStart);
    const m = {
      'docker start returned': startReturned - started,
      'start → first 200 /readyz': first200 - started,
      'process start → first 200 /readyz': first200 - processStart,
      'start → healthy (seen via docker inspect)': seenAt - started,
      'process start → first passing HEALTHCHECK': firstPass ? Date.parse(firstPass.End) - processStart : NaN,
    };
    report[label] = m;
    for (const [k, v] of Object.entries(m)) log(`   ${label}: ${k}: ${sec(v)}`);
    return m;
  } finally {
    done = true;
  }
}

// ───────────────────────────── phases ─────────────────────────────

async function findEngine() {
  const tool = path.resolve(repo, '../shared/tools/docker-local');
  const localSock = `unix://${process.env.DOCKER_LOCAL_DIR ?? '/var/tmp/docker-local'}/docker.sock`;
  if (await succeeds('docker', ['info'], { timeoutMs: 30_000 })) {
    report.engine = `the engine that answered \`docker info\` (DOCKER_HOST=${process.env.DOCKER_HOST ?? 'default'})`;
    // docker-local's own engine (started earlier) cannot pull either: give it the base image the same way.
    if (process.env.DOCKER_HOST === localSock && fs.existsSync(tool) && !(await succeeds('docker', ['image', 'inspect', BASE_IMAGE]))) {
      await phase(`build base image ${BASE_IMAGE} with docker-local (nothing can be pulled)`, () =>
        run(tool, ['base', BASE_IMAGE, NODE_MAJOR], { timeoutMs: 25 * 60_000, stream: true }),
      );
    }
  } else {
    check(fs.existsSync(tool), `no Docker engine answers \`docker info\` (DOCKER_HOST=${process.env.DOCKER_HOST ?? 'default'}) and ${tool} does not exist to start one`);
    check(process.getuid?.() === 0, `no Docker engine answers \`docker info\`; ${tool} could start one but needs root`);
    await installDockerLocalPackages();
    log(`no engine answers \`docker info\`: starting one with ${tool}`);
    const { stdout } = await run(tool, ['start'], { timeoutMs: 15 * 60_000, stream: true });
    const m = /export DOCKER_HOST=(\S+)/.exec(stdout);
    check(m, `docker-local start printed no DOCKER_HOST: ${stdout}`);
    process.env.DOCKER_HOST = m[1];
    check(await succeeds('docker', ['info'], { timeoutMs: 30_000 }), `the engine docker-local started does not answer \`docker info\` at ${m[1]}`);
    report.engine = `docker-local (none answered \`docker info\` before; DOCKER_HOST=${m[1]})`;
    if (!(await succeeds('docker', ['image', 'inspect', BASE_IMAGE]))) {
      await phase(`build base image ${BASE_IMAGE} with docker-local (nothing can be pulled)`, () =>
        run(tool, ['base', BASE_IMAGE, NODE_MAJOR], { timeoutMs: 25 * 60_000, stream: true }),
      );
    }
  }
  const info = JSON.parse((await docker(['info', '--format', '{{json .}}'], { quiet: true })).stdout);
  log(`engine: ${report.engine}; server ${info.ServerVersion}, storage driver ${info.Driver}`);
  if (await succeeds('docker', ['compose', 'version'])) composeCmd = ['docker', 'compose'];
  else if (await succeeds('docker-compose', ['version'])) composeCmd = ['docker-compose'];
  else throw new TestFailure('neither `docker compose` nor `docker-compose` is available');
  log(`compose: ${composeCmd.join(' ')}`);
}

/** docker-local installs dockerd, docker-compose and debootstrap quietly when they are missing: do it here, out loud. */
async function installDockerLocalPackages() {
  const script = path.join(repo, 'scripts/install-test-deps.sh');
  const { stdout } = await run('bash', [script, '--list'], { quiet: true });
  const wanted = stdout.split('\n').filter((p) => ['docker.io', 'docker-compose', 'debootstrap'].includes(p));
  if (wanted.length === 0) return;
  log(`no engine answers \`docker info\`, and docker-local needs Debian packages ${wanted.join(' ')} to start one and build the`);
  log(`base image locally: installing every missing test dependency with ${path.relative(repo, script)}`);
  await run('bash', [script], { timeoutMs: 20 * 60_000, stream: true });
}

async function buildClient() {
  const dir = path.join(repo, 'clients/typescript');
  check(fs.existsSync(path.join(dir, 'package.json')), 'clients/typescript is missing');
  const built = path.join(dir, 'dist/index.js');
  const newestSource = Math.max(...['src/index.ts', 'src/schema.d.ts'].map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newestSource) await run('npm', ['run', 'client:build'], { timeoutMs: 5 * 60_000, stream: true });
  else log('clients/typescript/dist is up to date');
}

/**
 * Builds tag (this run's own, removed at the end) from context. The newest build is also tagged `<repo>:test-cache`,
 * shared by all runs, so the next build finds its layers cached; the image that tag pointed at before is removed once
 * nothing else tags it (with docker-local's vfs driver every layer is a full copy: stale chains would fill the disk).
 */
async function buildImage(tag, args, timeoutMs) {
  const cacheTag = `${tag.split(':')[0]}:test-cache`;
  cleanups.push(async () => {
    await docker(['rmi', tag], { allowFail: true, quiet: true }); // only untags while test-cache points at it
  });
  const before = (await docker(['image', 'inspect', '-f', '{{.Id}}', cacheTag], { allowFail: true, quiet: true })).stdout.trim();
  const start = Date.now();
  await docker(['build', '--force-rm', '-t', tag, ...args], { timeoutMs, stream: true });
  const ms = Date.now() - start;
  await docker(['tag', tag, cacheTag], { quiet: true });
  const after = await inspect(tag, '{{.Id}}');
  if (before && before !== after && (await inspect(before, '{{len .RepoTags}}').catch(() => '')) === '0')
    await docker(['rmi', before], { allowFail: true, quiet: true }); // fails harmlessly while another run's container uses it
  return ms;
}

/** A build context for the worker: its Dockerfile + script, and node_modules with the client's dist and runtime deps. */
function stageWorker() {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'mini-kafka-worker-'));
  cleanups.push(async () => fs.rmSync(stage, { recursive: true, force: true }));
  for (const f of ['Dockerfile', 'package.json', 'worker.mjs']) fs.copyFileSync(path.join(repo, 'test/docker/worker', f), path.join(stage, f));
  const client = path.join(repo, 'clients/typescript');
  const clientDest = path.join(stage, 'node_modules/@mini-kafka/client');
  fs.mkdirSync(clientDest, { recursive: true });
  fs.copyFileSync(path.join(client, 'package.json'), path.join(clientDest, 'package.json'));
  fs.cpSync(path.join(client, 'dist'), path.join(clientDest, 'dist'), { recursive: true });
  const copied = [];
  const resolveDir = (name, from) => {
    for (let dir = from; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (dir === path.dirname(dir) || dir === path.dirname(repo)) throw new TestFailure(`cannot find ${name} (a runtime dependency of the client) from ${from}: run npm ci`);
    }
  };
  const copyDeps = (pkgDir) => {
    const deps = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).dependencies ?? {};
    for (const name of Object.keys(deps)) {
      if (copied.includes(name)) continue;
      const src = fs.realpathSync(resolveDir(name, pkgDir));
      fs.cpSync(src, path.join(stage, 'node_modules', name), { recursive: true, dereference: true });
      copied.push(name);
      copyDeps(src);
    }
  };
  copyDeps(client);
  log(`worker context ${stage}: @mini-kafka/client + ${copied.join(', ')}`);
  return stage;
}

async function runPhase() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let removed = false;
  cleanups.push(async () => {
    if (removed) return;
    if (failed) log(await logsOf(CONTAINER));
    await docker(['rm', '-f', CONTAINER], { allowFail: true });
    await docker(['volume', 'rm', '-f', VOLUME], { allowFail: true });
  });
  await docker(['volume', 'create', VOLUME]);
  await docker(['create', '--name', CONTAINER, '-p', `127.0.0.1:${port}:8000`, '-v', `${VOLUME}:/data`, IMAGE]);

  await phase('first start: start → first 200, start → healthy', () => startAndMeasure('first start', base));

  await phase('seed cycle over the published port', async () => {
    const t = `${base}/topics/docker-seed`;
    checkEqual((await expectHttp('POST', `${t}/create`, 200, undefined, 'create')).status, 'created', 'create');
    checkEqual((await expectHttp('POST', `${t}/create`, 200, undefined, 'create again')).status, 'exists', 'create again');
    checkEqual(await expectHttp('POST', `${t}/messages?message=${encodeURIComponent('hello from the container')}`, 200, undefined, 'produce (query)'), { message_id: 0 }, 'produce (query)');
    checkEqual(await expectHttp('POST', `${t}/messages`, 200, { message: 'second, as JSON' }, 'produce (body)'), { message_id: 1 }, 'produce (body)');
    checkEqual(await expectHttp('POST', `${t}/messages?message=third`, 200, undefined, 'produce'), { message_id: 2 }, 'produce');
    const polled = await expectHttp('GET', `${t}/messages?consumer_id=c`, 200, undefined, 'poll');
    checkEqual(polled, { message_id: 0, data: 'hello from the container' }, 'poll');
    checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=c`, 200, undefined, 'poll again'), polled, 'poll again without ack');
    checkEqual(await expectHttp('POST', `${t}/messages/0/ack?consumer_id=c`, 200, undefined, 'ack'), { status: 'ok' }, 'ack 0');
    checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=c`, 200, undefined, 'poll'), { message_id: 1, data: 'second, as JSON' }, 'poll after ack');
    checkEqual(await expectHttp('POST', `${t}/messages/1/ack?consumer_id=c`, 200, undefined, 'ack'), { status: 'ok' }, 'ack 1');
    // Message 2 is polled but not acked: after the restart it must be delivered again.
    checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=c`, 200, undefined, 'poll'), { message_id: 2, data: 'third' }, 'poll 2');
  });

  await phase('non-root process, image contents', async () => {
    checkEqual(await inspect(CONTAINER, '{{.Config.User}}'), 'node', 'image USER');
    const uid = (await docker(['exec', CONTAINER, 'id', '-u'])).stdout.trim();
    check(/^\d+$/.test(uid) && uid !== '0', `docker exec id -u answered ${JSON.stringify(uid)}: the container runs as root`);
    const top = (await docker(['top', CONTAINER, '-o', 'pid,uid,user,args'])).stdout.trim().split('\n');
    log(`   docker top:\n${top.map((l) => `      ${l}`).join('\n')}`);
    const mainLine = top.find((l) => /node\s+(?:--\S+\s+)*dist\/main\.js/.test(l));
    check(mainLine, `docker top shows no \`node dist/main.js\` process:\n${top.join('\n')}`);
    const hostUid = mainLine.trim().split(/\s+/)[1];
    check(hostUid !== '0' && hostUid === uid, `the broker process runs as uid ${hostUid} (docker top), expected non-root ${uid}`);
    report.user = `uid ${uid} (docker exec id -u; docker top: ${mainLine.trim().split(/\s+/).slice(1, 3).join(' ')})`;
    const appWritable = await succeeds('docker', ['exec', CONTAINER, 'sh', '-c', 'touch /app/.w && rm /app/.w']);
    check(!appWritable, '/app is writable by the broker user (app files should be root-owned, only /data writable)');

    const entries = (await docker(['exec', CONTAINER, 'ls', '-A', '/app'])).stdout.trim().split('\n').sort();
    checkEqual(entries, ['dist', 'node_modules', 'package-lock.json', 'package.json'], '/app holds only dist, node_modules and the package files');
    for (const p of ['/app/src', '/app/test', '/app/tsconfig.json', '/app/clients', '/app/bench'])
      check(!(await succeeds('docker', ['exec', CONTAINER, 'test', '-e', p])), `${p} is in the image`);
    const ts = (await docker(['exec', CONTAINER, 'find', '/app/dist', '-name', '*.ts'])).stdout.trim();
    check(ts === '', `TypeScript sources in /app/dist:\n${ts}`);
    for (const pkg of DEV_PACKAGES)
      check(!(await succeeds('docker', ['exec', CONTAINER, 'test', '-e', `/app/node_modules/${pkg}`])), `dev dependency ${pkg} is in /app/node_modules`);
    for (const bin of ['tsc', 'jest', 'nest', 'node'])
      check(!(await succeeds('docker', ['exec', CONTAINER, 'test', '-e', `/app/node_modules/.bin/${bin}`])), `/app/node_modules/.bin/${bin} is in the image`);
    // Every package the lockfile marks dev-only (dev / devOptional) must be absent.
    const lock = JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8'));
    const devOnly = Object.entries(lock.packages).filter(([k, v]) => k.startsWith('node_modules/') && (v.dev || v.devOptional)).map(([k]) => k);
    const script = `const fs=require('fs');const l=JSON.parse(fs.readFileSync(0,'utf8'));console.log(JSON.stringify(l.filter(p=>fs.existsSync('/app/'+p))))`;
    const present = JSON.parse((await runWithInput('docker', ['exec', '-i', CONTAINER, 'node', '-e', script], JSON.stringify(devOnly))).trim());
    check(present.length === 0, `${present.length} dev-only packages (per package-lock.json) are in the image: ${present.slice(0, 20).join(', ')}`);
    const prodCount = Number((await docker(['exec', CONTAINER, 'sh', '-c', 'ls -d /app/node_modules/* /app/node_modules/@*/* | grep -v "/@[^/]*$" | wc -l'])).stdout.trim());
    log(`   /app: ${entries.join(', ')}; ${prodCount} packages in node_modules; none of ${devOnly.length} dev-only lockfile packages present`);
    report.contents = `no src/test/sources; none of ${DEV_PACKAGES.join(', ')}; 0 of ${devOnly.length} dev-only lockfile packages; ${prodCount} packages`;
  });

  await phase('stop (SIGTERM) + start: data and cursors survive', async () => {
    const stopStart = Date.now();
    await docker(['stop', '-t', '15', CONTAINER], { timeoutMs: 60_000 });
    report['docker stop (graceful drain)'] = Date.now() - stopStart;
    const exited = await inspectJson(CONTAINER, '{{json .State}}');
    check(exited.ExitCode === 0 && !exited.OOMKilled, `the broker did not exit cleanly on SIGTERM: exit ${exited.ExitCode}\n${await logsOf(CONTAINER)}`);
    log(`   docker stop: ${sec(report['docker stop (graceful drain)'])}, exit code 0`);
    await startAndMeasure('restart (existing log)', base);
    const t = `${base}/topics/docker-seed`;
    checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=c`, 200, undefined, 'poll after restart'), { message_id: 2, data: 'third' }, 'cursor survived (unacked 2 redelivered)');
    checkEqual((await expectHttp('GET', `${t}/consumers/c`, 200, undefined, 'cursor')).offset, 2, 'committed offset of c after restart');
    checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=fresh`, 200, undefined, 'poll new consumer'), { message_id: 0, data: 'hello from the container' }, 'messages survived (new consumer reads 0)');
    checkEqual(await expectHttp('POST', `${t}/messages/2/ack?consumer_id=c`, 200, undefined, 'ack'), { status: 'ok' }, 'ack 2');
    checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=c`, 404, undefined, 'poll at end'), { detail: 'No new messages' }, 'caught up');
    checkEqual(await expectHttp('POST', `${t}/messages?message=after-restart`, 200, undefined, 'produce after restart'), { message_id: 3 }, 'offsets stay dense after restart');
    const volumes = await inspectJson(CONTAINER, '{{json .Mounts}}');
    check(volumes.some((m) => m.Type === 'volume' && m.Name === VOLUME && m.Destination === '/data'), `the named volume is not mounted at /data: ${JSON.stringify(volumes)}`);
  });

  await docker(['rm', '-f', CONTAINER]);
  await docker(['volume', 'rm', VOLUME]);
  removed = true;
}

function runWithInput(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new TestFailure(`exit ${code}: ${cmd} ${args.join(' ')}\n${err}`))));
    child.stdin.end(input);
  });
}

async function composePhase() {
  const containerOf = async (service) => (await compose(['ps', '-q', service], { quiet: true })).stdout.trim();
  composePort = await freePort();
  cleanups.push(async () => {
    const logs = await compose(['logs', '--no-color', '--tail', '30'], { allowFail: true, quiet: true });
    if (failed) log(`--- compose logs (tail) ---\n${tail(logs.stdout + logs.stderr, 60)}`);
    await compose(['down', '-v', '--remove-orphans'], { allowFail: true, timeoutMs: 120_000 });
  });
  const upStart = Date.now();
  await compose(['up', '-d', '--no-build'], { timeoutMs: 5 * 60_000, stream: true });
  report['compose up -d (waits for broker healthy, then starts worker)'] = Date.now() - upStart;

  const broker = await containerOf('broker');
  const worker = await containerOf('worker');
  check(broker && worker, `compose did not create both services: broker=${broker} worker=${worker}`);
  checkEqual(await inspect(broker, '{{.Config.Image}}'), IMAGE, 'compose broker image (reused, not rebuilt)');
  const deadline = Date.now() + 180_000;
  let state;
  for (;;) {
    state = await inspectJson(worker, '{{json .State}}');
    if (state.Status === 'exited' || state.Status === 'dead') break;
    check(Date.now() < deadline, `the worker did not finish within 180 s\n${await logsOf(worker)}`);
    await sleep(250);
  }
  report['compose worker run'] = Date.parse(state.FinishedAt) - Date.parse(state.StartedAt);
  const { stdout, stderr } = await docker(['logs', worker], { quiet: true });
  const workerLogs = stdout + stderr;
  log(`   worker logs:\n${tail(workerLogs, 10).replace(/^/gm, '      ')}`);
  check(state.ExitCode === 0, `the worker exited with ${state.ExitCode}\n${tail(workerLogs)}`);
  check(workerLogs.includes(`consumed ${WORKER_COUNT} messages`), `the worker's logs do not say it consumed ${WORKER_COUNT} messages`);
  const result = JSON.parse(/^RESULT (.*)$/m.exec(workerLogs)?.[1] ?? 'null');
  check(result?.produced === WORKER_COUNT && result?.consumed === WORKER_COUNT, `worker result: ${JSON.stringify(result)}`);

  // The broker (over the port compose published) holds what the worker produced, with its cursor committed.
  checkEqual((await inspectJson(broker, '{{json .State.Health.Status}}')), 'healthy', 'compose broker health');
  const t = `http://127.0.0.1:${composePort}/topics/compose-worker`;
  const cursor = await expectHttp('GET', `${t}/consumers/compose-worker`, 200, undefined, 'worker cursor');
  check(cursor.offset === WORKER_COUNT && cursor.lag === 0, `the worker's committed cursor on the broker: ${JSON.stringify(cursor)}`);
  checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=host-check`, 200, undefined, 'poll'), { message_id: 0, data: `${runId}-0` }, 'first worker message, read from the host');
  checkEqual(await expectHttp('POST', `${t}/messages/${WORKER_COUNT - 2}/ack?consumer_id=host-check`, 200, undefined, 'ack'), { status: 'ok' }, 'ack');
  checkEqual(await expectHttp('GET', `${t}/messages?consumer_id=host-check`, 200, undefined, 'poll'), { message_id: WORKER_COUNT - 1, data: `${runId}-${WORKER_COUNT - 1}` }, 'last worker message, read from the host');
  const mounts = await inspectJson(broker, '{{json .Mounts}}');
  check(mounts.some((m) => m.Type === 'volume' && m.Name === `${PROJECT}_broker-data` && m.Destination === '/data'), `compose broker has no named volume on /data: ${JSON.stringify(mounts)}`);
  log(`   worker produced and consumed ${WORKER_COUNT} messages in ${result.ms} ms; the broker holds them (cursor ${cursor.offset}, lag ${cursor.lag})`);

  const downStart = Date.now();
  await compose(['down', '-v'], { timeoutMs: 120_000, stream: true });
  report['compose down -v'] = Date.now() - downStart;
  check((await compose(['ps', '-q'], { quiet: true })).stdout.trim() === '', 'containers left after compose down');
  const vols = (await docker(['volume', 'ls', '-q', '--filter', `name=${PROJECT}_`], { quiet: true })).stdout.trim();
  check(vols === '', `volumes left after compose down -v: ${vols}`);
}

let failed = false;
let interrupted = false;
/** Each cleanup runs once, newest first (also when interrupted). */
async function runCleanups() {
  while (cleanups.length) await cleanups.pop()().catch((e) => log(`cleanup: ${e.message}`));
}
/** Stops the run from outside main (a signal, the time budget): cleans up (bounded), then exits 1. */
async function abort(reason) {
  if (interrupted) return;
  interrupted = failed = true;
  process.stderr.write(`\nDOCKER TEST FAILED: ${reason}; cleaning up\n`);
  setTimeout(() => {
    process.stderr.write('docker test: cleanup took over 3 min; exiting without finishing it\n');
    process.exit(1);
  }, 3 * 60_000).unref();
  for (const child of children) child.kill('SIGTERM');
  await runCleanups();
  process.exit(1);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void abort(`interrupted by ${signal}`));
async function main() {
  const watchdog = setTimeout(() => void abort(`over the ${sec(TOTAL_BUDGET_MS)} budget`), TOTAL_BUDGET_MS);
  watchdog.unref();
  try {
    await phase('find a Docker engine', findEngine);
    await phase('client build (clients/typescript/dist)', buildClient);
    report['image build (mini-kafka:test)'] = await phase(`build ${IMAGE} from the Dockerfile`, () => buildImage(IMAGE, ['.'], 30 * 60_000));
    const size = Number(await inspect(IMAGE, '{{.Size}}'));
    const baseSize = Number(await inspect(BASE_IMAGE, '{{.Size}}'));
    report['image size'] = `${mb(size)} (base ${BASE_IMAGE} ${mb(baseSize)} + app layers ${mb(size - baseSize)})`;
    log(`   image size ${report['image size']}`);
    check((size - baseSize) / 1e6 < MAX_APP_LAYERS_MB, `app layers are ${mb(size - baseSize)} (> ${MAX_APP_LAYERS_MB} MB): dev dependencies in the image?`);
    const stage = stageWorker();
    report['worker image build'] = await phase(`build ${WORKER_IMAGE} (test/docker/worker)`, () => buildImage(WORKER_IMAGE, ['-f', path.join(stage, 'Dockerfile'), stage], 10 * 60_000));
    await phase('docker run: named volume, published port, healthcheck, seed cycle, restart, user, contents', runPhase);
    await phase('compose: docker-compose.yml + worker service (TypeScript client)', composePhase);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await runCleanups();
    clearTimeout(watchdog);
    printSummary();
  }
}

function printSummary() {
  const lines = ['', '══════ docker test summary ══════'];
  for (const [name, ms] of phases) lines.push(`  phase  ${sec(ms).padStart(9)}  ${name}`);
  lines.push(`  total  ${sec(Date.now() - t0).padStart(9)}`);
  for (const [k, v] of Object.entries(report)) {
    if (v && typeof v === 'object') for (const [k2, v2] of Object.entries(v)) lines.push(`  ${k}: ${k2}: ${sec(v2)}`);
    else lines.push(`  ${k}: ${typeof v === 'number' ? sec(v) : v}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => {
    process.stdout.write('DOCKER TEST PASSED\n');
    process.exit(0);
  },
  (e) => {
    process.stderr.write(`\nDOCKER TEST FAILED: ${e instanceof TestFailure ? e.message : (e?.stack ?? String(e))}\n`);
    process.exit(1);
  },
);
