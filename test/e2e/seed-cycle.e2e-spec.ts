// The seed tutorial's cycle over real HTTP: create, produce (query and JSON), poll, ack, exact JSON shapes.
import request from 'supertest';
import { removeDir, startApp, type TestApp } from '../support/test-app';

describe('seed produce → poll → ack cycle', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('creates a topic idempotently', async () => {
    const first = await request(t.url).post('/topics/my-topic/create').expect(200);
    expect(first.body.status).toBe('created');
    const again = await request(t.url).post('/topics/my-topic/create').expect(200);
    expect(again.body.status).toBe('exists');
  });

  it('runs the tutorial example: 10 messages produced, polled and acked in order', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await request(t.url).post('/topics/my-topic/messages').query({ message: `Hello, Mini Kafka! - message ${i}` }).expect(200);
      expect(res.body).toEqual({ message_id: i });
    }
    for (let i = 0; i < 10; i++) {
      const polled = await request(t.url).get('/topics/my-topic/messages').query({ consumer_id: 'my-consumer' }).expect(200);
      expect(polled.body).toEqual({ message_id: i, data: `Hello, Mini Kafka! - message ${i}` });
      const again = await request(t.url).get('/topics/my-topic/messages').query({ consumer_id: 'my-consumer' }).expect(200);
      expect(again.body).toEqual(polled.body);
      const ack = await request(t.url).post(`/topics/my-topic/messages/${i}/ack`).query({ consumer_id: 'my-consumer' }).expect(200);
      expect(ack.body).toEqual({ status: 'ok' });
    }
    const none = await request(t.url).get('/topics/my-topic/messages').query({ consumer_id: 'my-consumer' }).expect(404);
    expect(none.body).toEqual({ detail: 'No new messages' });
  });

  it('accepts the message as a JSON body and auto-creates the topic', async () => {
    const res = await request(t.url).post('/topics/auto-made/messages').send({ message: 'from a body' }).expect(200);
    expect(res.body).toEqual({ message_id: 0 });
    const polled = await request(t.url).get('/topics/auto-made/messages').query({ consumer_id: 'c' }).expect(200);
    expect(polled.body).toEqual({ message_id: 0, data: 'from a body' });
  });

  it('starts a new consumer at the beginning, independent of others', async () => {
    const res = await request(t.url).get('/topics/my-topic/messages').query({ consumer_id: 'late-joiner' }).expect(200);
    expect(res.body.message_id).toBe(0);
  });

  it('never moves a cursor backwards on a late or repeated ack', async () => {
    await request(t.url).post('/topics/my-topic/messages/5/ack').query({ consumer_id: 'rewinder' }).expect(200);
    await request(t.url).post('/topics/my-topic/messages/2/ack').query({ consumer_id: 'rewinder' }).expect(200);
    await request(t.url).post('/topics/my-topic/messages/5/ack').query({ consumer_id: 'rewinder' }).expect(200);
    const res = await request(t.url).get('/topics/my-topic/messages').query({ consumer_id: 'rewinder' }).expect(200);
    expect(res.body.message_id).toBe(6);
  });

  it('keeps unicode text intact', async () => {
    const text = 'héllo wörld — 你好 🚀';
    const { body } = await request(t.url).post('/topics/unicode/messages').query({ message: text }).expect(200);
    const polled = await request(t.url).get('/topics/unicode/messages').query({ consumer_id: 'u' }).expect(200);
    expect(polled.body).toEqual({ message_id: body.message_id, data: text });
  });
});
