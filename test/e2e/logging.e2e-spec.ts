// Structured logs: one JSON line per request with its request id and path, never a message payload or a key.
// A file of its own because nestjs-pino keeps one pino-http instance per process (per jest file here): the
// first app built sets the level, so this file's only app is the one logging at debug.
import request from 'supertest';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('request logs', () => {
  let t: TestApp;
  let logged = '';
  let capture: jest.SpyInstance | undefined;
  const key = 'logging-key-0123456789';

  beforeAll(async () => {
    // With process.stdout.write replaced, pino writes its lines through it: keep them instead of printing them.
    capture = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      logged += Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
      return true;
    }) as typeof process.stdout.write);
    t = await startApp({ LOG_LEVEL: 'debug', AUTH_KEYS: JSON.stringify([{ name: 'logger-test', key, rights: [{ topics: '*', actions: ['produce', 'consume'] }] }]) });
  });
  afterAll(async () => {
    await t.close();
    capture?.mockRestore();
    removeDir(t.dataDir);
  });

  it('logs every request as JSON with its id and path, never the message payload or the key', async () => {
    const secretQuery = 'QUERY-PAYLOAD-7f3a9c';
    const secretBody = 'BODY-PAYLOAD-91be22';
    await request(t.url).post('/topics/logged/messages').query({ message: secretQuery }).set('X-API-Key', key).set('X-Request-Id', 'log-q').expect(200);
    await request(t.url).post('/topics/logged/messages').set('Authorization', `Bearer ${key}`).set('X-Request-Id', 'log-b').send({ message: secretBody }).expect(200);
    await request(t.url).post('/topics/logged/messages').set('X-API-Key', key).set('X-Request-Id', 'log-e').send({ message: secretBody, extra: 1 }).expect(400);
    await request(t.url).get('/topics/logged/messages').query({ consumer_id: 'c' }).set('X-API-Key', key).set('X-Request-Id', 'log-p').expect(200);
    await request(t.url).get('/topics/logged/messages').query({ consumer_id: 'c' }).set('X-API-Key', 'wrong-key-0123456789').set('X-Request-Id', 'log-401').expect(401);

    const deadline = Date.now() + 10_000;
    while (!logged.includes('"log-401"') && Date.now() < deadline) await sleep(50);
    const lines = logged
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; req?: { id?: string; method?: string; path?: string }; res?: { status?: number } });
    const byId = (id: string) => lines.find((l) => l.req?.id === id);
    for (const [id, status] of [
      ['log-q', 200],
      ['log-b', 200],
      ['log-e', 400],
      ['log-p', 200],
      ['log-401', 401],
    ] as const) {
      expect(byId(id)).toMatchObject({ req: { id, path: '/topics/logged/messages' }, res: { status } });
    }
    // Successes at debug (20), client errors at info (30).
    expect(byId('log-q')?.level).toBe(20);
    expect(byId('log-e')?.level).toBe(30);
    expect(logged).not.toContain(secretQuery);
    expect(logged).not.toContain(secretBody);
    expect(logged).not.toContain(key);
    expect(logged).not.toContain('wrong-key-0123456789');
  });
});
