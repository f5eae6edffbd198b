// Idempotency-Key across SIGKILL: keyed produces under load, the broker killed while some are in flight,
// restarted, and every key retried (what a client does after a network error). Each message must be in the
// log exactly once, and every retry of an answered key must answer its first offsets, round after round.
// On both drivers; on JetStream the retries come after NATS_DUPLICATE_WINDOW_MS has passed, so JetStream's
// own message-id deduplication no longer covers them and the broker's intent records must.
import { NatsCluster } from '../support/nats-cluster';
import { BrokerProcess, makeDataDir, removeDataDir, REQUEST_TIMEOUT_MS, sleep } from './broker-process';

jest.setTimeout(180_000);

interface Driver {
  name: string;
  rounds: number;
  setUp(): Promise<Record<string, string>>;
  /** Waited between the restart and the retries. */
  retryAfterMs: number;
  tearDown(): Promise<void>;
}

const embedded: Driver = { name: 'embedded', rounds: 6, setUp: async () => ({ FSYNC: 'always' }), retryAfterMs: 0, tearDown: async () => undefined };

function jetstream(): Driver {
  let cluster: NatsCluster | null = null;
  return {
    name: 'jetstream',
    rounds: 3,
    setUp: async () => {
      cluster = await NatsCluster.start(3);
      return { STORAGE: 'jetstream', NATS_URLS: cluster.urls, NATS_DUPLICATE_WINDOW_MS: '1000', NATS_FAILOVER_TIMEOUT_MS: '500' };
    },
    retryAfterMs: 1500,
    tearDown: async () => {
      await cluster?.destroy();
    },
  };
}

const WORKERS = 12;
const TOPIC = 'keyed';
const PARTITIONS = 3;

interface KeyedRequest {
  key: string;
  path: string;
  body: unknown;
  /** The records' values, in request order: unique, so the log tells how often each was stored. */
  values: string[];
  /** Offsets per record from the first answer, when one arrived before the kill. */
  answered?: Array<{ partition: number; offset: number }>;
}

function requestFor(round: number, worker: number, i: number): KeyedRequest {
  const key = `r${round}-w${worker}-${i}`;
  if (i % 3 === 2) {
    // A batch spread over the partitions by record keys: one request, several shares.
    const values = [0, 1, 2, 3].map((j) => `${key}#${j}`);
    return { key, path: `/topics/${TOPIC}/messages/batch`, body: { messages: values.map((v, j) => ({ key: `cust-${i + j}`, message: v })) }, values };
  }
  return { key, path: `/topics/${TOPIC}/messages`, body: { message: `${key}#0` }, values: [`${key}#0`] };
}

async function send(url: string, r: KeyedRequest): Promise<{ status: number; replayed: boolean; placed: Array<{ partition: number; offset: number }> }> {
  const res = await fetch(url + r.path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': r.key },
    body: JSON.stringify(r.body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await res.json()) as { message_id?: number; partition?: number; message_ids?: number[]; results?: Array<{ partition: number }> };
  let placed: Array<{ partition: number; offset: number }> = [];
  if (res.status === 200 && body.message_ids) {
    // A spread batch names each message's partition only in results; ask the log instead (below) when absent.
    placed = body.message_ids.map((offset, j) => ({ partition: body.results?.[j]?.partition ?? -1, offset }));
  } else if (res.status === 200) placed = [{ partition: body.partition ?? 0, offset: body.message_id! }];
  return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', placed };
}

async function readLog(url: string): Promise<Map<string, Array<{ partition: number; offset: number }>>> {
  const where = new Map<string, Array<{ partition: number; offset: number }>>();
  for (let p = 0; p < PARTITIONS; p++) {
    for (let from = 0; ; ) {
      const res = await fetch(`${url}/topics/${TOPIC}/partitions/${p}/messages?from_offset=${from}&max=10000`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const page = (await res.json()) as { messages: Array<{ message_id: number; data?: string; value?: string }>; next_offset: number; end_offset: number };
      page.messages.forEach((m, k) => {
        expect(m.message_id).toBe(from + k); // dense
        const v = String(m.data ?? m.value);
        where.set(v, [...(where.get(v) ?? []), { partition: p, offset: m.message_id }]);
      });
      if (page.next_offset >= page.end_offset) break;
      from = page.next_offset;
    }
  }
  return where;
}

describe.each([embedded, jetstream()])('Idempotency-Key across crashes: $name', (driver) => {
  let dataDir: string;
  let broker: BrokerProcess | undefined;
  let env: Record<string, string>;
  const ROUNDS = driver.rounds;

  beforeAll(async () => {
    dataDir = makeDataDir();
    env = await driver.setUp();
  });
  afterAll(async () => {
    await broker?.kill9();
    await driver.tearDown();
    removeDataDir(dataDir);
  });

  it(`stores each keyed message exactly once and answers every retry with the first offsets, over ${driver.rounds} SIGKILL rounds`, async () => {
    broker = await BrokerProcess.start({ dataDir, env });
    await fetch(`${broker.url}/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: TOPIC, partitions: PARTITIONS }) });
    const all: KeyedRequest[] = [];
    let unansweredTotal = 0;
    let replayedAfterKill = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const sent: KeyedRequest[] = [];
      let stop = false;
      const url = broker.url;
      const workers = Array.from({ length: WORKERS }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const r = requestFor(round, w, i);
          sent.push(r);
          try {
            const a = await send(url, r);
            if (a.status === 200) r.answered = a.placed;
          } catch {
            return; // the kill: this request's answer is lost
          }
        }
      });
      await sleep(400 + Math.floor(Math.random() * 700));
      stop = true;
      await broker.kill9();
      await Promise.all(workers);
      const unanswered = sent.filter((r) => !r.answered).length;
      unansweredTotal += unanswered;
      all.push(...sent);

      broker = await broker.restart();
      await sleep(driver.retryAfterMs);
      // Retry every key ever sent (this round's and all earlier ones, still inside the window).
      for (const r of all) {
        const a = await send(broker.url, r);
        expect({ key: r.key, status: a.status }).toEqual({ key: r.key, status: 200 });
        if (r.answered) {
          expect({ key: r.key, replayed: a.replayed, offsets: a.placed.map((x) => x.offset) }).toEqual({
            key: r.key,
            replayed: true,
            offsets: r.answered.map((x) => x.offset),
          });
        } else {
          if (a.replayed) replayedAfterKill++;
          r.answered = a.placed;
        }
      }
      const log = await readLog(broker.url);
      for (const r of all) {
        r.values.forEach((v, j) => {
          const places = log.get(v) ?? [];
          expect({ value: v, stored: places.length }).toEqual({ value: v, stored: 1 });
          expect(places[0].offset).toBe(r.answered![j].offset);
        });
      }
      expect(log.size).toBe(all.reduce((n, r) => n + r.values.length, 0));
    }
    // The kills really cut requests off mid-flight, and some of those had reached the log before the kill.
    expect(unansweredTotal).toBeGreaterThanOrEqual(ROUNDS);
    console.log(`${driver.name}: idempotent crash rounds: ${ROUNDS}, requests: ${all.length}, cut off by the kill: ${unansweredTotal}, of which already stored (replayed on retry): ${replayedAfterKill}`);
  });
});
