// The processes under test: the built broker and the two baselines, spawned as children with their own
// ports; readiness, peak memory (VmRSS) and shutdown.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// BENCH_BROKER_MAIN: another build of the broker (e.g. a copy of dist/ from before a change, kept inside the
// repository so it finds node_modules), to measure it the same way.
export const BROKER_MAIN = process.env.BENCH_BROKER_MAIN ? resolve(process.env.BENCH_BROKER_MAIN) : join(ROOT, 'dist', 'main.js');
const BASELINES = join(ROOT, 'bench', 'baselines');
export const NEST_BASELINE = join(BASELINES, 'nest-noop.mjs');

const running = new Set();
// An interrupted or failed run must not leave servers behind holding ports and disk.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A port nobody listens on right now (the child binds it a moment later; fine on a quiet machine). */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** One GET with a fresh connection; resolves to the status code, or null when nothing answers yet. */
export function probe(url) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(null));
    req.end();
  });
}

/** Polls until `url` answers `status` (any status when null); every few ms, since restart time is measured with it. */
export async function waitForStatus(url, status, { timeoutMs = 60_000, intervalMs = 5, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${url}: server exited with code ${child.exitCode} before answering`);
    const got = await probe(url);
    if (got !== null && (status === null || got === status)) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url}: no ${status ?? 'HTTP'} answer within ${timeoutMs} ms`);
}

export class ServerProcess {
  constructor(name, child, port, logPath) {
    this.name = name;
    this.child = child;
    this.port = port;
    this.logPath = logPath;
    this.url = `http://127.0.0.1:${port}`;
  }

  get pid() {
    return this.child.pid;
  }

  /** Resident set size now, in bytes (Linux /proc); null once the process is gone. */
  rssBytes() {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return kb ? Number(kb[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  /** Stops the process (SIGTERM lets the broker close its log; SIGKILL is a crash) and waits for it. */
  async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Spawns a Node script on a free port with output to `logPath`; does not wait for it to listen. */
export async function spawnServer(name, script, { env = {}, nodeArgs = [], logPath }) {
  const port = await freePort();
  const fd = openSync(logPath, 'a');
  // process.execPath: the same Node that runs the bench (Node 24 under npm), not whatever is first on PATH.
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(child);
  child.on('exit', () => running.delete(child));
  return new ServerProcess(name, child, port, logPath);
}

function logTail(path) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function ready(server, path, status) {
  try {
    await waitForStatus(server.url + path, status, { child: server.child });
  } catch (err) {
    await server.stop('SIGKILL');
    throw new Error(`${server.name} did not start: ${err.message}\n--- ${server.logPath} ---\n${logTail(server.logPath)}`);
  }
  return server;
}

export function requireBuiltBroker() {
  if (!existsSync(BROKER_MAIN)) {
    throw new Error(`${BROKER_MAIN} is missing: run \`npm run build\` first (the bench measures the built broker and builds nothing).`);
  }
}

/**
 * Starts the broker on `dataDir` and waits for GET /topics to answer 200.
 * `env` overrides broker settings (FSYNC, SEGMENT_BYTES, ...); `cpuProfDir` adds `node --cpu-prof`.
 */
export async function startBroker({ name = 'broker', dataDir, env = {}, logPath, cpuProfDir = null }) {
  const start = startCommand();
  const server = await spawnServer(name, BROKER_MAIN, {
    env: { ...start.env, DATA_DIR: dataDir, ...env },
    logPath,
    nodeArgs: [...start.nodeArgs, ...profArgs(cpuProfDir)],
  });
  return ready(server, '/topics', 200);
}

/**
 * The environment and Node flags of `npm start` (package.json: `VAR=value ... node --flag ... dist/main.js`),
 * so the bench measures the broker as users start it (the Dockerfile's CMD and ENV carry the same).
 */
export function startCommand() {
  const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const words = script.trim().split(/\s+/);
  const env = {};
  const nodeArgs = [];
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]); i++) {
    const at = words[i].indexOf('=');
    env[words[i].slice(0, at)] = words[i].slice(at + 1);
  }
  if (words[i++] !== 'node') throw new Error(`package.json "start" must run node: ${script}`);
  for (; i < words.length && words[i].startsWith('--'); i++) nodeArgs.push(words[i]);
  if (words[i] !== 'dist/main.js') throw new Error(`package.json "start" must run dist/main.js: ${script}`);
  return { env, nodeArgs, script };
}

export function profArgs(cpuProfDir) {
  return cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
}

/** Starts both baselines; any HTTP answer means listening. */
export async function startBaselines(logDir) {
  const bare = await spawnServer('bare node:http', join(BASELINES, 'bare-http.mjs'), { logPath: join(logDir, 'bare.log') });
  const nest = await spawnServer('Nest no-op', NEST_BASELINE, { logPath: join(logDir, 'nest.log') });
  return { bare: await ready(bare, '/', null), nest: await ready(nest, '/', null) };
}

/** Baseline C (baselines/parse-fsync.mjs): the bare parse-and-fsync server, writing under `dataDir`. */
export async function startParseFsyncBaseline(dataDir, logDir) {
  const server = await spawnServer('bare parse+fsync', join(BASELINES, 'parse-fsync.mjs'), { env: { DATA_DIR: dataDir }, logPath: join(logDir, 'parse-fsync.log') });
  return ready(server, '/', null);
}

/** Samples a process's RSS every `intervalMs` until stopped; returns the peak in bytes. */
export function sampleRss(server, intervalMs = 100) {
  let peak = server.rssBytes() ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, server.rssBytes() ?? 0);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, server.rssBytes() ?? 0);
    },
  };
}
