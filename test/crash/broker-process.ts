// Runs the built broker (dist/main.js) as a real child process: spawn, wait until it answers, SIGKILL, restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// CRASH_BROKER_MAIN points the tests at another build (e.g. a deliberately broken copy, to see them fail).
const MAIN_JS = resolve(process.env.CRASH_BROKER_MAIN ?? resolve(__dirname, '../../dist/main.js'));
const READY_TIMEOUT_MS = 20_000;
/** Every HTTP call the crash tests make is bounded: a hung request fails the test instead of stalling it. */
export const REQUEST_TIMEOUT_MS = 15_000;

export interface BrokerOptions {
  dataDir: string;
  /** Extra environment (FSYNC, SEGMENT_BYTES, ...); PORT, HOST and DATA_DIR are set here. */
  env?: Record<string, string>;
  /** Runs the broker under `ulimit -n` of this many open files, as an ordinary service account would. */
  openFileLimit?: number;
  /**
   * The child's stdout: a pipe read by this class (the default), a pipe nobody reads (`'unread'`, it fills and
   * stalls), or an open file descriptor (a log file).
   */
  stdout?: 'pipe' | 'unread' | number;
}

export class BrokerProcess {
  private exited: Promise<void>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private output = '';

  private constructor(
    readonly options: BrokerOptions,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        done();
      });
    });
    // Keep the tail of the output for error messages; never let a full pipe block the child.
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-8000);
    };
    if (options.stdout !== 'unread') child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** Starts `node dist/main.js` on a free port and resolves once GET /topics answers 200. */
  static async start(options: BrokerOptions): Promise<BrokerProcess> {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` before the crash tests`);
    const port = await freePort();
    const child = BrokerProcess.spawnMain(options, { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: options.dataDir });
    const broker = new BrokerProcess(options, port, child);
    await broker.waitUntilReady();
    return broker;
  }

  /** Starts the broker and resolves with its exit code and output, for configurations it must refuse. */
  static async runUntilExit(options: BrokerOptions, timeoutMs = READY_TIMEOUT_MS): Promise<{ code: number | null; output: string }> {
    const port = await freePort();
    const child = BrokerProcess.spawnMain(options, { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: options.dataDir });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    clearTimeout(timer);
    return { code, output };
  }

  private static spawnMain(options: BrokerOptions, fixed: Record<string, string>): ChildProcess {
    const env = { ...process.env, ...options.env, ...fixed };
    const stdio: ['ignore', 'pipe' | number, 'pipe'] = ['ignore', typeof options.stdout === 'number' ? options.stdout : 'pipe', 'pipe'];
    if (options.openFileLimit === undefined) return spawn(process.execPath, [MAIN_JS], { env, stdio });
    // exec keeps the pid, so kill9() and /proc/<pid>/fd reach the broker itself.
    return spawn('/bin/bash', ['-c', `ulimit -n ${options.openFileLimit} && exec "$0" "$1"`, process.execPath, MAIN_JS], { env, stdio });
  }

  /** How many file descriptors the broker process holds right now (Linux). */
  openFileCount(): number {
    return readdirSync(`/proc/${this.child.pid}/fd`).length;
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`broker exited during startup (${JSON.stringify(this.exitInfo)}):\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/topics`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(25);
    }
    await this.kill9();
    throw new Error(`broker did not answer GET /topics within ${READY_TIMEOUT_MS} ms:\n${this.output}`);
  }

  /** SIGKILL: no shutdown hooks, no flush; resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * SIGTERM (graceful shutdown): resolves with how the process ended and how long that took, or with
   * `exited: false` once `waitMs` passed without an exit (the process is left running for kill9()).
   */
  async sigterm(waitMs = 60_000): Promise<{ exited: boolean; code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const sent = performance.now();
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([this.exited.then(() => true), new Promise<false>((done) => (timer = setTimeout(() => done(false), waitMs)))]);
    clearTimeout(timer);
    const ms = Math.round(performance.now() - sent);
    return exited ? { exited, ...this.exitInfo!, ms } : { exited, code: null, signal: null, ms };
  }

  /** SIGTERM: the graceful shutdown (drain, fsync, clean-shutdown marker); resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.alive) this.child.kill('SIGTERM');
    await this.exited;
    return this.exitInfo?.code ?? null;
  }

  /** A new process on the same DATA_DIR (optionally with changed settings); this one must be dead. */
  async restart(env: Record<string, string> = this.options.env ?? {}): Promise<BrokerProcess> {
    if (this.alive) throw new Error('restart() needs the previous process killed first');
    return BrokerProcess.start({ dataDir: this.dataDir, env });
  }

  /** The last few KiB of the child's stdout+stderr, for failure messages. */
  get recentOutput(): string {
    return this.output;
  }
}

export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'mk-crash-'));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port nobody listens on right now: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

/** One JSON call, bounded by REQUEST_TIMEOUT_MS: status and parsed body. */
export async function callJson(url: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, body: await res.json() };
}
