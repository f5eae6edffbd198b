// GET /topics/{topic}/stream over real HTTP, read as a raw event stream: start positions, resume with Last-Event-ID
// (no gap, no duplicate), heartbeats, a slow client dropped with bounded memory, many streams, the MAX_STREAMS cap,
// shutdown and topic deletion. The server under test runs in this process (startApp), so nothing here blocks it.
import { StreamService } from '../../src/stream/stream.service';
import { SseClient, type StreamedMessage } from '../support/sse-client';
import { removeDir, startApp, type TestApp } from '../support/test-app';

async function call(t: TestApp, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function produceBatch(t: TestApp, topic: string, messages: unknown[], partition?: number): Promise<number[]> {
  const r = await call(t, 'POST', `/topics/${topic}/messages/batch${partition === undefined ? '' : `?partition=${partition}`}`, { messages });
  expect(r.status).toBe(200);
  return r.body.message_ids;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

const readyOf = (c: SseClient) => c.events.find((e) => e.event === 'ready');
const isReady = (c: SseClient) => () => readyOf(c) !== undefined;

describe('GET /topics/{topic}/stream', () => {
  let t: TestApp;
  const open: SseClient[] = [];
  const stream = async (path: string, headers: Record<string, string> = {}) => {
    const c = await SseClient.open(t.url, path, headers);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startApp({ STREAM_HEARTBEAT_MS: '300' });
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('answers text/event-stream: a ready event with the start positions, then live messages from the log end', async () => {
    await call(t, 'POST', '/topics', { name: 'live', partitions: 1 });
    await produceBatch(t, 'live', [{ message: 'old-0' }, { message: 'old-1' }]);
    const c = await stream('/topics/live/stream');
    expect(c.status).toBe(200);
    expect(c.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(c.res.headers['cache-control']).toContain('no-store');
    await c.waitFor(isReady(c), 2000, 'ready');
    const ready = readyOf(c)!;
    expect(ready.id).toBe('0:2');
    expect(JSON.parse(ready.data)).toEqual({ topic: 'live', positions: [{ partition: 0, offset: 2 }], heartbeat_ms: 300 });

    await call(t, 'POST', '/topics/live/messages', { value: { order: 42 }, key: 'customer-17', headers: { source: 'test' } });
    await c.waitFor(() => c.messages.length === 1, 3000, 'the new message');
    const [m] = c.messages;
    expect(m).toMatchObject({ message_id: 2, partition: 0, data: { order: 42 }, encoding: 'json', key: 'customer-17', headers: { source: 'test' } });
    expect(c.events.find((e) => e.event === 'message')!.id).toBe('0:3');
  });

  it('starts at position=beginning, at from_offset, or at a consumer cursor without ever committing it', async () => {
    await call(t, 'POST', '/topics', { name: 'starts', partitions: 1 });
    await produceBatch(t, 'starts', Array.from({ length: 10 }, (_, i) => ({ message: `m${i}` })));

    const begin = await stream('/topics/starts/stream?position=beginning');
    await begin.waitFor(() => begin.messages.length === 10, 3000, 'all ten');
    expect(begin.messages.map((m) => m.data)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));

    const from = await stream('/topics/starts/stream?from_offset=7');
    await from.waitFor(() => from.messages.length === 3, 3000, 'three from offset 7');
    expect(from.messages.map((m) => m.message_id)).toEqual([7, 8, 9]);

    expect((await call(t, 'POST', '/topics/starts/messages/4/ack?consumer_id=billing')).status).toBe(200);
    const cursor = await stream('/topics/starts/stream?consumer_id=billing');
    await cursor.waitFor(() => cursor.messages.length === 5, 3000, 'five from the cursor');
    expect(cursor.messages.map((m) => m.message_id)).toEqual([5, 6, 7, 8, 9]);
    const after = await call(t, 'GET', '/topics/starts/consumers/billing');
    expect(after.body).toMatchObject({ offset: 5, lag: 5 });

    // Offsets past the log end are kept inside the log: the stream waits at the end.
    const past = await stream('/topics/starts/stream?from_offset=1000');
    await past.waitFor(isReady(past), 2000, 'ready');
    expect(readyOf(past)!.id).toBe('0:10');
  });

  it('answers JSON errors before the stream begins: unknown topic or partition 404, bad start or Last-Event-ID 400', async () => {
    await call(t, 'POST', '/topics', { name: 'errs', partitions: 2 });
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/topics/nope/stream', {}, 404],
      ['/topics/errs/stream?partition=2', {}, 404],
      ['/topics/errs/stream?position=middle', {}, 400],
      ['/topics/errs/stream?from_offset=3&position=end', {}, 400],
      ['/topics/errs/stream?from_offset=-1', {}, 400],
      ['/topics/errs/stream?consumer_id=bad%20id', {}, 400],
      ['/topics/errs/stream', { 'last-event-id': 'garbage' }, 400],
      ['/topics/errs/stream', { 'last-event-id': '0:1,0:2' }, 400],
      ['/topics/errs/stream?last_event_id=1:x', {}, 400],
      ['/topics/bad%21name/stream', {}, 400],
    ];
    for (const [path, headers, status] of cases) {
      const c = await stream(path, headers);
      expect([path, c.status]).toEqual([path, status]);
      expect(c.res.headers['content-type']).toContain('application/json');
      const body = await c.json();
      expect(typeof body.detail).toBe('string');
    }
    expect(t.app.get(StreamService).openStreams).toBe(0);
  });

  it('resumes after disconnects with Last-Event-ID: every message of every partition exactly once, in order', async () => {
    await call(t, 'POST', '/topics', { name: 'resume', partitions: 3 });
    const total = 300;
    // Produced while the client connects, reads, drops and reconnects.
    const producing = (async () => {
      for (let i = 0; i < total; i += 10) {
        await produceBatch(t, 'resume', Array.from({ length: 10 }, (_, k) => ({ message: `v${i + k}`, key: `k${(i + k) % 7}` })));
        await sleep(5);
      }
    })();
    const received: StreamedMessage[] = [];
    let lastEventId = '';
    let reconnects = 0;
    for (const dropAfter of [40, 100, 170, 240, Infinity]) {
      const c = await stream(reconnects === 0 ? '/topics/resume/stream?position=beginning' : '/topics/resume/stream', lastEventId ? { 'last-event-id': lastEventId } : {});
      expect(c.status).toBe(200);
      await c.waitFor(() => received.length + c.messages.length >= Math.min(dropAfter, total), 10_000, `${dropAfter} messages`);
      // Only what arrived completely counts: the id of the last whole event is what a client can send back.
      received.push(...c.messages);
      lastEventId = c.lastEventId;
      c.destroy();
      reconnects++;
    }
    await producing;
    expect(reconnects).toBe(5);
    const values = received.map((m) => m.data as string);
    expect(new Set(values).size).toBe(values.length); // no duplicates
    expect(values.slice().sort()).toEqual(Array.from({ length: total }, (_, i) => `v${i}`).sort()); // no gaps
    for (let p = 0; p < 3; p++) {
      const offsets = received.filter((m) => m.partition === p).map((m) => m.message_id);
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i)); // dense and in order per partition
    }
  }, 30_000);

  it('a reconnect with the ready id gets what was produced while away (position=end does not skip it); last_event_id works as a query parameter too', async () => {
    await call(t, 'POST', '/topics', { name: 'away', partitions: 2 });
    await produceBatch(t, 'away', [{ message: 'before' }], 0);
    const first = await stream('/topics/away/stream');
    await first.waitFor(isReady(first), 2000, 'ready');
    const readyId = first.lastEventId;
    expect(readyId).toBe('0:1,1:0');
    first.destroy();
    await produceBatch(t, 'away', [{ message: 'a0' }, { message: 'a1' }], 0);
    await produceBatch(t, 'away', [{ message: 'b0' }], 1);
    const again = await stream(`/topics/away/stream?last_event_id=${encodeURIComponent(readyId)}`);
    await again.waitFor(() => again.messages.length === 3, 3000, 'the three produced while away');
    expect(again.messages.map((m) => m.data).sort()).toEqual(['a0', 'a1', 'b0']);
    expect(again.lastEventId).toBe('0:3,1:1');
  });

  it('sends a heartbeat comment after STREAM_HEARTBEAT_MS without traffic', async () => {
    await call(t, 'POST', '/topics', { name: 'quiet', partitions: 1 });
    const c = await stream('/topics/quiet/stream');
    await c.waitFor(isReady(c), 2000, 'ready');
    const started = Date.now();
    await c.waitFor(() => c.comments.length >= 4, 3000, 'four heartbeats');
    const took = Date.now() - started;
    // Four at 300 ms: not much sooner (no spinning), not much later (no lost timer).
    expect(took).toBeGreaterThanOrEqual(4 * 300 - 50);
    expect(took).toBeLessThan(4 * 300 + 1500);
    expect(c.comments[0]).toMatch(/^heartbeat \d{4}-\d\d-\d\dT/);
    expect(c.events).toHaveLength(1); // only `ready`: heartbeats are comments, invisible to EventSource
  });

  it('a whole-topic stream follows partitions added later', async () => {
    await call(t, 'POST', '/topics', { name: 'grow', partitions: 1 });
    const c = await stream('/topics/grow/stream');
    await c.waitFor(isReady(c), 2000, 'ready');
    expect((await call(t, 'PATCH', '/topics/grow', { partitions: 2 })).status).toBe(200);
    await produceBatch(t, 'grow', [{ message: 'on the new partition' }], 1);
    await c.waitFor(() => c.messages.length === 1, 3000, 'the message on partition 1');
    expect(c.messages[0]).toMatchObject({ partition: 1, message_id: 0 });
    expect(c.lastEventId).toBe('0:0,1:1');
  });

  it('ends with an `end` event when its topic is deleted', async () => {
    await call(t, 'POST', '/topics', { name: 'doomed', partitions: 2 });
    const c = await stream('/topics/doomed/stream');
    await c.waitFor(isReady(c), 2000, 'ready');
    expect((await call(t, 'DELETE', '/topics/doomed')).status).toBe(200);
    await c.waitFor(() => c.events.some((e) => e.event === 'end'), 3000, 'the end event');
    expect(JSON.parse(c.events.find((e) => e.event === 'end')!.data)).toEqual({ reason: 'topic_deleted' });
    await c.closed;
  });

  it('serves 50 streams at once, each getting every message in order, and frees their slots when they leave', async () => {
    await call(t, 'POST', '/topics', { name: 'fanout', partitions: 1 });
    const service = t.app.get(StreamService);
    const clients = await Promise.all(Array.from({ length: 50 }, () => stream('/topics/fanout/stream')));
    await Promise.all(clients.map((c) => c.waitFor(isReady(c), 5000, 'ready')));
    expect(clients.every((c) => c.status === 200)).toBe(true);
    expect(service.openStreams).toBe(50);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/^minikafka_streams_open 50$/m);

    for (let i = 0; i < 4; i++) await produceBatch(t, 'fanout', Array.from({ length: 5 }, (_, k) => ({ message: `f${i * 5 + k}` })));
    await Promise.all(clients.map((c) => c.waitFor(() => c.messages.length === 20, 5000, 'twenty messages')));
    for (const c of clients) expect(c.messages.map((m) => m.message_id)).toEqual(Array.from({ length: 20 }, (_, i) => i));

    for (const c of clients) c.destroy();
    await until(() => service.openStreams === 0, 3000, 'every slot released');
  }, 30_000);
});

describe('GET /topics/{topic}/stream: the MAX_STREAMS cap', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ MAX_STREAMS: '3' });
    await call(t, 'POST', '/topics', { name: 'capped', partitions: 1 });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('admits MAX_STREAMS concurrent streams and answers 503 JSON with Retry-After beyond; a freed slot is reusable', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => SseClient.open(t.url, '/topics/capped/stream')));
    const admitted = clients.filter((c) => c.status === 200);
    const refused = clients.filter((c) => c.status === 503);
    expect(admitted).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const c of refused) {
      expect(c.res.headers['retry-after']).toBe('1');
      expect(await c.json()).toEqual({ detail: 'Too many open streams (MAX_STREAMS=3); retry shortly', code: 'SERVICE_UNAVAILABLE', status: 503 });
    }
    admitted[0].destroy();
    await until(() => t.app.get(StreamService).openStreams === 2, 3000, 'the slot to be freed');
    const again = await SseClient.open(t.url, '/topics/capped/stream');
    expect(again.status).toBe(200);
    for (const c of [...admitted, again]) c.destroy();
  });
});

describe('GET /topics/{topic}/stream: a client that stops reading', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ STREAM_DRAIN_TIMEOUT_MS: '500', FSYNC: 'never' });
    await call(t, 'POST', '/topics', { name: 'firehose', partitions: 1 });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('is dropped once its socket accepts nothing for STREAM_DRAIN_TIMEOUT_MS, with at most about one message queued; it resumes later without a gap', async () => {
    const service = t.app.get(StreamService);
    const c = await SseClient.open(t.url, '/topics/firehose/stream');
    await c.waitFor(isReady(c), 2000, 'ready');
    c.pause();
    // Far more than the kernel's socket buffers hold (4 MiB send + receive window): 512 KiB messages until the server gives up.
    const value = 'x'.repeat(512 * 1024);
    let produced = 0;
    const started = Date.now();
    while (service.openStreams > 0) {
      if (produced >= 128) throw new Error(`the stream was not dropped after ${produced} messages of 512 KiB`);
      await produceBatch(t, 'firehose', Array.from({ length: 8 }, () => ({ message: value })));
      produced += 8;
      await sleep(50);
    }
    const droppedAfterMs = Date.now() - started;
    expect(droppedAfterMs).toBeLessThan(15_000);
    // Megabytes went in, yet the server never queued more than one frame past the socket's 16 KiB high-water mark.
    expect(service.peakQueuedBytes).toBeLessThan(16 * 1024 + 600 * 1024);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/^minikafka_streams_ended_total\{reason="slow_client"\} 1$/m);

    // The client wakes up: it reads what the kernel held, then finds the connection closed (no `end` event: it was cut off).
    c.resume();
    await c.closed;
    const got = c.messages.length;
    expect(got).toBeLessThan(produced);
    expect(c.events.some((e) => e.event === 'end')).toBe(false);
    // Reconnecting with its last id, it gets the rest: dropped, never lost.
    const again = await SseClient.open(t.url, '/topics/firehose/stream', { 'last-event-id': c.lastEventId });
    await again.waitFor(() => again.messages.length === produced - got, 90_000, 'the rest');
    expect(again.messages[0].message_id).toBe(got);
    again.destroy();
  }, 150_000);
});

describe('GET /topics/{topic}/stream: shutdown and API keys', () => {
  it('app.close() ends every stream with an `end` event (reason shutdown) and does not wait for clients', async () => {
    const t = await startApp();
    try {
      await call(t, 'POST', '/topics', { name: 'bye', partitions: 2 });
      const clients = await Promise.all([SseClient.open(t.url, '/topics/bye/stream'), SseClient.open(t.url, '/topics/bye/stream?partition=1')]);
      await Promise.all(clients.map((c) => c.waitFor(isReady(c), 2000, 'ready')));
      const started = Date.now();
      await t.close();
      expect(Date.now() - started).toBeLessThan(3000);
      for (const c of clients) {
        await c.closed;
        expect(c.events.at(-1)).toEqual({ event: 'end', data: '{"reason":"shutdown"}' });
      }
    } finally {
      removeDir(t.dataDir);
    }
  });

  it('needs a key with the consume right, sent as X-API-Key or a bearer token (never in the URL)', async () => {
    const keys = [
      { name: 'reader', key: 'reader-key-0123456789', rights: [{ topics: '*', actions: ['consume'] }] },
      { name: 'writer', key: 'writer-key-0123456789', rights: [{ topics: '*', actions: ['produce', 'admin'] }] },
    ];
    const t = await startApp({ AUTH_KEYS: JSON.stringify(keys) });
    try {
      expect((await call(t, 'POST', '/topics', { name: 'secret' }, { 'x-api-key': 'writer-key-0123456789' })).status).toBe(201);
      const expectStatus = async (path: string, headers: Record<string, string>, status: number) => {
        const c = await SseClient.open(t.url, path, headers);
        expect([path, headers, c.status]).toEqual([path, headers, status]);
        c.destroy();
      };
      await expectStatus('/topics/secret/stream', {}, 401);
      await expectStatus('/topics/secret/stream?api_key=reader-key-0123456789', {}, 401);
      await expectStatus('/topics/secret/stream', { 'x-api-key': 'writer-key-0123456789' }, 403);
      await expectStatus('/topics/secret/stream', { 'x-api-key': 'reader-key-0123456789' }, 200);
      await expectStatus('/topics/secret/stream', { authorization: 'Bearer reader-key-0123456789' }, 200);
    } finally {
      await t.close();
      removeDir(t.dataDir);
    }
  });
});
