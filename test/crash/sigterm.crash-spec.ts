// Graceful shutdown of a real `node dist/main.js`: SIGTERM under concurrent produce load and waiting long polls.
// The process must exit 0, every produce answered 200 must be at its offset after a restart, and no request may
// be cut mid-answer: each one either got a complete response, or its connection was refused or reset before
// any response arrived (a status with a truncated body is a failure).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

jest.setTimeout(120_000);

const MAIN_JS = resolve(__dirname, '../../dist/main.js');
const REQUEST_TIMEOUT_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A broker child process: started on a free port, ready once /readyz answers 200. */
class Broker {
  output = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        done(this.exit);
      }),
    );
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(dataDir: string, env: Record<string, string> = {}): Promise<Broker> {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first`);
    const port = await freePort();
    const { NODE_OPTIONS: _jestOnly, ...parentEnv } = process.env;
    const child = spawn(process.execPath, [MAIN_JS], {
      env: { ...parentEnv, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const broker = new Broker(child, port);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (broker.exit) throw new Error(`broker exited during startup (${JSON.stringify(broker.exit)}):\n${broker.output}`);
      try {
        if ((await fetch(`${broker.url}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200) return broker;
      } catch {
        // not listening yet
      }
      await sleep(25);
    }
    child.kill('SIGKILL');
    throw new Error(`broker not ready within 30 s:\n${broker.output}`);
  }

  async stop(): Promise<void> {
    if (!this.exit) this.child.kill('SIGKILL');
    await this.exited;
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

/** Errors that mean the connection was refused or dropped before any response: allowed once SIGTERM is sent. */
const CONNECTION_GONE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

function connectionErrorCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code ?? (err as { code?: string })?.code;
}

type Outcome = { kind: 'answered'; status: number; body: Record<string, unknown> } | { kind: 'gone'; code: string } | { kind: 'problem'; what: string };

/**
 * One request, classified. fetch() resolves once the status line and headers are in; a failure after that
 * (reading the body, or a body that is not complete JSON) is a request cut mid-answer.
 */
async function call(url: string, init: RequestInit): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    const code = connectionErrorCode(err);
    if (code && CONNECTION_GONE.has(code)) return { kind: 'gone', code };
    return { kind: 'problem', what: `no answer: ${String(err)} (${code ?? 'no code'})` };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    return { kind: 'problem', what: `cut mid-answer: status ${res.status} then ${String(err)} (${connectionErrorCode(err) ?? 'no code'})` };
  }
  try {
    return { kind: 'answered', status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { kind: 'problem', what: `status ${res.status} with a body that is not complete JSON: ${JSON.stringify(text.slice(0, 200))}` };
  }
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      done(false);
    });
    s.once('error', () => done(true));
  });
}

/** The answer to a node:http request as an Outcome, plus whether the server said it closes the connection. */
function answerOf(req: ClientRequest): Promise<Outcome & { closing?: boolean }> {
  return new Promise((done) => {
    let got: IncomingMessage | undefined;
    req.once('response', (res: IncomingMessage) => {
      got = res;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.once('aborted', () => done({ kind: 'problem', what: `cut mid-answer: status ${res.statusCode}` }));
      res.once('end', () => {
        if (!res.complete) return done({ kind: 'problem', what: `cut mid-answer: status ${res.statusCode}` });
        try {
          done({ kind: 'answered', status: res.statusCode ?? 0, body: JSON.parse(text), closing: res.headers.connection === 'close' });
        } catch {
          done({ kind: 'problem', what: `status ${res.statusCode} with a body that is not complete JSON: ${JSON.stringify(text.slice(0, 200))}` });
        }
      });
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (got) return done({ kind: 'problem', what: `cut mid-answer: status ${got.statusCode} then ${err.code}` });
      done(err.code && CONNECTION_GONE.has(err.code) ? { kind: 'gone', code: err.code } : { kind: 'problem', what: `no answer: ${String(err)}` });
    });
  });
}

describe('SIGTERM under load', () => {
  let dataDir: string;
  let broker: Broker | undefined;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mk-sigterm-'));
  });
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('drains: exits 0, answers or cleanly refuses every request, keeps every acknowledged produce', async () => {
    const topic = 'drain';
    broker = await Broker.start(dataDir, { FSYNC: 'always', SHUTDOWN_TIMEOUT_MS: '20000', MAX_WAIT_MS: '120000' });
    const url = broker.url;
    // Started without keys: the start-up log says so loudly, even at LOG_LEVEL=warn.
    expect(broker.output).toMatch(/AUTHENTICATION IS OFF/);
    await fetch(`${url}/topics/idle/create`, { method: 'POST' });

    const acked = new Map<string, number>(); // text -> offset
    const problems: string[] = [];
    let sigtermSent = false;
    let inFlight = 0;
    let inFlightAtSigterm = 0;
    let answeredAfterSigterm = 0;

    const produceLoop = async (loop: number) => {
      for (let i = 0; ; i++) {
        const text = `p${loop}-${i}`;
        inFlight++;
        const sentBeforeSigterm = !sigtermSent;
        const outcome = await call(`${url}/topics/${topic}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: text }),
        });
        inFlight--;
        if (outcome.kind === 'problem') {
          problems.push(`${text}: ${outcome.what}`);
          return;
        }
        if (outcome.kind === 'gone') {
          if (!sigtermSent) problems.push(`${text}: connection ${outcome.code} before SIGTERM`);
          return;
        }
        if (sigtermSent && sentBeforeSigterm) answeredAfterSigterm++;
        if (outcome.status === 200) {
          if (typeof outcome.body.message_id !== 'number') problems.push(`${text}: 200 without a message_id: ${JSON.stringify(outcome.body)}`);
          else acked.set(text, outcome.body.message_id);
        } else if (!(sigtermSent && outcome.status === 503 && typeof outcome.body.detail === 'string')) {
          // While it runs every produce succeeds; while it drains, 503 with a detail is a fine answer too.
          problems.push(`${text}: status ${outcome.status} ${JSON.stringify(outcome.body)}`);
          return;
        }
        if (outcome.status === 503) return; // draining: this producer would now retry elsewhere
      }
    };

    // Consumers long-polling an empty topic, waiting far longer than SHUTDOWN_TIMEOUT_MS, and polling again as
    // soon as they get an answer (on the same keep-alive connection, as an HTTP client session does). The drain
    // must answer the waiting polls, and must not let the next ones keep the server open.
    const pollers = Array.from({ length: 4 }, async (_, n) => {
      const statuses: Array<number | string> = [];
      for (let round = 0; round < 10_000; round++) {
        const outcome = await call(`${url}/topics/idle/messages?consumer_id=waiter-${n}&wait_ms=110000`, { method: 'GET' });
        if (outcome.kind === 'problem') problems.push(`long poll ${n}: ${outcome.what}`);
        if (outcome.kind !== 'answered') {
          statuses.push(outcome.kind);
          break;
        }
        statuses.push(outcome.status);
        if (!sigtermSent) problems.push(`long poll ${n} answered ${outcome.status} before SIGTERM`);
      }
      return statuses;
    });

    // A client on one keep-alive connection whose upload is still arriving when the server stops listening,
    // and which then keeps using that connection: the drain must finish its request and then close the
    // connection, not serve it for ever (Node's server.close() leaves open keep-alive connections alone).
    let listenerClosedNow: () => void = () => undefined;
    const listenerClosed = new Promise<void>((done) => (listenerClosedNow = done));
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const slowBody = JSON.stringify({ message: 'slow-0' });
    const slow = httpRequest({
      host: '127.0.0.1',
      port: broker.port,
      method: 'POST',
      path: `/topics/${topic}/messages`,
      agent: keepAlive,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(slowBody)) },
    });
    const slowAnswer = answerOf(slow);
    slow.write(slowBody.slice(0, 5));
    const keepAliveClient = (async () => {
      await listenerClosed;
      slow.end(slowBody.slice(5));
      const statuses: Array<number | string> = [];
      let outcome = await slowAnswer;
      for (let i = 1; i < 100_000; i++) {
        if (outcome.kind === 'problem') problems.push(`keep-alive client request ${i - 1}: ${outcome.what}`);
        if (outcome.kind !== 'answered') {
          statuses.push(outcome.kind);
          break;
        }
        statuses.push(outcome.status);
        if (outcome.status === 200) acked.set(`slow-${i - 1}`, outcome.body.message_id as number);
        const body = JSON.stringify({ message: `slow-${i}` });
        const next = httpRequest({
          host: '127.0.0.1',
          port: broker!.port,
          method: 'POST',
          path: `/topics/${topic}/messages`,
          agent: keepAlive,
          headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        });
        next.end(body);
        outcome = await answerOf(next);
      }
      keepAlive.destroy();
      return statuses;
    })();

    const loops = Array.from({ length: 32 }, (_, loop) => produceLoop(loop));
    // SIGTERM mid-load: once a good number of produces are acknowledged (bounded wait, not a speed claim).
    const deadline = Date.now() + 60_000;
    while (acked.size < 300 && problems.length === 0 && Date.now() < deadline) await sleep(20);
    expect(problems).toEqual([]);
    expect(acked.size).toBeGreaterThanOrEqual(300);
    inFlightAtSigterm = inFlight;
    sigtermSent = true;
    broker.child.kill('SIGTERM');
    // Once new connections are refused the server is closing (and has closed its idle connections).
    const closingDeadline = Date.now() + 30_000;
    while (!(await refusesConnections(broker.port)) && Date.now() < closingDeadline) await sleep(5);
    listenerClosedNow();

    const exit = await broker.exited;
    await Promise.all(loops);
    const polls = await Promise.all(pollers);
    const keepAliveStatuses = await keepAliveClient;

    expect(problems).toEqual([]);
    expect({ exit, output: exit.code === 0 ? '' : broker.output }).toEqual({ exit: { code: 0, signal: null }, output: '' });
    // The scenario really happened: every producer had a request in flight at the signal, and some were
    // answered after it.
    expect(inFlightAtSigterm).toBe(32);
    expect(answeredAfterSigterm).toBeGreaterThan(0);
    // The long polls had reached the server long before the signal: the drain answered them (an exit that
    // drops them resets their connections instead), then refused or closed on the polls that followed.
    for (const statuses of polls) {
      expect(statuses[0]).toBe(404);
      expect(statuses.slice(1).every((x) => x === 404 || x === 503 || x === 'gone')).toBe(true);
    }
    // The slow upload was finished and stored; the connection was then closed, not kept serving.
    expect(keepAliveStatuses[0]).toBe(200);
    expect(keepAliveStatuses[keepAliveStatuses.length - 1]).toBe('gone');
    expect(keepAliveStatuses.length).toBeLessThan(10);
    // No stack traces or errors in the warn-level log of a clean shutdown.
    expect(broker.output).not.toMatch(/"level":(50|60)/);
    expect(broker.output).not.toMatch(/SHUTDOWN_TIMEOUT_MS/);

    // After a restart every acknowledged produce is at its offset; offsets are dense and hold nothing unknown.
    broker = await Broker.start(dataDir, { FSYNC: 'always' });
    const stored: Array<{ message_id: number; data: string }> = [];
    for (let from = 0; ; ) {
      const res = await fetch(`${broker.url}/topics/${topic}/partitions/0/messages?from_offset=${from}&max=10000`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { messages: Array<{ message_id: number; data: string }>; next_offset: number; end_offset: number };
      stored.push(...page.messages);
      if (page.messages.length === 0 || page.next_offset >= page.end_offset) break;
      from = page.next_offset;
    }
    stored.forEach((m, i) => expect(m.message_id).toBe(i));
    const byOffset = new Map(stored.map((m) => [m.message_id, m.data]));
    const missing = [...acked].filter(([text, offset]) => byOffset.get(offset) !== text);
    expect(missing).toEqual([]);
    expect(stored.filter((m) => !/^(p\d+|slow)-\d+$/.test(m.data))).toEqual([]);
    expect(new Set(stored.map((m) => m.data)).size).toBe(stored.length);
    // Still a working broker: the next produce lands right after the recovered log.
    const next = await fetch(`${broker.url}/topics/${topic}/messages?message=after`, { method: 'POST' });
    expect(await next.json()).toEqual({ message_id: stored.length });
  });
});
