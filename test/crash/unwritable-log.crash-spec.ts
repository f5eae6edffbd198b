// A log that cannot take writes must not freeze the broker: a real `node dist/main.js` whose stdout is a file on
// a full tmpfs (the same one as DATA_DIR), or a pipe nobody reads. Requests go on being answered, lines are
// dropped and counted, SIGTERM exits 0 within SHUTDOWN_TIMEOUT_MS, and nothing acknowledged is lost.
// Needs root to mount tmpfs (CI and this machine run as root); without it the test fails and says so.
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BrokerProcess, makeDataDir, removeDataDir, REQUEST_TIMEOUT_MS, sleep } from './broker-process';
import { expectLogRecovered, newProduceLedger, type ProduceLedger } from './workload';

jest.setTimeout(120_000);

const run = promisify(execFile);
const SHUTDOWN_TIMEOUT_MS = 5000;

async function droppedLines(broker: BrokerProcess): Promise<number> {
  const dropped = await droppedLinesIfCounted(broker);
  if (dropped === null) throw new Error('/metrics has no minikafka_log_lines_dropped_total');
  return dropped;
}

async function droppedLinesIfCounted(broker: BrokerProcess): Promise<number | null> {
  const text = await (await fetch(`${broker.url}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).text();
  const m = /^minikafka_log_lines_dropped_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** GET /healthz every 20 ms until stopped: the slowest answer, and every probe slower than 1 s or failed. */
function probeHealth(broker: BrokerProcess) {
  const state = { stop: false, probes: 0, slowestMs: 0, failures: [] as string[] };
  const done = (async () => {
    while (!state.stop) {
      const started = performance.now();
      try {
        const res = await fetch(`${broker.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.text();
        if (res.status !== 200) state.failures.push(`healthz answered ${res.status}`);
      } catch (err) {
        state.failures.push(`healthz: ${String(err)}`);
      }
      const ms = performance.now() - started;
      state.probes++;
      state.slowestMs = Math.max(state.slowestMs, ms);
      if (ms > 1000) state.failures.push(`healthz took ${Math.round(ms)} ms`);
      await sleep(20);
    }
  })();
  running.push({ state, done });
  return { state, done };
}

/** Producers posting until stopped; 200s go in the ledger, 503s are counted, anything else is a problem. */
function produceLoad(broker: BrokerProcess, topic: string, ledger: ProduceLedger, producers: number) {
  const state = { stop: false, answered: 0, refused: 0 };
  const done = Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      for (let i = 0; !state.stop; i++) {
        const text = `p${p}-${i}-`.padEnd(512, 'x');
        ledger.sent.add(text);
        try {
          const res = await fetch(`${broker.url}/topics/${topic}/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ message: text }),
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          const body = (await res.json()) as { message_id?: number; code?: string };
          state.answered++;
          if (res.status === 200) ledger.acked.set(body.message_id!, text);
          else if (res.status === 503 && body.code === 'STORAGE_UNAVAILABLE') {
            state.refused++;
            await sleep(10);
          } else ledger.problems.push(`produce answered ${res.status} ${JSON.stringify(body)}`);
        } catch (err) {
          ledger.problems.push(`produce: ${String(err)}`);
          await sleep(50);
        }
      }
    }),
  );
  running.push({ state, done });
  return { state, done };
}

/** Load started by a test, stopped in afterAll even when the test failed half-way. */
const running: Array<{ state: { stop: boolean }; done: Promise<unknown> }> = [];
async function stopAll(): Promise<void> {
  for (const r of running) r.state.stop = true;
  await Promise.all(running.splice(0).map((r) => r.done));
}

/** Waits for `condition`; fails at once, naming it, when /healthz stopped answering within 1 s meanwhile. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, health: { failures: string[] }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (health.failures.length > 0) throw new Error(`while waiting for ${what}, the broker stopped answering: ${health.failures.slice(0, 3).join('; ')}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('stdout (the log) on a full disk', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'mk-logfull-'));
  let mounted = false;
  let broker: BrokerProcess | undefined;
  let logFd: number | undefined;

  beforeAll(async () => {
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
      mounted = true;
    } catch (err) {
      throw new Error(`this test mounts a 4 MiB tmpfs and needs root (mount -t tmpfs): ${String(err)}`);
    }
  });

  afterAll(async () => {
    await broker?.kill9();
    await stopAll();
    if (logFd !== undefined) closeSync(logFd);
    if (mounted) await run('umount', [mnt]).catch(() => run('umount', ['-l', mnt]));
    rmSync(mnt, { recursive: true, force: true });
  });

  it('answers /healthz within 1 s and produce with 503s, drops and counts log lines, heals, exits 0 on SIGTERM', async () => {
    const dataDir = join(mnt, 'data');
    mkdirSync(dataDir);
    const logPath = join(mnt, 'broker.log');
    logFd = openSync(logPath, 'a');
    const env = { LOG_LEVEL: 'debug', FSYNC: 'always', SEGMENT_BYTES: '262144', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) };
    broker = await BrokerProcess.start({ dataDir, env, stdout: logFd });
    const topic = 'logfull';
    expect((await fetch(`${broker.url}/topics/${topic}/create`, { method: 'POST' })).status).toBe(200);

    const ledger = newProduceLedger();
    const health = probeHealth(broker);
    const load = produceLoad(broker, topic, ledger, 8);
    await waitFor('some acknowledged produces', () => ledger.acked.size >= 50, 30_000, health.state);

    // Fill the disk under the log and the data: the filler takes whatever space there is.
    const filler = join(mnt, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch {
      // ENOSPC is the point.
    }
    const refusedBefore = load.state.refused;
    await waitFor('produce answering 503', () => load.state.refused > refusedBefore + 50, 30_000, health.state);
    // Every request logs a line at debug: once the sink's buffer is full they are dropped, and counted.
    await waitFor('dropped log lines', async () => (await droppedLines(broker!)) > 0, 60_000, health.state);
    const dropped = await droppedLines(broker);
    await waitFor('the dropped-lines counter to grow', async () => (await droppedLines(broker!)) > dropped, 30_000, health.state);
    expect(health.state.failures).toEqual([]);
    // A full disk met outside the log's write path (a new topic's metadata) is a 503 too, not a 500 with a stack.
    const create = await fetch(`${broker.url}/topics/created-while-full/create`, { method: 'POST' });
    expect({ status: create.status, code: ((await create.json()) as { code?: string }).code }).toEqual({ status: 503, code: 'STORAGE_UNAVAILABLE' });
    expect(create.headers.get('retry-after')).not.toBeNull();

    // Space returns: produce works again by itself.
    unlinkSync(filler);
    const ackedBefore = ledger.acked.size;
    await waitFor('produce answering 200 again', () => ledger.acked.size > ackedBefore + 20, 30_000, health.state);
    // The log heals too: what it held is written, and new lines reach the file again.
    let healed = '';
    await waitFor(
      'a request line to reach the log file again',
      async () => {
        const id = `after-the-disk-healed-${Date.now()}`;
        await fetch(`${broker!.url}/topics/${topic}`, { headers: { 'X-Request-Id': id } });
        await sleep(200);
        if (readFileSync(logPath, 'utf8').includes(`"${id}"`)) healed = id;
        return healed !== '';
      },
      30_000,
      health.state,
    );
    load.state.stop = true;
    health.state.stop = true;
    await Promise.all([load.done, health.done]);
    expect(ledger.problems).toEqual([]);
    expect(health.state.failures).toEqual([]);
    console.log(
      `log on a full disk: ${health.state.probes} healthz probes, slowest ${Math.round(health.state.slowestMs)} ms; ` +
        `${load.state.refused} produces refused with 503, ${ledger.acked.size} acknowledged; ${await droppedLines(broker)} log lines dropped`,
    );

    const exit = await broker.sigterm(SHUTDOWN_TIMEOUT_MS + 5000);
    console.log(`SIGTERM to exit: ${exit.ms} ms (SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_TIMEOUT_MS})`);
    expect({ exited: exit.exited, code: exit.code, signal: exit.signal }).toEqual({ exited: true, code: 0, signal: null });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    // The full disk was logged as one throttled warning per window, not a line (or a stack) per 503.
    const log = readFileSync(logPath, 'utf8');
    expect(log).not.toContain('failed with status code');
    const warnings = log.split('\n').filter((l) => l.includes('"level":40') && l.includes('STORAGE_UNAVAILABLE'));
    expect(warnings.length).toBeLessThanOrEqual(10);

    // Every produce answered 200 is at its offset after a restart (stdout back on a pipe).
    broker = await broker.restart({ FSYNC: 'always', SEGMENT_BYTES: '262144' });
    await expectLogRecovered(broker, topic, ledger, 1);
  });
});

describe('stdout a pipe nobody reads', () => {
  let dataDir: string;
  let broker: BrokerProcess | undefined;

  beforeAll(() => {
    dataDir = makeDataDir();
  });
  afterAll(async () => {
    await broker?.kill9();
    await stopAll();
    removeDataDir(dataDir);
  });

  it('keeps answering under debug logging, drops and counts lines, exits 0 on SIGTERM within the bound', async () => {
    const env = { LOG_LEVEL: 'debug', FSYNC: 'always', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) };
    broker = await BrokerProcess.start({ dataDir, env, stdout: 'unread' });
    const topic = 'stalled';
    const ledger = newProduceLedger();
    const health = probeHealth(broker);
    const load = produceLoad(broker, topic, ledger, 8);
    // The pipe holds 64 KiB and the sink 1 MiB: a few thousand request lines later, lines are dropped. The load
    // runs to a fixed count (not to the counter), so a broker without it still meets the SIGTERM check below.
    await waitFor('5,000 acknowledged produces', () => ledger.acked.size >= 5000, 90_000, health.state);
    const dropped = await droppedLinesIfCounted(broker);
    load.state.stop = true;
    health.state.stop = true;
    await Promise.all([load.done, health.done]);
    expect(ledger.problems).toEqual([]);
    expect(health.state.failures).toEqual([]);
    expect(load.state.refused).toBe(0);
    console.log(
      `stdout stalled: ${health.state.probes} healthz probes, slowest ${Math.round(health.state.slowestMs)} ms; ` +
        `${ledger.acked.size} produces acknowledged; ${dropped} log lines dropped`,
    );

    const exit = await broker.sigterm(SHUTDOWN_TIMEOUT_MS + 5000);
    console.log(`SIGTERM to exit with stdout stalled: ${exit.ms} ms (SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_TIMEOUT_MS})`);
    expect({ exited: exit.exited, code: exit.code, signal: exit.signal }).toEqual({ exited: true, code: 0, signal: null });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    // Counted: the lines that found neither the pipe nor the buffer.
    expect(dropped).toBeGreaterThan(0);

    broker = await broker.restart({ FSYNC: 'always' });
    await expectLogRecovered(broker, topic, ledger, 1);
  });
});
