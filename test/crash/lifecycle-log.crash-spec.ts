// The start and stop lines of a real `node dist/main.js`: one JSON line once it listens (version, storage, data
// dir, fsync policy, auth, port) and one after SIGTERM (reason, requests drained, time taken, exit code), written
// even though the process exits right after it. Two long polls are in flight at SIGTERM, so the drained count is
// checked against requests that really were drained.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, sleep } from './broker-process';

jest.setTimeout(60_000);

const MAIN_JS = resolve(__dirname, '../../dist/main.js');
const VERSION = (JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;


type Line = Record<string, unknown> & { context?: string; event?: string; msg?: string };
const lifecycleLines = (out: string): Line[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.context === 'Lifecycle');

describe('start and stop log lines (real process, SIGTERM)', () => {
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mk-lifecycle-'));
  });
  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs one start line with the settings and one stop line with reason, drained requests and duration', async () => {
    const port = await freePort();
    const key = 'lifecycle-key-0123456789';
    const { NODE_OPTIONS: _jestOnly, ...parentEnv } = process.env;
    child = spawn(process.execPath, [MAIN_JS], {
      env: {
        ...parentEnv,
        LOG_LEVEL: 'info',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        FSYNC: 'interval',
        AUTH_KEYS: JSON.stringify([{ name: 'lifecycle', key, rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] }]),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: string | null }>((done) => child!.once('exit', (code, signal) => done({ code, signal })));

    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      expect(child.exitCode).toBeNull();
      const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`broker not ready within 30 s:\n${out}`);
      await sleep(50);
    }
    const headers = { 'x-api-key': key };
    expect((await fetch(`${url}/topics/lifecycle/create`, { method: 'POST', headers })).status).toBe(200);

    const [start] = lifecycleLines(out);
    expect(lifecycleLines(out)).toHaveLength(1);
    expect(start).toMatchObject({ event: 'start', version: VERSION, storage: 'embedded', data_dir: dataDir, fsync: 'interval', auth: 'on', port });
    expect(start.msg).toBe(`mini-kafka ${VERSION} started: storage embedded, data dir ${dataDir}, fsync interval (200 ms), auth on, port ${port}`);

    // Two long polls wait on an empty topic; SIGTERM must answer them (drained) before the process exits.
    const polls = [1, 2].map((i) =>
      fetch(`${url}/topics/lifecycle/messages?consumer_id=c${i}&wait_ms=20000`, { headers, signal: AbortSignal.timeout(20_000) }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    );
    await sleep(500);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(await Promise.all(polls)).toEqual([404, 404]);

    const lines = lifecycleLines(out);
    expect(lines.map((l) => l.event)).toEqual(['start', 'stop']);
    const stop = lines[1];
    expect(stop).toMatchObject({ event: 'stop', reason: 'SIGTERM', unfinished_requests: 0, exit_code: 0 });
    expect(stop.drained_requests).toBeGreaterThanOrEqual(2);
    expect(stop.duration_ms).toEqual(expect.any(Number));
    expect(stop.duration_ms as number).toBeLessThan(10_000);
    expect(stop.msg).toMatch(/^mini-kafka stopped \(SIGTERM\): \d+ request\(s\) drained in \d+ ms, exit 0$/);
  });
});
