// The TypeScript client (clients/typescript) against the real app: seed-shaped Producer/Consumer, the at-least-once
// for-await loop, retries on 429 / 503 / network errors honoring Retry-After, and API keys.
import { createServer } from 'node:net';
import {
  BatchPartlyRejected,
  BrokerError,
  createBrokerClient,
  type PolledMessage,
  type RetryEvent,
} from '../../clients/typescript/src/index';
import { removeDir, startApp, type TestApp } from '../support/test-app';

async function collect(iterable: AsyncIterable<PolledMessage>, limit = Infinity): Promise<PolledMessage[]> {
  const seen: PolledMessage[] = [];
  for await (const m of iterable) {
    seen.push(m);
    if (seen.length >= limit) break;
  }
  return seen;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('TypeScript client', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('sends 20 messages, iterates them with for await, acks each after the body; the cursor ends at 20', async () => {
    const broker = createBrokerClient(t.url);
    await broker.createTopic('ts-twenty');
    await broker.createTopic('ts-twenty'); // idempotent, like the seed's create
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(await broker.producer.send('ts-twenty', `message ${i}`));
    expect(ids).toEqual([...Array(20).keys()]);

    const consumer = broker.consumer('ts-twenty', 'worker', { stopWhenIdle: true });
    const received: string[] = [];
    const cursorDuringBody: number[] = [];
    for await (const m of consumer) {
      received.push(m.data);
      // The ack comes after the body: while the body runs, the cursor still points at this message.
      cursorDuringBody.push((await broker.cursor('ts-twenty', 'worker')).offset - m.message_id);
    }
    expect(received).toEqual([...Array(20).keys()].map((i) => `message ${i}`));
    expect(cursorDuringBody).toEqual(Array(20).fill(0));
    const cursor = await broker.cursor('ts-twenty', 'worker');
    expect(cursor).toMatchObject({ offset: 20, lag: 0, committed: true });
    expect(await consumer.poll()).toBeNull();
  });

  it('sendBatch answers every offset; poll() and ack() work like the seed Consumer', async () => {
    const broker = createBrokerClient(t.url);
    expect(await broker.producer.sendBatch('ts-batch', ['a', 'b', 'c'])).toEqual([0, 1, 2]);
    const consumer = broker.consumer('ts-batch', 'c1');
    expect(await consumer.poll()).toEqual({ message_id: 0, data: 'a' });
    expect(await consumer.poll()).toEqual({ message_id: 0, data: 'a' }); // no ack yet: the same message
    await consumer.ack(0);
    await consumer.ack(0); // a repeated ack is a no-op
    expect(await consumer.poll()).toEqual({ message_id: 1, data: 'b' });
  });

  it('when the loop body throws, the message is not acked, the error propagates, and it is delivered again', async () => {
    const broker = createBrokerClient(t.url);
    await broker.producer.sendBatch('ts-throw', ['m0', 'm1', 'm2', 'm3']);
    const consumer = broker.consumer('ts-throw', 'fragile', { stopWhenIdle: true });
    const boom = new Error('handler failed');
    const handled: number[] = [];
    await expect(
      (async () => {
        for await (const m of consumer) {
          if (m.message_id === 2) throw boom;
          handled.push(m.message_id);
        }
      })(),
    ).rejects.toBe(boom);
    expect(handled).toEqual([0, 1]);
    expect((await broker.cursor('ts-throw', 'fragile')).offset).toBe(2);
    expect(await consumer.poll()).toEqual({ message_id: 2, data: 'm2' });
    expect((await collect(consumer)).map((m) => m.message_id)).toEqual([2, 3]);
    expect((await broker.cursor('ts-throw', 'fragile')).offset).toBe(4);
  });

  it('break leaves the current message unacked (redelivered), like a throw', async () => {
    const broker = createBrokerClient(t.url);
    await broker.producer.sendBatch('ts-break', ['x', 'y']);
    const consumer = broker.consumer('ts-break', 'b', { stopWhenIdle: true });
    expect((await collect(consumer, 1)).map((m) => m.data)).toEqual(['x']);
    expect((await broker.cursor('ts-break', 'b')).offset).toBe(0);
    expect((await collect(consumer)).map((m) => m.data)).toEqual(['x', 'y']);
  });

  it('waits for new messages with a doubling back-off on 404, not a busy loop, and stops on abort', async () => {
    const polls: string[] = [];
    const broker = createBrokerClient(t.url, {
      fetch: (request) => {
        if (request.method === 'GET' && new URL(request.url).pathname.endsWith('/messages')) polls.push(request.url);
        return fetch(request);
      },
    });
    const abort = new AbortController();
    const consumer = broker.consumer('ts-wait', 'late', { signal: abort.signal, idleInitialMs: 50, idleMaxMs: 400 });
    const received: string[] = [];
    const loop = (async () => {
      for await (const m of consumer) {
        received.push(m.data);
        abort.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 1200));
    const idlePolls = polls.length;
    // 50 + 100 + 200 + 400 + 400 ms of back-off fit in 1.2 s: a handful of polls, not hundreds.
    expect(idlePolls).toBeGreaterThanOrEqual(3);
    expect(idlePolls).toBeLessThanOrEqual(8);
    await broker.producer.send('ts-wait', 'finally');
    await loop;
    expect(received).toEqual(['finally']);
    // wait_ms is sent only when asked for: the seed's poll stays the seed's request.
    expect(polls.every((u) => !u.includes('wait_ms'))).toBe(true);
    // The body completed before the abort took effect, so the message was acked.
    expect((await broker.cursor('ts-wait', 'late')).offset).toBe(1);
  });

  it('long polls with waitMs: one held request answers as soon as a message arrives', async () => {
    const polls: string[] = [];
    const broker = createBrokerClient(t.url, {
      fetch: (request) => {
        if (request.method === 'GET' && new URL(request.url).pathname === '/topics/ts-longpoll/messages') polls.push(request.url);
        return fetch(request);
      },
    });
    await broker.createTopic('ts-longpoll');
    const consumer = broker.consumer('ts-longpoll', 'lp', { waitMs: 5000 });
    const started = Date.now();
    const first = (async () => {
      for await (const m of consumer) return { m, after: Date.now() - started };
      return undefined;
    })();
    await new Promise((r) => setTimeout(r, 400));
    await broker.producer.send('ts-longpoll', 'held');
    const got = await first;
    expect(got?.m).toEqual({ message_id: 0, data: 'held' });
    expect(got!.after).toBeGreaterThanOrEqual(350);
    expect(got!.after).toBeLessThan(3000);
    expect(polls).toHaveLength(1);
    expect(new URL(polls[0]!).searchParams.get('wait_ms')).toBe('5000');
  });

  it('consumes every partition of a keyed topic and acks each message on its own partition', async () => {
    const broker = createBrokerClient(t.url);
    await broker.createTopic('ts-parts', 3);
    for (let i = 0; i < 12; i++) await broker.producer.send('ts-parts', `m${i}`, { key: `customer-${i % 4}` });
    const seen = await collect(broker.consumer('ts-parts', 'all', { stopWhenIdle: true }));
    expect(seen.map((m) => m.data).sort()).toEqual([...Array(12).keys()].map((i) => `m${i}`).sort());
    expect(new Set(seen.map((m) => m.partition)).size).toBeGreaterThan(1);
    let committed = 0;
    for (const p of [0, 1, 2]) committed += (await broker.cursor('ts-parts', 'all', p)).offset;
    expect(committed).toBe(12);
  });

  it('carries JSON values: Consumer<T> types data as the value that was produced', async () => {
    const broker = createBrokerClient(t.url);
    await broker.producer.send('ts-json', { value: { order: 42, items: ['a'] } }, { headers: { source: 'test' } });
    const consumer = broker.consumer<{ order: number; items: string[] }>('ts-json', 'j');
    const m = await consumer.poll();
    expect(m?.data).toEqual({ order: 42, items: ['a'] });
    expect(m?.data.order).toBe(42);
  });

  it('sendBatch throws BatchPartlyRejected when the broker stored only some of the messages (207)', async () => {
    const broker = createBrokerClient(t.url);
    const err = await broker.producer.sendBatch('ts-207', ['ok-1', { value: '%%% not base64', encoding: 'base64' }, 'ok-2']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchPartlyRejected);
    const rejected = err as BatchPartlyRejected;
    expect(rejected.status).toBe(207);
    expect(rejected.results.map((r) => r.status)).toEqual([200, 400, 200]);
    expect(rejected.messageIds).toEqual([0, null, 1]);
    expect((await collect(broker.consumer('ts-207', 'c', { stopWhenIdle: true }))).map((m) => m.data)).toEqual(['ok-1', 'ok-2']);
  });

  it('with idempotentProduce, a retry after a lost answer does not store the message twice', async () => {
    const events: RetryEvent[] = [];
    const keys: (string | null)[] = [];
    let dropNext = true;
    const broker = createBrokerClient(t.url, {
      idempotentProduce: true,
      onRetry: (e) => events.push(e),
      retry: { baseDelayMs: 10 },
      // The broker stores the message, then the connection dies before its answer arrives.
      fetch: async (request) => {
        keys.push(request.headers.get('idempotency-key'));
        const response = await fetch(request);
        if (request.method === 'POST' && dropNext) {
          dropNext = false;
          await response.body?.cancel();
          throw new TypeError('fetch failed');
        }
        return response;
      },
    });
    expect(await broker.producer.send('ts-idem', 'once')).toBe(0);
    expect(events).toHaveLength(1);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[\x21-\x7e]{8,}$/);
    expect(keys[1]).toBe(keys[0]);
    expect((await broker.cursor('ts-idem', 'c')).log_end_offset).toBe(1);
    expect(await broker.producer.send('ts-idem', 'twice')).toBe(1); // a new send gets a new key
  });

  it('passes waitMs as wait_ms when set', async () => {
    const urls: string[] = [];
    const broker = createBrokerClient(t.url, {
      fetch: (request) => {
        urls.push(request.url);
        return fetch(request);
      },
    });
    await broker.producer.send('ts-waitms', 'w');
    const [m] = await collect(broker.consumer('ts-waitms', 'lp', { waitMs: 250, partition: 0, stopWhenIdle: true }));
    expect(m).toEqual({ message_id: 0, data: 'w' });
    const poll = new URL(urls.find((u) => new URL(u).pathname === '/topics/ts-waitms/messages' && u.includes('consumer_id'))!);
    expect(poll.searchParams.get('wait_ms')).toBe('250');
    expect(poll.searchParams.get('partition')).toBe('0');
  });

  it('retries 503 answers after their Retry-After, then succeeds', async () => {
    const events: RetryEvent[] = [];
    let refusals = 2;
    const broker = createBrokerClient(t.url, {
      onRetry: (e) => events.push(e),
      // The broker answers 503 + Retry-After when its disk is full or a partition's queue is: stand in for that.
      fetch: (request) =>
        refusals-- > 0
          ? Promise.resolve(
              new Response(JSON.stringify({ detail: 'busy', code: 'BACK_PRESSURE', status: 503 }), {
                status: 503,
                headers: { 'retry-after': '1', 'content-type': 'application/json' },
              }),
            )
          : fetch(request),
    });
    const started = Date.now();
    expect(await broker.producer.send('ts-503', 'eventually')).toBe(0);
    expect(events.map((e) => [e.attempt, e.status])).toEqual([
      [1, 503],
      [2, 503],
    ]);
    expect(events.every((e) => e.delayMs >= 1000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    // The body was sent again on the retry (a request body can be read once: the client clones it).
    expect(await broker.consumer('ts-503', 'c').poll()).toEqual({ message_id: 0, data: 'eventually' });
  });

  it('gives up on network errors after maxAttempts, backing off in between', async () => {
    const events: RetryEvent[] = [];
    const broker = createBrokerClient(`http://127.0.0.1:${await closedPort()}`, {
      retry: { maxAttempts: 3, baseDelayMs: 20 },
      onRetry: (e) => events.push(e),
    });
    // fetch's network failure is a TypeError (from Node's realm, so compared by name rather than instanceof).
    await expect(broker.producer.send('t', 'x')).rejects.toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
    expect(events.every((e) => e.status === undefined && (e.error as Error).name === 'TypeError')).toBe(true);
    expect(events[1]!.delayMs).toBeGreaterThanOrEqual(20);
  });

  it('reports errors as BrokerError with the JSON detail and code', async () => {
    const broker = createBrokerClient(t.url);
    const err = await broker.consumer('no-such-topic', 'c').poll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err).toMatchObject({ status: 404, code: 'TOPIC_NOT_FOUND' });
    await expect(broker.createTopic('bad/name')).rejects.toMatchObject({ status: expect.any(Number) });
  });
});

describe('TypeScript client under a rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SECOND: '3' });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('is answered 429 + Retry-After, waits as told, and every send eventually succeeds', async () => {
    const noRetry = createBrokerClient(t.url, { retry: { maxAttempts: 1 } });
    const first = await Promise.allSettled([...Array(6).keys()].map((i) => noRetry.producer.send('limited', `burst ${i}`)));
    const refused = first.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toBeInstanceOf(BrokerError);
    expect(refused[0]).toMatchObject({ status: 429 });

    const events: RetryEvent[] = [];
    const broker = createBrokerClient(t.url, { onRetry: (e) => events.push(e) });
    const ids: number[] = [];
    for (let i = 0; i < 8; i++) ids.push(await broker.producer.send('limited', `steady ${i}`));
    expect(new Set(ids).size).toBe(8);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.status === 429)).toBe(true);
    // Retry-After from the throttler is in whole seconds: the client waited at least that long.
    expect(events.every((e) => e.delayMs >= 1000)).toBe(true);
  }, 60_000);
});

describe('TypeScript client with API keys', () => {
  const KEY = '0123456789abcdef-key';
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      AUTH_KEYS: JSON.stringify([{ name: 't', key: KEY, rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] }]),
    });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('sends the key as a bearer token; without it, or with a wrong one, the broker answers 401', async () => {
    await expect(createBrokerClient(t.url).producer.send('secured', 'x')).rejects.toMatchObject({ status: 401 });
    await expect(createBrokerClient(t.url, { apiKey: 'wrong-key-0000000000' }).producer.send('secured', 'x')).rejects.toMatchObject({
      status: 401,
    });
    const broker = createBrokerClient(t.url, { apiKey: KEY });
    await broker.createTopic('secured');
    expect(await broker.producer.send('secured', 'hello')).toBe(0);
    const got = await collect(broker.consumer('secured', 'auth-worker', { stopWhenIdle: true }));
    expect(got).toEqual([{ message_id: 0, data: 'hello' }]);
    expect((await broker.cursor('secured', 'auth-worker')).offset).toBe(1);
  });
});
