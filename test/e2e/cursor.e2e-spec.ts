// The consumer cursor: view with lag, seek to beginning / end / offset, batch produce and fetch.
import request from 'supertest';
import { removeDir, startApp, type TestApp } from '../support/test-app';

describe('cursor, batch produce and fetch', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('batch-produces and answers each message offset', async () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ message: `m${i}` }));
    const res = await request(t.url).post('/topics/events/messages/batch').send({ messages }).expect(200);
    expect(res.body).toMatchObject({ partition: 0, base_offset: 0, message_ids: Array.from({ length: 50 }, (_, i) => i) });
    expect(res.body.results).toBeUndefined(); // per-message results only on 207
    const next = await request(t.url).post('/topics/events/messages/batch').send({ messages: [{ message: 'm50' }] }).expect(200);
    expect(next.body.message_ids).toEqual([50]);
  });

  it('fetches from an offset without touching cursors', async () => {
    const res = await request(t.url).get('/topics/events/partitions/0/messages').query({ from_offset: 10, max: 5 }).expect(200);
    expect(res.body.messages[0]).toMatchObject({ message_id: 10, partition: 0, data: 'm10', encoding: 'utf8' });
    expect(typeof res.body.messages[0].timestamp).toBe('number');
    expect(res.body.messages.map((m: { message_id: number; data: string }) => [m.message_id, m.data])).toEqual([
      [10, 'm10'],
      [11, 'm11'],
      [12, 'm12'],
      [13, 'm13'],
      [14, 'm14'],
    ]);
    expect(res.body.next_offset).toBe(15);
    expect(res.body.end_offset).toBe(51);
    const tail = await request(t.url).get('/topics/events/partitions/0/messages').query({ from_offset: 51 }).expect(200);
    expect(tail.body).toMatchObject({ messages: [], next_offset: 51 });
    await request(t.url).get('/topics/events/partitions/1/messages').expect(404);
    const cursor = await request(t.url).get('/topics/events/consumers/reader').expect(200);
    expect(cursor.body).toMatchObject({ offset: 0, committed: false, lag: 51 });
  });

  it('shows committed offset and lag', async () => {
    await request(t.url).post('/topics/events/messages/9/ack').query({ consumer_id: 'w' }).expect(200);
    const res = await request(t.url).get('/topics/events/consumers/w').expect(200);
    expect(res.body).toEqual({
      consumer_id: 'w',
      partition: 0,
      offset: 10,
      committed: true,
      log_start_offset: 0,
      log_end_offset: 51,
      lag: 41,
      reset_to_log_start: false,
    });
    const list = await request(t.url).get('/topics/events/consumers').expect(200);
    expect(list.body.consumers.map((c: { consumer_id: string }) => c.consumer_id)).toEqual(['w']);
  });

  it('seeks backwards, to the end and to the beginning', async () => {
    await request(t.url).put('/topics/events/consumers/w').send({ offset: 3 }).expect(200);
    await request(t.url).get('/topics/events/messages').query({ consumer_id: 'w' }).expect(200, { message_id: 3, data: 'm3' });
    const end = await request(t.url).put('/topics/events/consumers/w').send({ position: 'end' }).expect(200);
    expect(end.body).toMatchObject({ offset: 51, lag: 0 });
    await request(t.url).get('/topics/events/messages').query({ consumer_id: 'w' }).expect(404, { detail: 'No new messages' });
    await request(t.url).post('/topics/events/messages').query({ message: 'fresh' }).expect(200, { message_id: 51 });
    await request(t.url).get('/topics/events/messages').query({ consumer_id: 'w' }).expect(200, { message_id: 51, data: 'fresh' });
    await request(t.url).put('/topics/events/consumers/w').send({ position: 'beginning' }).expect(200);
    await request(t.url).get('/topics/events/messages').query({ consumer_id: 'w' }).expect(200, { message_id: 0, data: 'm0' });
  });
});
