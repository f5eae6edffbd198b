// The consumption model over HTTP: keys, headers, encodings, partitions (Kafka's murmur2), 207 batches,
// idempotent produce (surviving a restart), NDJSON in and out, long polling, seek by timestamp.
import request from 'supertest';
import { partitionForKey } from '../../src/storage/partitioner';
import { removeDir, startApp, tempDataDir, type TestApp } from '../support/test-app';

describe('messages: keys, headers, encodings, partitions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
    await request(t.url).post('/topics').send({ name: 'orders', partitions: 4 }).expect(201);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('round-trips text, JSON and base64 values with key, headers and a producer timestamp', async () => {
    const ts = Date.now() - 5000;
    const a = await request(t.url).post('/topics/kv/messages').send({ value: { order: 42, items: ['x'] }, key: 'k1', headers: { source: 'test' }, timestamp: ts }).expect(200);
    expect(a.body).toEqual({ message_id: 0 });
    await request(t.url).post('/topics/kv/messages').send({ value: Buffer.from([0, 1, 255]).toString('base64'), encoding: 'base64' }).expect(200);
    await request(t.url).post('/topics/kv/messages').send({ message: 'plain' }).expect(200);
    const res = await request(t.url).get('/topics/kv/partitions/0/messages').expect(200);
    expect(res.body.messages[0]).toEqual({ message_id: 0, partition: 0, data: { order: 42, items: ['x'] }, encoding: 'json', timestamp: ts, key: 'k1', headers: { source: 'test' } });
    expect(res.body.messages[1]).toMatchObject({ data: 'AAH/', encoding: 'base64' });
    expect(res.body.messages[2]).toMatchObject({ data: 'plain', encoding: 'utf8' });
    expect(res.body.messages[2].key).toBeUndefined();
    // The seed poll keeps the seed's shape on a one-partition topic.
    await request(t.url).get('/topics/kv/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 0, data: { order: 42, items: ['x'] } });
  });

  it('rejects bad message fields with 400', async () => {
    for (const body of [
      { value: 'x', encoding: 'base64' },
      { value: 'not base64!', encoding: 'base64' },
      { message: 'x', value: 'y' },
      { message: 'x', key: 5 },
      { message: 'x', headers: { a: 1 } },
      { message: 'x', timestamp: Date.now() + 10 * 3600_000 },
      { message: 'x', partition: 99 },
      { message: 'x', nope: 1 },
    ]) {
      const res = await request(t.url).post('/topics/orders/messages').send(body);
      expect([400, 404]).toContain(res.status);
      expect(typeof res.body.detail).toBe('string');
    }
  });

  it('sends a keyed message where Kafka would (murmur2) and keeps per-key order', async () => {
    for (const key of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      const placed = new Set<number>();
      for (let i = 0; i < 3; i++) {
        const res = await request(t.url).post('/topics/orders/messages').send({ message: `${key}-${i}`, key }).expect(200);
        placed.add(res.body.partition);
      }
      expect([...placed]).toEqual([partitionForKey(Buffer.from(key), 4)]);
      const p = [...placed][0];
      const page = await request(t.url).get(`/topics/orders/partitions/${p}/messages`).query({ max: 1000 }).expect(200);
      const mine = page.body.messages.filter((m: { key?: string }) => m.key === key).map((m: { data: string }) => m.data);
      expect(mine).toEqual([`${key}-0`, `${key}-1`, `${key}-2`]);
    }
  });

  it('polls the whole topic or one partition, and requires the partition to ack on a multi-partition topic', async () => {
    const m = await request(t.url).get('/topics/orders/messages').query({ consumer_id: 'w' }).expect(200);
    expect(typeof m.body.partition).toBe('number');
    await request(t.url).post(`/topics/orders/messages/${m.body.message_id}/ack`).query({ consumer_id: 'w' }).expect(400);
    await request(t.url).post(`/topics/orders/messages/${m.body.message_id}/ack`).query({ consumer_id: 'w', partition: m.body.partition }).expect(200);
    const cursor = await request(t.url).get('/topics/orders/consumers/w').query({ partition: m.body.partition }).expect(200);
    expect(cursor.body.offset).toBe(m.body.message_id + 1);
    // Draining every partition through the whole-topic poll sees all 15 messages exactly once.
    const seen: string[] = [];
    for (;;) {
      const res = await request(t.url).get('/topics/orders/consumers/drain/messages').query({ max: 100 }).expect(200);
      if (res.body.messages.length === 0) break;
      for (const x of res.body.messages) seen.push(x.data);
      const last = res.body.messages[res.body.messages.length - 1];
      await request(t.url).post('/topics/orders/consumers/drain/commit').send({ offset: last.message_id, partition: last.partition }).expect(200);
    }
    expect(seen.sort()).toEqual(['alice', 'bob', 'carol', 'dave', 'erin'].flatMap((k) => [0, 1, 2].map((i) => `${k}-${i}`)).sort());
  });

  it('grows partitions but never shrinks them', async () => {
    const res = await request(t.url).patch('/topics/orders').send({ partitions: 6 }).expect(200);
    expect(res.body.partitions).toBe(6);
    await request(t.url).patch('/topics/orders').send({ partitions: 2 }).expect(409);
    await request(t.url).get('/topics/orders/partitions/5/messages').expect(200);
  });

  it('answers 207 with a status per message when some of a batch are invalid, storing the valid ones', async () => {
    const res = await request(t.url)
      .post('/topics/mixed/messages/batch')
      .send({ messages: [{ message: 'ok-0' }, { message: 5 }, { value: { a: 1 } }, { message: 'x'.repeat(2 * 1024 * 1024) }] });
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([200, 400, 200, 413]);
    expect(res.body.message_ids).toEqual([0, null, 1, null]);
    const page = await request(t.url).get('/topics/mixed/partitions/0/messages').expect(200);
    expect(page.body.messages.map((m: { data: unknown }) => m.data)).toEqual(['ok-0', { a: 1 }]);
  });

  it('takes NDJSON batches and answers NDJSON fetches', async () => {
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ message: `n${i}`, key: `k${i}` })).join('\n') + '\n';
    const res = await request(t.url).post('/topics/nd/messages/batch').set('Content-Type', 'application/x-ndjson').send(lines).expect(200);
    expect(res.body.message_ids).toEqual([0, 1, 2, 3, 4]);
    await request(t.url).post('/topics/nd/messages/batch').set('Content-Type', 'application/x-ndjson').send('{"message":"a"}\nnot json\n').expect(400);
    const out = await request(t.url).get('/topics/nd/partitions/0/messages').set('Accept', 'application/x-ndjson').buffer(true).parse((r, cb) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => cb(null, text));
    });
    expect(out.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(out.headers['x-next-offset']).toBe('5');
    const parsed = (out.body as string).trim().split('\n').map((l) => JSON.parse(l));
    expect(parsed.map((m) => [m.message_id, m.data, m.key])).toEqual([0, 1, 2, 3, 4].map((i) => [i, `n${i}`, `k${i}`]));
  });

  it('seeks a consumer to the first message at or after a timestamp', async () => {
    const base = Date.now() - 60_000;
    const messages = Array.from({ length: 30 }, (_, i) => ({ message: `t${i}`, timestamp: base + i * 1000 }));
    await request(t.url).post('/topics/timed/messages/batch').send({ messages }).expect(200);
    const res = await request(t.url).put('/topics/timed/consumers/c').send({ timestamp: base + 12_500 }).expect(200);
    expect(res.body.offset).toBe(13);
    await request(t.url).get('/topics/timed/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 13, data: 't13' });
    const past = await request(t.url).put('/topics/timed/consumers/c').send({ timestamp: base + 999_999 }).expect(200);
    expect(past.body.offset).toBe(30);
  });
});

describe('long polling', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
    await request(t.url).post('/topics/live/create').expect(200);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('holds a poll until a message arrives, then answers at once', async () => {
    const started = Date.now();
    const poll = request(t.url).get('/topics/live/messages').query({ consumer_id: 'lp', wait_ms: 10_000 });
    const pending = poll.then((r) => ({ r, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 300));
    const produced = Date.now();
    await request(t.url).post('/topics/live/messages').query({ message: 'wake up' }).expect(200);
    const { r, at } = await pending;
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ message_id: 0, data: 'wake up' });
    expect(at - started).toBeGreaterThanOrEqual(300); // it waited for the message ...
    expect(at - produced).toBeLessThan(5000); // ... and did not wait out the full 10 s
  });

  it('answers the seed 404 after wait_ms when nothing arrives, and an empty list on the batch route', async () => {
    await request(t.url).post('/topics/live/messages/0/ack').query({ consumer_id: 'lp' }).expect(200);
    const started = Date.now();
    await request(t.url).get('/topics/live/messages').query({ consumer_id: 'lp', wait_ms: 200 }).expect(404, { detail: 'No new messages' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const res = await request(t.url).get('/topics/live/consumers/lp/messages').query({ wait_ms: 100 }).expect(200);
    expect(res.body).toEqual({ messages: [] });
  });

  it('wakes a fetch waiting at the log end', async () => {
    const pending = request(t.url).get('/topics/live/partitions/0/messages').query({ from_offset: 1, wait_ms: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await request(t.url).post('/topics/live/messages').query({ message: 'second' }).expect(200);
    const res = await pending;
    expect(res.body.messages.map((m: { data: string }) => m.data)).toEqual(['second']);
  });
});

describe('idempotent produce', () => {
  const dataDir = tempDataDir();
  afterAll(() => removeDir(dataDir));

  it('answers a retried request with the original offsets, also after a restart', async () => {
    const first = await startApp({}, dataDir);
    try {
      const a = await request(first.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'charge' }).expect(200);
      const b = await request(first.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'charge' }).expect(200);
      expect(b.body).toEqual(a.body);
      expect(b.headers['idempotent-replayed']).toBe('true');
      const batch1 = await request(first.url).post('/topics/pay/messages/batch').set('Idempotency-Key', 'req-2').send({ messages: [{ message: 'x' }, { message: 'y' }] }).expect(200);
      const [c, d] = await Promise.all([
        request(first.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-3').send({ message: 'concurrent' }),
        request(first.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-3').send({ message: 'concurrent' }),
      ]);
      expect(c.body).toEqual(d.body);
      await request(first.url).post('/topics/pay/messages').set('Idempotency-Key', 'bad key with spaces').send({ message: 'x' }).expect(400);
      // The same key for another request is refused, not answered with the first request's offsets.
      const reused = await request(first.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'refund' }).expect(422);
      expect(reused.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect(reused.body.detail).toMatch(/already used .* for a different request.*new key/);
      await request(first.url).post('/topics/pay/messages/batch').set('Idempotency-Key', 'req-2').send({ messages: [{ message: 'x' }, { message: 'z' }] }).expect(422);
      await first.close();
      const second = await startApp({}, dataDir);
      try {
        const again = await request(second.url).post('/topics/pay/messages/batch').set('Idempotency-Key', 'req-2').send({ messages: [{ message: 'x' }, { message: 'y' }] }).expect(200);
        expect(again.body).toEqual(batch1.body);
        await request(second.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'refund' }).expect(422);
        const page = await request(second.url).get('/topics/pay/partitions/0/messages').expect(200);
        expect(page.body.messages.map((m: { data: string }) => m.data)).toEqual(['charge', 'x', 'y', 'concurrent']);
      } finally {
        await second.close();
      }
    } finally {
      await first.close().catch(() => undefined);
    }
  });
});
