// Thousands of partitions under an ordinary open-file limit: a real broker process under `ulimit -n`, many
// topics × 4 partitions written and read by concurrent clients. Every request must succeed (no EMFILE 500s,
// no reset connections), the process must hold no more descriptors than MAX_OPEN_SEGMENTS plus a small
// constant, and a limit too small for the configuration must be refused at start with a clear message.
import { BrokerProcess, callJson, makeDataDir, removeDataDir } from './broker-process';

jest.setTimeout(240_000);

const TOPICS = 200;
const PARTITIONS = 4;
const CLIENTS = 20;
const MAX_OPEN_SEGMENTS = 64;

/** Runs `work(i)` for i in [0, n) on `clients` concurrent workers. */
async function inParallel(n: number, clients: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < n) await work(next++);
  }));
}

describe(`${TOPICS} topics × ${PARTITIONS} partitions under ulimit -n 1024`, () => {
  let dataDir: string;
  let broker: BrokerProcess | undefined;
  beforeAll(() => {
    dataDir = makeDataDir();
  });
  afterAll(async () => {
    await broker?.kill9();
    removeDataDir(dataDir);
  });

  it('creates, writes and reads every partition with no error while open files stay bounded', async () => {
    const env = { FSYNC: 'always', MAX_OPEN_SEGMENTS: String(MAX_OPEN_SEGMENTS), LOG_LEVEL: 'warn' };
    broker = await BrokerProcess.start({ dataDir, env, openFileLimit: 1024 });
    const b = broker;
    const idleFds = b.openFileCount();
    const failures: string[] = [];
    let peakFds = 0;
    const sample = () => (peakFds = Math.max(peakFds, b.openFileCount()));
    const check = (what: string, r: { status: number; body: unknown }, ok: number[]) => {
      if (!ok.includes(r.status)) failures.push(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    };
    await inParallel(TOPICS, CLIENTS, async (t) => {
      check(`create t${t}`, await callJson(`${b.url}/topics`, 'POST', { name: `t${t}`, partitions: PARTITIONS }), [200, 201]);
      sample();
    });
    await inParallel(TOPICS * PARTITIONS, CLIENTS, async (i) => {
      const t = Math.floor(i / PARTITIONS);
      const p = i % PARTITIONS;
      check(`produce t${t}/${p}`, await callJson(`${b.url}/topics/t${t}/messages`, 'POST', { message: `m-${t}-${p}`, partition: p }), [200]);
      sample();
    });
    await inParallel(TOPICS * PARTITIONS, CLIENTS, async (i) => {
      const t = Math.floor(i / PARTITIONS);
      const p = i % PARTITIONS;
      const r = await callJson(`${b.url}/topics/t${t}/partitions/${p}/messages?from_offset=0`, 'GET');
      check(`fetch t${t}/${p}`, r, [200]);
      if (r.status === 200 && r.body.messages?.[0]?.data !== `m-${t}-${p}`) failures.push(`fetch t${t}/${p}: ${JSON.stringify(r.body.messages)}`);
      const ack = await callJson(`${b.url}/topics/t${t}/messages/0/ack?consumer_id=c&partition=${p}`, 'POST');
      check(`ack t${t}/${p}`, ack, [200]);
      sample();
    });
    expect(failures.slice(0, 10)).toEqual([]);
    // Beyond an idle broker's own descriptors (stdio, epoll, io_uring, the listener): the engine's files, the
    // clients' sockets, and a few short-lived ones (topic creation, index rewrites, handles being closed).
    expect(peakFds - idleFds).toBeLessThanOrEqual(MAX_OPEN_SEGMENTS + CLIENTS + 48);
    console.log(`${TOPICS * PARTITIONS} partitions under ulimit -n 1024: peak open fds ${peakFds}, idle ${idleFds} (MAX_OPEN_SEGMENTS=${MAX_OPEN_SEGMENTS}, ${CLIENTS} clients)`);

    const ready = await callJson(`${b.url}/readyz`, 'GET');
    expect(ready.body.info.storage.open_files).toMatchObject({ engine_max: MAX_OPEN_SEGMENTS, process_limit: 1024 });
    expect(ready.body.info.storage.open_files.engine).toBeLessThanOrEqual(MAX_OPEN_SEGMENTS);
  });

  it('refuses to start when the open-file limit cannot hold MAX_OPEN_SEGMENTS, saying what to change', async () => {
    const { code, output } = await BrokerProcess.runUntilExit({ dataDir: makeDataDir(), env: { MAX_OPEN_SEGMENTS: '256' }, openFileLimit: 300 });
    expect(code).not.toBe(0);
    expect(output).toMatch(/open-file limit 300 is below MAX_OPEN_SEGMENTS=256/);
    expect(output).toMatch(/ulimit -n 384|MAX_OPEN_SEGMENTS to at most 172/);
  });
});
