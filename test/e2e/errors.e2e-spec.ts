// Every bad input gets a clear JSON error with the right status, and never changes stored data.
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
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

  it('answers a URL too long for the server with 414 JSON that says to send the message in a body', async () => {
    const res = await rawGet(`${t.url}/topics/good/messages?message=${'x'.repeat(20_000)}`, 'POST');
    expect(res.status).toBe(414);
    expect(res.type).toMatch(/application\/json/);
    expect(res.body).toMatchObject({ code: 'URI_TOO_LONG', status: 414 });
    expect(res.body.detail).toMatch(/URL is too long.*in the body instead of \?message=.*\{"message": "\.\.\."\}/);
    // Oversized headers stay a 431, and say so.
    const headers = await rawGet(`${t.url}/healthz`, 'GET', { 'x-big': 'b'.repeat(20_000) });
    expect(headers.status).toBe(431);
    expect(headers.body.detail).toMatch(/headers are too large/);
  });

  it('answers 415 naming the accepted types to a body that is not JSON, instead of ignoring it', async () => {
    const text = await request(t.url).post('/topics/good/messages').set('content-type', 'text/plain').send('hello');
    expectJsonError(text, 415);
    expect(text.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });
    expect(text.body.detail).toBe(`Unsupported Content-Type 'text/plain': send application/json ({"message": "..."}), or no body and the text in ?message=`);
    // curl -d without -H sends a form: the same 415, on every route with a body.
    const form = await request(t.url).post('/topics').set('content-type', 'application/x-www-form-urlencoded').send('{"name":"x"}');
    expectJsonError(form, 415);
    expect(form.body.detail).toBe(`Unsupported Content-Type 'application/x-www-form-urlencoded': send application/json`);
    const batch = await request(t.url).post('/topics/good/messages/batch').set('content-type', 'text/csv').send('a,b');
    expectJsonError(batch, 415);
    expect(batch.body.detail).toContain('application/x-ndjson');
    await request(t.url).get('/topics/x').expect(404); // nothing was created
  });

  it('says "commit" on the commit route, and what offset to commit', async () => {
    const res = await request(t.url).post('/topics/good/consumers/c/commit').send({ partition: 0, offset: 41 });
    expectJsonError(res, 409);
    expect(res.body.detail).toMatch(
      /^Cannot commit offset 41 of 'good' partition 0: its messages run from 0 to \d+\. Commit the offset of the last message you processed \(the cursor moves to offset \+ 1\)$/,
    );
  });

  it('answers one clear message per invalid field', async () => {
    const res = await request(t.url).post('/topics').send({ name: 'orders', partitions: 'three' });
    expectJsonError(res, 400);
    expect(res.body.detail).toBe('partitions must be an integer from 1 to 1024');
    const commit = await request(t.url).post('/topics/good/consumers/c/commit').send({ offset: 'x' });
    expectJsonError(commit, 400);
    expect(commit.body.detail).not.toContain(';');
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

/** node:http, which sends a path of any length and headers of any size (superagent would too, but hides the 414). */
function rawGet(url: string, method: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: { detail: string; code?: string; status?: number } }> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('wait_ms above MAX_WAIT_MS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ MAX_WAIT_MS: '300' });
    await request(t.url).post('/topics/quiet/create').expect(200);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('is held to MAX_WAIT_MS on every long-poll route, and the answer says the wait it used', async () => {
    const routes = [
      request(t.url).get('/topics/quiet/messages').query({ consumer_id: 'c', wait_ms: 999999 }),
      request(t.url).get('/topics/quiet/consumers/c/messages').query({ wait_ms: 999999 }),
      request(t.url).get('/topics/quiet/partitions/0/messages').query({ wait_ms: 999999 }),
      request(t.url).get('/topics/quiet/groups/g/messages').query({ wait_ms: 999999 }),
    ];
    for (const [i, route] of routes.entries()) {
      const started = Date.now();
      const res = await route;
      expect([i, res.status]).toEqual([i, i === 0 ? 404 : 200]);
      expect(res.headers['wait-ms-used']).toBe('300');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(5000);
    }
    const short = await request(t.url).get('/topics/quiet/partitions/0/messages').query({ wait_ms: 10 }).expect(200);
    expect(short.headers['wait-ms-used']).toBe('10');
    // Not a number is still a 400.
    const bad = await request(t.url).get('/topics/quiet/messages').query({ consumer_id: 'c', wait_ms: 'soon' }).expect(400);
    expect(bad.body.detail).toBe('wait_ms must be a whole number of milliseconds, 0 or more (above MAX_WAIT_MS, 300, the wait is 300)');
    await request(t.url).get('/topics/quiet/partitions/0/messages').query({ wait_ms: '9'.repeat(30) }).expect(200).expect('Wait-Ms-Used', '300');
  });
});
