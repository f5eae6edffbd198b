// Every bad input gets a clear JSON error with the right status, and never changes stored data.
import { readdirSync } from 'node:fs';
import request from 'supertest';
import { removeDir, startApp, type TestApp } from '../support/test-app';

describe('errors', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ MAX_MESSAGE_BYTES: '1024', MAX_BODY_BYTES: '65536' });
    await request(t.url).post('/topics/good/messages').query({ message: 'keep me' }).expect(200);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  const expectJsonError = (res: request.Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(typeof res.body.detail).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack traces
  };

  it.each([
    ['..', 400],
    ['%2E%2E', 400],
    ['a%2Fb', 400],
    ['..%2F..%2Fetc', 400],
    ['%252E%252E', 400],
    ['x'.repeat(250), 400],
    ['bad%20name', 400],
    ['caf%C3%A9', 400],
  ])('rejects topic name %s', async (name, status) => {
    expectJsonError(await request(t.url).post(`/topics/${name}/messages`).query({ message: 'x' }), status);
    expectJsonError(await request(t.url).get(`/topics/${name}/messages`).query({ consumer_id: 'c' }), status);
    expectJsonError(await request(t.url).post(`/topics/${name}/create`), status);
  });

  it('writes nothing outside the topics it was asked for', () => {
    expect(readdirSync(`${t.dataDir}/topics`)).toEqual(['good']);
    expect(readdirSync(t.dataDir).sort()).toEqual(['topics']);
  });

  it('validates consumer ids', async () => {
    expectJsonError(await request(t.url).get('/topics/good/messages'), 400);
    expectJsonError(await request(t.url).get('/topics/good/messages').query({ consumer_id: '' }), 400);
    expectJsonError(await request(t.url).get('/topics/good/messages').query({ consumer_id: 'a/b' }), 400);
    expectJsonError(await request(t.url).get('/topics/good/messages').query({ consumer_id: 'x'.repeat(300) }), 400);
    expectJsonError(await request(t.url).post('/topics/good/messages/0/ack').query({ consumer_id: '../x' }), 400);
  });

  it('answers 404 for unknown topics on read routes', async () => {
    const res = await request(t.url).get('/topics/missing/messages').query({ consumer_id: 'c' });
    expectJsonError(res, 404);
    expect(res.body.code).toBe('TOPIC_NOT_FOUND');
    expectJsonError(await request(t.url).post('/topics/missing/messages/0/ack').query({ consumer_id: 'c' }), 404);
    expectJsonError(await request(t.url).get('/topics/missing'), 404);
  });

  it('rejects acks of offsets that were never produced, leaving the cursor alone', async () => {
    const res = await request(t.url).post('/topics/good/messages/5/ack').query({ consumer_id: 'c' });
    expectJsonError(res, 409);
    expect(res.body.detail).toMatch(/Cannot ack offset 5/);
    for (const bad of ['-1', 'abc', '1.5', '99999999999999999999']) {
      expectJsonError(await request(t.url).post(`/topics/good/messages/${bad}/ack`).query({ consumer_id: 'c' }), 400);
    }
    await request(t.url).get('/topics/good/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 0, data: 'keep me' });
  });

  it('caps message size with 413 (MAX_MESSAGE_BYTES) and the body size with 413 (MAX_BODY_BYTES)', async () => {
    const big = await request(t.url).post('/topics/good/messages').send({ message: 'x'.repeat(1025) });
    expectJsonError(big, 413);
    expect(big.body.code).toBe('MESSAGE_TOO_LARGE');
    await request(t.url).post('/topics/good/messages').send({ message: 'x'.repeat(1024) }).expect(200);
    expectJsonError(await request(t.url).post('/topics/good/messages').send({ message: 'x'.repeat(70_000) }), 413);
    const multibyte = await request(t.url).post('/topics/good/messages').send({ message: 'é'.repeat(600) });
    expectJsonError(multibyte, 413); // 1200 bytes of UTF-8
  });

  it('rejects malformed bodies', async () => {
    expectJsonError(await request(t.url).post('/topics/good/messages').set('content-type', 'application/json').send('{"message": '), 400);
    expectJsonError(await request(t.url).post('/topics/good/messages').send({ message: 42 }), 400);
    expectJsonError(await request(t.url).post('/topics/good/messages').send({ message: 'x', surprise: true }), 400);
    expectJsonError(await request(t.url).post('/topics/good/messages'), 400);
    expectJsonError(await request(t.url).post('/topics/good/messages/batch').send({ messages: [] }), 400);
    expectJsonError(await request(t.url).post('/topics/good/messages/batch').send({ messages: [{ message: 1 }] }), 400);
    expectJsonError(await request(t.url).put('/topics/good/consumers/c').send({}), 400);
    expectJsonError(await request(t.url).put('/topics/good/consumers/c').send({ offset: 0, position: 'end' }), 400);
    expectJsonError(await request(t.url).put('/topics/good/consumers/c').send({ position: 'middle' }), 400);
    expectJsonError(await request(t.url).put('/topics/good/consumers/c').send({ offset: 999 }), 409);
  });

  it('answers unknown routes with JSON 404', async () => {
    expectJsonError(await request(t.url).get('/nope'), 404);
  });

  it('kept the stored data intact through all of it', async () => {
    const res = await request(t.url).get('/topics/good/partitions/0/messages').query({ from_offset: 0, max: 10 }).expect(200);
    expect(res.body.messages.map((m: { data: string }) => m.data)).toEqual(['keep me', 'x'.repeat(1024)]);
    expect(res.body.end_offset).toBe(2);
  });
});
