// Topic administration over HTTP: JSON create, list with counts, describe, delete, AUTO_CREATE_TOPICS=false.
import request from 'supertest';
import { removeDir, startApp, type TestApp } from '../support/test-app';

describe('topics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ SEGMENT_BYTES: '4096' });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('creates from a JSON body: 201 when new, 200 when it exists', async () => {
    const created = await request(t.url).post('/topics').send({ name: 'orders', partitions: 2 }).expect(201);
    expect(created.body.status).toBe('created');
    expect(created.body.topic).toMatchObject({ name: 'orders', partitions: 2, message_count: 0 });
    const again = await request(t.url).post('/topics').send({ name: 'orders' }).expect(200);
    expect(again.body.status).toBe('exists');
  });

  it('answers 409 with the existing topic when a create asks for other settings, and changes nothing', async () => {
    await request(t.url).post('/topics').send({ name: 'sized', partitions: 1, retention_ms: 60000 }).expect(201);
    const more = await request(t.url).post('/topics').send({ name: 'sized', partitions: 4 }).expect(409);
    expect(more.body).toMatchObject({ code: 'TOPIC_EXISTS', status: 409, topic: { name: 'sized', partitions: 1, retention_ms: 60000 } });
    expect(more.body.detail).toBe(
      "Topic 'sized' already exists with 1 partitions (asked for 4). Use it as it is, add partitions with PATCH /topics/sized, or delete it first",
    );
    const retention = await request(t.url).post('/topics').send({ name: 'sized', retention_ms: 1000 }).expect(409);
    expect(retention.body.detail).toContain('retention_ms 60000 (asked for 1000)');
    await request(t.url).post('/topics/sized/create').send({ partitions: 2 }).expect(409);
    // The same settings, or none, are still an idempotent 200; the seed's create without a body too.
    await request(t.url).post('/topics').send({ name: 'sized', partitions: 1, retention_ms: 60000 }).expect(200);
    await request(t.url).post('/topics').send({ name: 'sized' }).expect(200);
    await request(t.url).post('/topics/sized/create').expect(200);
    await request(t.url).post('/topics/sized/create').send({ partitions: 1 }).expect(200);
    expect((await request(t.url).get('/topics/sized').expect(200)).body).toMatchObject({ partitions: 1, retention_ms: 60000 });
  });

  it('rejects bad create bodies with 400 JSON', async () => {
    for (const body of [{}, { name: '..' }, { name: 'ok', partitions: 0 }, { name: 'ok', partitions: 'x' }, { name: 'ok', extra: 1 }]) {
      const res = await request(t.url).post('/topics').send(body).expect(400);
      expect(typeof res.body.detail).toBe('string');
    }
    await request(t.url).get('/topics/ok').expect(404);
  });

  it('lists topics with message counts and describes offsets, size and segments', async () => {
    for (let i = 0; i < 100; i++) await request(t.url).post('/topics/logs/messages').query({ message: `line ${i} `.padEnd(100, '.') }).expect(200);
    const list = await request(t.url).get('/topics').expect(200);
    const logs = list.body.topics.find((x: { name: string }) => x.name === 'logs');
    expect(logs.message_count).toBe(100);
    const d = await request(t.url).get('/topics/logs').expect(200);
    expect(d.body.partition_details[0]).toMatchObject({ partition: 0, first_offset: 0, next_offset: 100 });
    expect(d.body.size_bytes).toBeGreaterThan(100 * 100);
    expect(d.body.segment_count).toBeGreaterThan(1); // SEGMENT_BYTES=4096 rolled the log
  });

  it('deletes a topic with its messages and cursors; the name can be reused', async () => {
    await request(t.url).post('/topics/temp/messages').query({ message: 'a' }).expect(200);
    await request(t.url).post('/topics/temp/messages/0/ack').query({ consumer_id: 'c' }).expect(200);
    await request(t.url).delete('/topics/temp').expect(200, { status: 'deleted' });
    await request(t.url).get('/topics/temp').expect(404);
    await request(t.url).delete('/topics/temp').expect(404);
    await request(t.url).get('/topics/temp/messages').query({ consumer_id: 'c' }).expect(404);
    await request(t.url).post('/topics/temp/messages').query({ message: 'b' }).expect(200, { message_id: 0 });
    await request(t.url).get('/topics/temp/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 0, data: 'b' });
  });
});

describe('AUTO_CREATE_TOPICS=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ AUTO_CREATE_TOPICS: 'false' });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('answers 404 to a produce on a missing topic and creates nothing', async () => {
    const res = await request(t.url).post('/topics/nope/messages').query({ message: 'x' }).expect(404);
    expect(res.body).toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    expect(res.body.detail).toContain('nope');
    await request(t.url).get('/topics/nope').expect(404);
    await request(t.url).post('/topics/nope/create').expect(200);
    await request(t.url).post('/topics/nope/messages').query({ message: 'x' }).expect(200, { message_id: 0 });
  });
});

describe('GET /topics pages and filters', () => {
  let t: TestApp;
  const names = ['app.a', 'app.b', 'app.c', 'app.d', 'app.e', 'db.x', 'db.y'];
  beforeAll(async () => {
    t = await startApp({});
    for (const name of names) await request(t.url).post('/topics').send({ name }).expect(201);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  const list = async (query: Record<string, string | number>) => (await request(t.url).get('/topics').query(query).expect(200));

  it('answers every topic without parameters, as before: {"topics": [...]} in name order, no next', async () => {
    const res = await list({});
    expect(res.body.topics.map((x: { name: string }) => x.name)).toEqual(names);
    expect(res.body.next).toBeUndefined();
    expect(res.headers.link).toBeUndefined();
  });

  it('walks the list in pages with limit and after=next, with a Link header to the next page', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await list({ limit: 3, ...(after ? { after } : {}) });
      seen.push(...res.body.topics.map((x: { name: string }) => x.name));
      after = res.body.next;
      if (!after) {
        expect(res.headers.link).toBeUndefined();
        break;
      }
      expect(res.body.topics).toHaveLength(3);
      expect(after).toBe(seen[seen.length - 1]);
      expect(res.headers.link).toBe(`</topics?after=${after}&limit=3>; rel="next"`);
    }
    expect(seen).toEqual(names);
    // A limit that the list fills exactly has no next page.
    expect((await list({ limit: 7 })).body.next).toBeUndefined();
  });

  it('filters by prefix, also across pages, and a cursor need not name an existing topic', async () => {
    expect((await list({ prefix: 'db.' })).body.topics.map((x: { name: string }) => x.name)).toEqual(['db.x', 'db.y']);
    const first = await list({ prefix: 'app.', limit: 2 });
    expect(first.body).toMatchObject({ topics: [{ name: 'app.a', message_count: 0 }, { name: 'app.b' }], next: 'app.b' });
    expect(first.headers.link).toBe('</topics?prefix=app.&after=app.b&limit=2>; rel="next"');
    expect((await list({ prefix: 'app.', after: 'app.bb' })).body.topics.map((x: { name: string }) => x.name)).toEqual(['app.c', 'app.d', 'app.e']);
    expect((await list({ prefix: 'nothing' })).body).toEqual({ topics: [] });
  });

  it('refuses a bad limit, prefix or after with 400', async () => {
    for (const query of [{ limit: 0 }, { limit: 10001 }, { limit: 'ten' }, { prefix: 'a/b' }, { after: 'x y' }]) {
      const res = await request(t.url).get('/topics').query(query).expect(400);
      expect(res.body).toMatchObject({ status: 400 });
    }
  });
});
