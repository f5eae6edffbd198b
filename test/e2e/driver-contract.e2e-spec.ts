// The same HTTP behaviours against both storage drivers: the embedded log (STORAGE=embedded) and NATS
// JetStream on a real 3-node cluster started here (STORAGE=jetstream). Controllers and services do not
// know which one holds the data; this suite is what proves it.
import request from 'supertest';
import { partitionForKey } from '../../src/storage/partitioner';
import { NatsCluster } from '../support/nats-cluster';
import { removeDir, startApp, tempDataDir, type TestApp } from '../support/test-app';

jest.setTimeout(120_000);

interface Backend {
  name: 'embedded' | 'jetstream';
  setUp(): Promise<void>;
  env(): Record<string, string>;
  /** Stops and starts whatever holds the data (nothing for the embedded log: its files are the data). */
  restart(): Promise<void>;
  tearDown(): Promise<void>;
}

const embedded = (): Backend => ({
  name: 'embedded',
  setUp: async () => undefined,
  env: () => ({ STORAGE: 'embedded' }),
  restart: async () => undefined,
  tearDown: async () => undefined,
});

const jetstream = (): Backend => {
  let cluster: NatsCluster | null = null;
  return {
    name: 'jetstream',
    setUp: async () => {
      cluster = await NatsCluster.start(3);
    },
    env: () => ({ STORAGE: 'jetstream', NATS_URLS: cluster!.urls }),
    // The whole cluster down and up again: every record, cursor and topic must come back from its disks.
    restart: async () => {
      await cluster!.stopAll();
      await cluster!.startAll();
    },
    tearDown: async () => {
      await cluster?.destroy();
    },
  };
};

describe.each([embedded(), jetstream()])('storage driver contract: $name', (backend) => {
  let t: TestApp;
  const dataDir = tempDataDir();

  beforeAll(async () => {
    await backend.setUp();
    t = await startApp(backend.env(), dataDir);
  });
  afterAll(async () => {
    await t?.close();
    await backend.tearDown();
    removeDir(dataDir);
  });

  const poll = (topic: string, consumer: string) => request(t.url).get(`/topics/${topic}/messages`).query({ consumer_id: consumer });

  it('runs the seed cycle: create, produce, poll, poll again, ack, 404 at the end', async () => {
    const created = await request(t.url).post('/topics/seed.topic_1/create').expect(200);
    expect(created.body.status).toBe('created');
    for (let i = 0; i < 10; i++) {
      await request(t.url).post('/topics/seed.topic_1/messages').query({ message: `Hello, Mini Kafka! - message ${i}` }).expect(200, { message_id: i });
    }
    for (let i = 0; i < 10; i++) {
      const polled = await poll('seed.topic_1', 'my-consumer').expect(200);
      expect(polled.body).toEqual({ message_id: i, data: `Hello, Mini Kafka! - message ${i}` });
      await poll('seed.topic_1', 'my-consumer').expect(200, polled.body);
      await request(t.url).post(`/topics/seed.topic_1/messages/${i}/ack`).query({ consumer_id: 'my-consumer' }).expect(200, { status: 'ok' });
    }
    await poll('seed.topic_1', 'my-consumer').expect(404, { detail: 'No new messages' });
    // A new consumer starts at the beginning; a JSON body auto-creates a topic.
    await poll('seed.topic_1', 'late:joiner@x').expect(200, { message_id: 0, data: 'Hello, Mini Kafka! - message 0' });
    await request(t.url).post('/topics/auto-made/messages').send({ message: 'from a body' }).expect(200, { message_id: 0 });
    await poll('auto-made', 'c').expect(200, { message_id: 0, data: 'from a body' });
  });

  it('shares a topic between the workers of a consumer group: disjoint leases, ack settles, nack redelivers', async () => {
    await request(t.url).post('/topics').send({ name: 'jobs', partitions: 2 }).expect(201);
    const messages = Array.from({ length: 10 }, (_, i) => ({ message: `job-${i}`, key: `k${i}` }));
    await request(t.url).post('/topics/jobs/messages/batch').send({ messages }).expect(200);
    await request(t.url).put('/topics/jobs/groups/workers').send({ max_deliveries: 5 }).expect((r) => expect([200, 201]).toContain(r.status));
    const receive = (max: number) => request(t.url).get('/topics/jobs/groups/workers/messages').query({ max, lease_ms: 60_000 }).expect(200);
    const a = (await receive(4)).body.messages as Array<{ data: string; lease_id: string }>;
    const b = (await receive(100)).body.messages as Array<{ data: string; lease_id: string }>;
    const seen = [...a, ...b].map((m) => m.data).sort();
    expect(seen).toEqual(messages.map((m) => m.message).sort()); // every message once, to one worker
    await request(t.url).post('/topics/jobs/groups/workers/ack').send({ lease_ids: a.map((m) => m.lease_id) }).expect(200);
    await request(t.url).post('/topics/jobs/groups/workers/nack').send({ lease_ids: [b[0].lease_id] }).expect(200);
    const again = (await receive(100)).body.messages as Array<{ data: string; lease_id: string; deliveries: number }>;
    expect(again.map((m) => [m.data, m.deliveries])).toEqual([[b[0].data, 2]]);
    await request(t.url).post('/topics/jobs/groups/workers/ack').send({ lease_ids: [...b.slice(1), ...again].map((m) => m.lease_id) }).expect(200);
    expect((await receive(100)).body.messages).toEqual([]);
    const view = await request(t.url).get('/topics/jobs/groups/workers').expect(200);
    expect(JSON.stringify(view.body)).toContain('"lag":0');
  });

  it('creates topics idempotently', async () => {
    const first = await request(t.url).post('/topics').send({ name: 'idem', partitions: 2 }).expect(201);
    expect(first.body).toMatchObject({ status: 'created', topic: { name: 'idem', partitions: 2 } });
    const again = await request(t.url).post('/topics').send({ name: 'idem', partitions: 2 }).expect(200);
    expect(again.body).toMatchObject({ status: 'exists', topic: { name: 'idem', partitions: 2 } });
    // Other settings are a conflict that names the topic as it is, never a silent "exists".
    const other = await request(t.url).post('/topics').send({ name: 'idem', partitions: 5 }).expect(409);
    expect(other.body).toMatchObject({ code: 'TOPIC_EXISTS', topic: { name: 'idem', partitions: 2 } });
    await request(t.url).post('/topics/idem/create').expect(200).expect((r) => expect(r.body.status).toBe('exists'));
    const list = await request(t.url).get('/topics').expect(200);
    expect(list.body.topics.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['idem', 'seed.topic_1']));
  });

  it('answers errors: 404 unknown topic, 409 ack beyond the end, 400 invalid names', async () => {
    const missing = await poll('missing', 'c').expect(404);
    expect(missing.body.code).toBe('TOPIC_NOT_FOUND');
    await request(t.url).get('/topics/missing').expect(404);
    await request(t.url).post('/topics/missing/messages/0/ack').query({ consumer_id: 'c' }).expect(404);
    const beyond = await request(t.url).post('/topics/seed.topic_1/messages/10/ack').query({ consumer_id: 'c' }).expect(409);
    expect(beyond.body.detail).toMatch(/Cannot ack offset 10/);
    await request(t.url).post('/topics/auto-made/messages/-1/ack').query({ consumer_id: 'c' }).expect(400);
    for (const name of ['..', '%2E%2E', 'a%2Fb', 'bad%20name', 'x'.repeat(250)]) {
      await request(t.url).post(`/topics/${name}/messages`).query({ message: 'x' }).expect(400);
      await request(t.url).post(`/topics/${name}/create`).expect(400);
    }
    await poll('seed.topic_1', 'a/b').expect(400);
    await poll('seed.topic_1', '').expect(400);
    // The bad requests changed nothing.
    await poll('seed.topic_1', 'c').expect(200, { message_id: 0, data: 'Hello, Mini Kafka! - message 0' });
  });

  it('accepts the longest topic name and names with dots, dashes and underscores', async () => {
    for (const name of ['a'.repeat(249), '.hidden', 'a..b', 'x_y-z.0']) {
      await request(t.url).post(`/topics/${name}/messages`).query({ message: name.slice(0, 8) }).expect(200, { message_id: 0 });
      await poll(name, 'c').expect(200, { message_id: 0, data: name.slice(0, 8) });
    }
  });

  it('places keyed messages where Kafka would and keeps per-key order', async () => {
    await request(t.url).post('/topics').send({ name: 'orders', partitions: 4 }).expect(201);
    for (const key of ['alice', 'bob', 'carol', 'dave']) {
      for (let i = 0; i < 3; i++) {
        const res = await request(t.url).post('/topics/orders/messages').send({ message: `${key}-${i}`, key, headers: { n: String(i) } }).expect(200);
        expect(res.body.partition).toBe(partitionForKey(Buffer.from(key), 4));
      }
      const p = partitionForKey(Buffer.from(key), 4);
      const page = await request(t.url).get(`/topics/orders/partitions/${p}/messages`).query({ max: 100 }).expect(200);
      const mine = page.body.messages.filter((m: { key?: string }) => m.key === key);
      expect(mine.map((m: { data: string; headers: Record<string, string> }) => [m.data, m.headers.n])).toEqual([0, 1, 2].map((i) => [`${key}-${i}`, String(i)]));
    }
    // Draining through the whole-topic poll sees all 12 exactly once.
    const seen: string[] = [];
    for (;;) {
      const res = await request(t.url).get('/topics/orders/consumers/drain/messages').query({ max: 100 }).expect(200);
      if (res.body.messages.length === 0) break;
      for (const m of res.body.messages) seen.push(m.data);
      const last = res.body.messages[res.body.messages.length - 1];
      await request(t.url).post('/topics/orders/consumers/drain/commit').send({ offset: last.message_id, partition: last.partition }).expect(200);
    }
    expect(seen.sort()).toEqual(['alice', 'bob', 'carol', 'dave'].flatMap((k) => [0, 1, 2].map((i) => `${k}-${i}`)).sort());
    const grown = await request(t.url).patch('/topics/orders').send({ partitions: 6 }).expect(200);
    expect(grown.body.partitions).toBe(6);
    await request(t.url).patch('/topics/orders').send({ partitions: 2 }).expect(409);
    await request(t.url).get('/topics/orders/partitions/5/messages').expect(200);
  });

  it('batch-produces dense offsets and fetches them with keys, headers and encodings', async () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ message: `m${i}` }));
    const res = await request(t.url).post('/topics/events/messages/batch').send({ messages }).expect(200);
    expect(res.body).toMatchObject({ partition: 0, base_offset: 0, message_ids: Array.from({ length: 50 }, (_, i) => i) });
    const ts = Date.now() - 5000;
    await request(t.url).post('/topics/events/messages').send({ value: { order: 42 }, key: 'k1', headers: { 'x-src': ' padded \u00e9 ' }, timestamp: ts }).expect(200, { message_id: 50 });
    await request(t.url).post('/topics/events/messages').send({ value: Buffer.from([0, 1, 255]).toString('base64'), encoding: 'base64' }).expect(200, { message_id: 51 });
    const page = await request(t.url).get('/topics/events/partitions/0/messages').query({ from_offset: 48, max: 10 }).expect(200);
    expect(page.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual([48, 49, 50, 51]);
    expect(page.body.messages[2]).toEqual({ message_id: 50, partition: 0, data: { order: 42 }, encoding: 'json', timestamp: ts, key: 'k1', headers: { 'x-src': ' padded \u00e9 ' } });
    expect(page.body.messages[3]).toMatchObject({ data: 'AAH/', encoding: 'base64' });
    expect(page.body).toMatchObject({ next_offset: 52, end_offset: 52 });
    const all = await request(t.url).get('/topics/events/partitions/0/messages').query({ max: 1000 }).expect(200);
    expect(all.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual(Array.from({ length: 52 }, (_, i) => i));
  });

  it('seeks a cursor back, to the end, to the beginning and to a timestamp; acks never move it back', async () => {
    await request(t.url).post('/topics/events/messages/9/ack').query({ consumer_id: 'w' }).expect(200);
    await request(t.url).post('/topics/events/messages/4/ack').query({ consumer_id: 'w' }).expect(200);
    const view = await request(t.url).get('/topics/events/consumers/w').expect(200);
    expect(view.body).toEqual({ consumer_id: 'w', partition: 0, offset: 10, committed: true, log_start_offset: 0, log_end_offset: 52, lag: 42, reset_to_log_start: false });
    await request(t.url).put('/topics/events/consumers/w').send({ offset: 3 }).expect(200);
    await poll('events', 'w').expect(200, { message_id: 3, data: 'm3' });
    const end = await request(t.url).put('/topics/events/consumers/w').send({ position: 'end' }).expect(200);
    expect(end.body).toMatchObject({ offset: 52, lag: 0 });
    await poll('events', 'w').expect(404);
    await request(t.url).put('/topics/events/consumers/w').send({ offset: 53 }).expect(409);
    await request(t.url).put('/topics/events/consumers/w').send({ position: 'beginning' }).expect(200);
    await poll('events', 'w').expect(200, { message_id: 0, data: 'm0' });
    const consumers = await request(t.url).get('/topics/events/consumers').expect(200);
    expect(consumers.body.consumers.map((c: { consumer_id: string }) => c.consumer_id)).toContain('w');

    const base = Date.now() - 60_000;
    const timed = Array.from({ length: 30 }, (_, i) => ({ message: `t${i}`, timestamp: base + i * 1000 }));
    await request(t.url).post('/topics/timed/messages/batch').send({ messages: timed }).expect(200);
    const at = await request(t.url).put('/topics/timed/consumers/c').send({ timestamp: base + 12_500 }).expect(200);
    expect(at.body.offset).toBe(13);
    await poll('timed', 'c').expect(200, { message_id: 13, data: 't13' });
    const past = await request(t.url).put('/topics/timed/consumers/c').send({ timestamp: base + 999_999 }).expect(200);
    expect(past.body.offset).toBe(30);
  });

  it('answers a retried Idempotency-Key with the original offsets', async () => {
    const a = await request(t.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'charge' }).expect(200);
    const b = await request(t.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'charge' }).expect(200);
    expect(b.body).toEqual(a.body);
    expect(b.headers['idempotent-replayed']).toBe('true');
    const [c, d] = await Promise.all([
      request(t.url).post('/topics/pay/messages/batch').set('Idempotency-Key', 'req-2').send({ messages: [{ message: 'x' }, { message: 'y' }] }),
      request(t.url).post('/topics/pay/messages/batch').set('Idempotency-Key', 'req-2').send({ messages: [{ message: 'x' }, { message: 'y' }] }),
    ]);
    expect(c.status).toBe(200);
    expect(d.body).toEqual(c.body);
    // Another request under a used key is refused, and stores nothing.
    const reused = await request(t.url).post('/topics/pay/messages').set('Idempotency-Key', 'req-1').send({ message: 'refund' }).expect(422);
    expect(reused.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
    const page = await request(t.url).get('/topics/pay/partitions/0/messages').expect(200);
    expect(page.body.messages.map((m: { data: string }) => m.data)).toEqual(['charge', 'x', 'y']);
  });

  it('holds a long poll until a message arrives, and times out with 404 when none does', async () => {
    await request(t.url).post('/topics/live/create').expect(200);
    const started = Date.now();
    const pending = poll('live', 'lp')
      .query({ wait_ms: 10_000 })
      .then((r) => ({ r, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 300));
    const produced = Date.now();
    await request(t.url).post('/topics/live/messages').query({ message: 'wake up' }).expect(200);
    const { r, at } = await pending;
    expect(r.body).toEqual({ message_id: 0, data: 'wake up' });
    expect(at - started).toBeGreaterThanOrEqual(300);
    expect(at - produced).toBeLessThan(3000);
    await request(t.url).post('/topics/live/messages/0/ack').query({ consumer_id: 'lp' }).expect(200);
    const quiet = Date.now();
    await poll('live', 'lp').query({ wait_ms: 200 }).expect(404);
    expect(Date.now() - quiet).toBeGreaterThanOrEqual(190);
  });

  it('deletes a topic with its cursors; a topic created again under the name starts empty', async () => {
    await request(t.url).post('/topics/gone/messages').query({ message: 'old' }).expect(200);
    await request(t.url).post('/topics/gone/messages/0/ack').query({ consumer_id: 'c' }).expect(200);
    await request(t.url).delete('/topics/gone').expect(200);
    await poll('gone', 'c').expect(404);
    await request(t.url).post('/topics/gone/messages').query({ message: 'new' }).expect(200, { message_id: 0 });
    await poll('gone', 'c').expect(200, { message_id: 0, data: 'new' });
  });

  it('keeps messages, offsets and cursors across a restart of the broker (and of the NATS cluster)', async () => {
    for (let i = 0; i < 100; i++) await request(t.url).post('/topics/durable/messages').query({ message: `msg-${i}` }).expect(200, { message_id: i });
    await request(t.url).post('/topics/durable/messages/41/ack').query({ consumer_id: 'c1' }).expect(200);
    await request(t.url).put('/topics/durable/consumers/c2').send({ position: 'end' }).expect(200);
    await t.close();
    await backend.restart();
    t = await startApp(backend.env(), dataDir);
    await poll('durable', 'c1').expect(200, { message_id: 42, data: 'msg-42' });
    await poll('durable', 'c2').expect(404);
    await poll('durable', 'new').expect(200, { message_id: 0, data: 'msg-0' });
    const all = await request(t.url).get('/topics/durable/partitions/0/messages').query({ max: 1000 }).expect(200);
    expect(all.body.messages.map((m: { data: string }) => m.data)).toEqual(Array.from({ length: 100 }, (_, i) => `msg-${i}`));
    await request(t.url).post('/topics/durable/messages').query({ message: 'after' }).expect(200, { message_id: 100 });
    const cursor = await request(t.url).get('/topics/durable/consumers/c1').expect(200);
    expect(cursor.body).toMatchObject({ offset: 42, committed: true, log_end_offset: 101 });
    const orders = await request(t.url).get('/topics/orders').expect(200);
    expect(orders.body.partitions).toBe(6);
  });
});
