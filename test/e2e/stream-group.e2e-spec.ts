// SSE from a consumer group's committed offsets (`group=`): read only — it takes no leases and moves nothing.
import request from 'supertest';
import { SseClient } from '../support/sse-client';
import { removeDir, startApp, type TestApp } from '../support/test-app';

describe('GET /topics/{topic}/stream?group=', () => {
  let t: TestApp;
  const open: SseClient[] = [];
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    for (const s of open) s.res.destroy();
    await t.close();
    removeDir(t.dataDir);
  });

  it('starts at the group committed offset of each partition and leaves the group untouched', async () => {
    await request(t.url).post('/topics').send({ name: 'work', partitions: 1 }).expect(201);
    await request(t.url)
      .post('/topics/work/messages/batch')
      .send({ messages: Array.from({ length: 6 }, (_, i) => ({ message: `w${i}` })) })
      .expect(200);
    // The group settles offsets 0-2: its committed offset becomes 3.
    const got = await request(t.url).get('/topics/work/groups/workers/messages').query({ max: 3 }).expect(200);
    const ids = got.body.messages.map((m: { lease_id: string }) => m.lease_id);
    await request(t.url).post('/topics/work/groups/workers/ack').send({ lease_ids: ids }).expect(200);
    const before = await request(t.url).get('/topics/work/groups/workers').expect(200);

    const s = await SseClient.open(t.url, '/topics/work/stream?group=workers');
    open.push(s);
    expect(s.res.statusCode).toBe(200);
    await s.waitFor(() => s.messages.length === 3, 3000, 'the three unsettled messages');
    expect(s.messages.map((m) => [m.message_id, m.data])).toEqual([
      [3, 'w3'],
      [4, 'w4'],
      [5, 'w5'],
    ]);
    const after = await request(t.url).get('/topics/work/groups/workers').expect(200);
    expect(after.body).toEqual(before.body);

    const missing = await request(t.url).get('/topics/work/stream').query({ group: 'nobody' });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('GROUP_NOT_FOUND');
    await request(t.url).get('/topics/work/stream').query({ group: 'workers', from_offset: 0 }).expect(400);
  });
});
