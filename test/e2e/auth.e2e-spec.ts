// API keys: the 401/403/2xx matrix for every guarded route (produce, consume, admin), both header styles,
// keys stored as SHA-256, keys from AUTH_KEYS_FILE, listings filtered per key, public ops routes, bad configs.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { removeDir, startApp, tempDataDir, type TestApp } from '../support/test-app';

const sha256Hex = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

const KEY = {
  root: 'root-key-0123456789abcdef',
  producer: 'producer-key-0123456789',
  consumer: 'consumer-key-0123456789',
  admin: 'admin-key-0123456789abcd',
  other: 'other-key-0123456789abcd',
  unknown: 'unknown-key-0123456789ab',
};

// The producer's key is given in clear; the consumer's and the admin's only as their SHA-256 (lower and
// upper case hex), which is how a key file avoids holding usable secrets.
const KEYS = [
  { name: 'root', key: KEY.root, rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] },
  { name: 'producer', key: KEY.producer, rights: [{ topics: 'orders*', actions: ['produce'] }] },
  { name: 'consumer', sha256: sha256Hex(KEY.consumer), rights: [{ topics: 'orders*', actions: ['consume'] }] },
  { name: 'admin', sha256: sha256Hex(KEY.admin).toUpperCase(), rights: [{ topics: 'orders*', actions: ['admin'] }] },
  { name: 'other', key: KEY.other, rights: [{ topics: 'logs-*', actions: ['produce', 'consume', 'admin'] }] },
];

type Headers = Record<string, string>;
const HEADER_STYLES: Array<[string, (key: string) => Headers]> = [
  ['Authorization: Bearer', (key) => ({ Authorization: `Bearer ${key}` })],
  ['X-API-Key', (key) => ({ 'X-API-Key': key })],
];
const asRoot: Headers = { 'X-API-Key': KEY.root };

const expectJsonError = (res: request.Response, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
};

type Action = 'produce' | 'consume' | 'admin';

interface Route {
  label: string;
  action: Action;
  okStatus: number;
  /** Runs the request; `n` makes per-call topic names unique. */
  run(url: string, headers: Headers, n: number): Promise<request.Response>;
  /** Called before `run` with the same `n` (sets up what the call acts on). */
  prepare?(url: string, n: number): Promise<void>;
  /** What must hold after a successful call, and what must still hold after a refused one. */
  afterOk?(url: string, n: number, res: request.Response): Promise<void>;
  afterDenied?(url: string, n: number): Promise<void>;
}

const topicExists = async (url: string, name: string) => (await request(url).get(`/topics/${name}`).set(asRoot)).status === 200;

const ROUTES: Route[] = [
  {
    label: 'POST /topics/{topic}/messages?message=',
    action: 'produce',
    okStatus: 200,
    run: (url, h) => request(url).post('/topics/orders/messages').query({ message: 'via query' }).set(h),
    afterOk: async (_url, _n, res) => expect(typeof res.body.message_id).toBe('number'),
  },
  {
    label: 'POST /topics/{topic}/messages (JSON body)',
    action: 'produce',
    okStatus: 200,
    run: (url, h) => request(url).post('/topics/orders/messages').set(h).send({ message: 'via body' }),
    afterOk: async (_url, _n, res) => expect(typeof res.body.message_id).toBe('number'),
  },
  {
    label: 'POST /topics/{topic}/messages/batch',
    action: 'produce',
    okStatus: 200,
    run: (url, h) => request(url).post('/topics/orders/messages/batch').set(h).send({ messages: [{ message: 'b1' }, { message: 'b2' }] }),
    afterOk: async (_url, _n, res) => expect(res.body.message_ids).toHaveLength(2),
  },
  {
    label: 'POST /topics/{topic}/messages (auto-creating a topic)',
    action: 'produce',
    okStatus: 200,
    run: (url, h, n) => request(url).post(`/topics/orders-auto-${n}/messages`).query({ message: 'x' }).set(h),
    afterOk: async (url, n) => expect(await topicExists(url, `orders-auto-${n}`)).toBe(true),
    afterDenied: async (url, n) => expect(await topicExists(url, `orders-auto-${n}`)).toBe(false),
  },
  {
    label: 'GET /topics/{topic}/messages (poll)',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).get('/topics/orders/messages').query({ consumer_id: 'matrix' }).set(h),
    afterOk: async (_url, _n, res) => expect(res.body).toEqual({ message_id: 0, data: 'seed' }),
  },
  {
    label: 'POST /topics/{topic}/messages/{id}/ack',
    action: 'consume',
    okStatus: 200,
    // Acks offset 0 for a consumer nobody else uses, so every allowed ack is the same harmless commit.
    run: (url, h) => request(url).post('/topics/orders/messages/0/ack').query({ consumer_id: 'acker' }).set(h),
    afterOk: async (_url, _n, res) => expect(res.body).toEqual({ status: 'ok' }),
  },
  {
    label: 'GET /topics/{topic}/partitions/{partition}/messages',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).get('/topics/orders/partitions/0/messages').query({ max: 1 }).set(h),
    afterOk: async (_url, _n, res) => expect(res.body.messages[0]).toMatchObject({ message_id: 0, data: 'seed' }),
  },
  {
    label: 'GET /topics/{topic}/consumers',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).get('/topics/orders/consumers').set(h),
    afterOk: async (_url, _n, res) => expect(Array.isArray(res.body.consumers)).toBe(true),
  },
  {
    label: 'GET /topics/{topic}/consumers/{consumer_id}',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).get('/topics/orders/consumers/matrix').set(h),
    afterOk: async (_url, _n, res) => expect(res.body).toMatchObject({ consumer_id: 'matrix', offset: 0 }),
  },
  {
    label: 'PUT /topics/{topic}/consumers/{consumer_id} (seek)',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).put('/topics/orders/consumers/seeker').set(h).send({ position: 'end' }),
    afterOk: async (_url, _n, res) => expect(res.body).toMatchObject({ consumer_id: 'seeker', lag: 0 }),
  },
  {
    label: 'GET /topics/{topic}/consumers/{consumer_id}/messages (batch poll)',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).get('/topics/orders/consumers/batcher/messages').query({ max: 1 }).set(h),
    afterOk: async (_url, _n, res) => expect(res.body.messages[0]).toMatchObject({ message_id: 0, data: 'seed' }),
  },
  {
    label: 'POST /topics/{topic}/consumers/{consumer_id}/commit',
    action: 'consume',
    okStatus: 200,
    run: (url, h) => request(url).post('/topics/orders/consumers/committer/commit').set(h).send({ offset: 0 }),
    afterOk: async (_url, _n, res) => expect(res.body).toMatchObject({ consumer_id: 'committer', offset: 1, committed: true }),
  },
  {
    label: 'POST /topics/{topic}/create',
    action: 'admin',
    okStatus: 200,
    run: (url, h, n) => request(url).post(`/topics/orders-seed-${n}/create`).set(h),
    afterOk: async (url, n, res) => {
      expect(res.body.status).toBe('created');
      expect(await topicExists(url, `orders-seed-${n}`)).toBe(true);
    },
    afterDenied: async (url, n) => expect(await topicExists(url, `orders-seed-${n}`)).toBe(false),
  },
  {
    label: 'POST /topics (JSON body names the topic)',
    action: 'admin',
    okStatus: 201,
    run: (url, h, n) => request(url).post('/topics').set(h).send({ name: `orders-json-${n}`, partitions: 2 }),
    afterOk: async (url, n) => expect(await topicExists(url, `orders-json-${n}`)).toBe(true),
    afterDenied: async (url, n) => expect(await topicExists(url, `orders-json-${n}`)).toBe(false),
  },
  {
    label: 'PATCH /topics/{topic} (add partitions)',
    action: 'admin',
    okStatus: 200,
    prepare: async (url, n) => {
      await request(url).post(`/topics/orders-grow-${n}/create`).set(asRoot).expect(200);
    },
    run: (url, h, n) => request(url).patch(`/topics/orders-grow-${n}`).set(h).send({ partitions: 3 }),
    afterOk: async (_url, _n, res) => expect(res.body.partitions).toBe(3),
    afterDenied: async (url, n) => {
      const res = await request(url).get(`/topics/orders-grow-${n}`).set(asRoot).expect(200);
      expect(res.body.partitions).toBe(1);
    },
  },
  {
    label: 'DELETE /topics/{topic}',
    action: 'admin',
    okStatus: 200,
    prepare: async (url, n) => {
      await request(url).post(`/topics/orders-del-${n}/messages`).query({ message: 'doomed' }).set(asRoot).expect(200);
    },
    run: (url, h, n) => request(url).delete(`/topics/orders-del-${n}`).set(h),
    afterOk: async (url, n) => expect(await topicExists(url, `orders-del-${n}`)).toBe(false),
    afterDenied: async (url, n) => {
      const res = await request(url).get(`/topics/orders-del-${n}/partitions/0/messages`).set(asRoot).expect(200);
      expect(res.body.messages.map((m: { data: string }) => m.data)).toEqual(['doomed']);
    },
  },
];

// For each action: the keys that hold other actions on the same topics (403), the key whose rights cover
// another topic pattern (403), and the key that holds the right (allowed).
const HOLDER: Record<Action, keyof typeof KEY> = { produce: 'producer', consume: 'consumer', admin: 'admin' };
const WRONG_ACTION: Record<Action, Array<keyof typeof KEY>> = {
  produce: ['consumer', 'admin'],
  consume: ['producer', 'admin'],
  admin: ['producer', 'consumer'],
};

describe('API keys', () => {
  let t: TestApp;
  let counter = 0;

  /** Everything a refused request could have changed: topics, their message counts and every cursor. */
  const snapshot = async () => {
    const topics = await request(t.url).get('/topics').set(asRoot).expect(200);
    const consumers = await request(t.url).get('/topics/orders/consumers').set(asRoot).expect(200);
    return {
      topics: topics.body.topics.map((x: { name: string; message_count: number; partitions: number }) => [x.name, x.message_count, x.partitions]),
      consumers: consumers.body.consumers.map((c: { consumer_id: string; offset: number }) => [c.consumer_id, c.offset]),
    };
  };

  beforeAll(async () => {
    t = await startApp({ AUTH_KEYS: JSON.stringify(KEYS) });
    await request(t.url).post('/topics/orders/messages').query({ message: 'seed' }).set(asRoot).expect(200, { message_id: 0 });
    await request(t.url).post('/topics/logs-app/messages').query({ message: 'log line' }).set(asRoot).expect(200);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  describe.each(HEADER_STYLES)('key sent as %s', (_style, withKey) => {
    describe.each(ROUTES.map((r) => [r.label, r] as const))('%s', (_label, route) => {
      const denied = async (headers: Headers, status: number) => {
        const n = ++counter;
        await route.prepare?.(t.url, n);
        const before = await snapshot();
        const res = await route.run(t.url, headers, n);
        expectJsonError(res, status);
        expect(res.body.code).toBe(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN');
        // The answer never echoes a secret.
        for (const secret of Object.values(KEY)) expect(JSON.stringify(res.body)).not.toContain(secret);
        expect(await snapshot()).toEqual(before);
        await route.afterDenied?.(t.url, n);
        return res;
      };

      it('401 without a key', async () => {
        await denied({}, 401);
      });

      it('401 with an unknown key', async () => {
        const res = await denied(withKey(KEY.unknown), 401);
        expect(res.body.detail).toMatch(/unknown api key/i);
      });

      it(`403 with keys that hold other actions on the topic`, async () => {
        for (const name of WRONG_ACTION[route.action]) {
          const res = await denied(withKey(KEY[name]), 403);
          expect(res.body.detail).toContain(`'${name}'`);
          expect(res.body.detail).toContain(route.action);
        }
      });

      it('403 with a key whose rights cover another topic pattern', async () => {
        const res = await denied(withKey(KEY.other), 403);
        expect(res.body.detail).toContain("'other'");
      });

      it(`${route.okStatus} with the key that holds the right`, async () => {
        const n = ++counter;
        await route.prepare?.(t.url, n);
        const res = await route.run(t.url, withKey(KEY[HOLDER[route.action]]), n);
        expect(res.status).toBe(route.okStatus);
        await route.afterOk?.(t.url, n, res);
      });
    });
  });

  it('accepts a key only in the documented header forms', async () => {
    const poll = () => request(t.url).get('/topics/orders/messages').query({ consumer_id: 'forms' });
    expectJsonError(await poll().set('Authorization', `Basic ${Buffer.from(`x:${KEY.consumer}`).toString('base64')}`), 401);
    expectJsonError(await poll().set('Authorization', 'Bearer '), 401);
    expectJsonError(await poll().set('Authorization', KEY.consumer), 401);
    expectJsonError(await poll().set('X-API-Key', ''), 401);
    // A key that is a prefix or an extension of a real key is a different key.
    expectJsonError(await poll().set('X-API-Key', KEY.consumer.slice(0, -1)), 401);
    expectJsonError(await poll().set('X-API-Key', `${KEY.consumer}x`), 401);
    // The stored SHA-256 is not itself a key.
    expectJsonError(await poll().set('X-API-Key', sha256Hex(KEY.consumer)), 401);
    await poll().set('Authorization', `Bearer ${KEY.consumer}`).expect(200);
  });

  it('matches topic patterns as whole names (orders* covers orders-x, not xorders; logs-* not logs)', async () => {
    await request(t.url).post('/topics/xorders/messages').query({ message: 'x' }).set('X-API-Key', KEY.producer).expect(403);
    await request(t.url).post('/topics/logs/messages').query({ message: 'x' }).set('X-API-Key', KEY.other).expect(403);
    await request(t.url).post('/topics/logs-x/messages').query({ message: 'x' }).set('X-API-Key', KEY.other).expect(200);
    await request(t.url).post('/topics/orders.eu/messages').query({ message: 'x' }).set('X-API-Key', KEY.producer).expect(200);
  });

  it('filters GET /topics to the topics the key has some right on', async () => {
    const names = async (headers: Headers) => {
      const res = await request(t.url).get('/topics').set(headers).expect(200);
      return (res.body.topics as Array<{ name: string }>).map((x) => x.name);
    };
    const all = await names(asRoot);
    expect(all).toEqual(expect.arrayContaining(['orders', 'logs-app']));
    for (const key of ['producer', 'consumer', 'admin'] as const) {
      const seen = await names({ 'X-API-Key': KEY[key] });
      expect(seen).toContain('orders');
      expect(seen).toEqual(all.filter((n) => n.startsWith('orders')));
    }
    const other = await names({ Authorization: `Bearer ${KEY.other}` });
    expect(other).toContain('logs-app');
    expect(other).toEqual(all.filter((n) => n.startsWith('logs-')));
    expectJsonError(await request(t.url).get('/topics'), 401);
    expectJsonError(await request(t.url).get('/topics').set('X-API-Key', KEY.unknown), 401);
    // Pages count only what the key sees: a page of 1 walks exactly the visible topics, never a hidden one.
    const paged: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 100; i++) {
      const res = await request(t.url).get('/topics').query({ limit: 1, ...(after ? { after } : {}) }).set('X-API-Key', KEY.other).expect(200);
      paged.push(...(res.body.topics as Array<{ name: string }>).map((x) => x.name));
      after = res.body.next;
      if (!after) break;
    }
    expect(paged).toEqual(other);
  });

  it('describes a topic only to keys with some right on it', async () => {
    await request(t.url).get('/topics/orders').set('X-API-Key', KEY.consumer).expect(200);
    await request(t.url).get('/topics/logs-app').set('X-API-Key', KEY.other).expect(200);
    expectJsonError(await request(t.url).get('/topics/orders').set('X-API-Key', KEY.other), 403);
    expectJsonError(await request(t.url).get('/topics/logs-app').set('X-API-Key', KEY.producer), 403);
    expectJsonError(await request(t.url).get('/topics/orders'), 401);
  });

  it('leaves health, readiness, metrics and the API docs public', async () => {
    await request(t.url).get('/healthz').expect(200);
    await request(t.url).get('/readyz').expect(200);
    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toContain('minikafka_http_requests_total');
    const docs = await request(t.url).get('/docs/').expect(200);
    expect(docs.text).toMatch(/swagger/i);
    const json = await request(t.url).get('/docs-json').expect(200);
    expect(Object.keys(json.body.components.securitySchemes).sort()).toEqual(['api-key', 'bearer']);
    await request(t.url).get('/docs-yaml').expect(200);
  });
});

describe('API keys from AUTH_KEYS_FILE', () => {
  let dir: string;
  let t: TestApp;
  beforeAll(async () => {
    dir = tempDataDir('mk-auth-file-');
    const file = join(dir, 'keys.json');
    // The {"keys": [...]} form, hashed keys only; AUTH_KEYS adds one more key beside the file's.
    writeFileSync(
      file,
      JSON.stringify({
        keys: [
          { name: 'svc-a', sha256: sha256Hex('file-key-a-0123456789'), rights: [{ topics: 'a.*', actions: ['produce', 'consume'] }] },
          { name: 'ops', sha256: sha256Hex('file-key-ops-0123456789'), rights: [{ topics: '*', actions: ['admin'] }] },
        ],
      }),
    );
    const envKeys = [{ name: 'env-b', key: 'env-key-b-0123456789', rights: [{ topics: 'b.*', actions: ['produce'] }] }];
    t = await startApp({ AUTH_KEYS_FILE: file, AUTH_KEYS: JSON.stringify(envKeys) });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
    removeDir(dir);
  });

  it('authenticates the file keys and the AUTH_KEYS keys together', async () => {
    await request(t.url).post('/topics/a.orders/messages').query({ message: 'm' }).set('X-API-Key', 'file-key-a-0123456789').expect(200, { message_id: 0 });
    await request(t.url).get('/topics/a.orders/messages').query({ consumer_id: 'c' }).set('Authorization', 'Bearer file-key-a-0123456789').expect(200, { message_id: 0, data: 'm' });
    await request(t.url).post('/topics/b.x/messages').query({ message: 'm' }).set('X-API-Key', 'env-key-b-0123456789').expect(200);
    await request(t.url).post('/topics/new-one/create').set('X-API-Key', 'file-key-ops-0123456789').expect(200);
    // The file holds digests: the digest itself is not accepted as a key.
    expectJsonError(await request(t.url).post('/topics/a.orders/messages').query({ message: 'm' }).set('X-API-Key', sha256Hex('file-key-a-0123456789')), 401);
    expectJsonError(await request(t.url).post('/topics/b.x/messages').query({ message: 'm' }).set('X-API-Key', 'file-key-a-0123456789'), 403);
    expectJsonError(await request(t.url).get('/topics/b.x/messages').query({ consumer_id: 'c' }).set('X-API-Key', 'env-key-b-0123456789'), 403);
    expectJsonError(await request(t.url).post('/topics/a.orders/messages').query({ message: 'm' }).set('X-API-Key', 'file-key-ops-0123456789'), 403);
    expectJsonError(await request(t.url).post('/topics/a.orders/messages').query({ message: 'm' }), 401);
  });
});

describe('invalid key configuration', () => {
  // Made in beforeAll, not at collection, so a filtered run that skips this block leaves nothing behind.
  let dir: string;
  beforeAll(() => {
    dir = tempDataDir('mk-auth-bad-');
  });
  afterAll(() => removeDir(dir));

  const rights = [{ topics: '*', actions: ['produce'] }];
  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['AUTH_KEYS that is not JSON', { AUTH_KEYS: '{"keys": [' }, /AUTH_KEYS is not valid JSON/],
    ['AUTH_KEYS that is not a list', { AUTH_KEYS: '{"name": "x"}' }, /AUTH_KEYS must be a JSON array/],
    ['a key shorter than 16 characters', { AUTH_KEYS: JSON.stringify([{ name: 'short', key: 'short-key', rights }]) }, /'short'.*at least 16 characters/],
    ['a sha256 that is not 64 hex digits', { AUTH_KEYS: JSON.stringify([{ name: 'h', sha256: 'abc123', rights }]) }, /'h'.*64 hex digits/],
    ['neither key nor sha256', { AUTH_KEYS: JSON.stringify([{ name: 'none', rights }]) }, /'none'.*"key".*"sha256"/],
    ['a missing name', { AUTH_KEYS: JSON.stringify([{ key: 'k'.repeat(20), rights }]) }, /API key #0: name must be/],
    ['a name with spaces', { AUTH_KEYS: JSON.stringify([{ name: 'my key', key: 'k'.repeat(20), rights }]) }, /name must be/],
    ['empty rights', { AUTH_KEYS: JSON.stringify([{ name: 'r', key: 'k'.repeat(20), rights: [] }]) }, /'r'.*rights must be a non-empty array/],
    ['an unknown action', { AUTH_KEYS: JSON.stringify([{ name: 'a', key: 'k'.repeat(20), rights: [{ topics: '*', actions: ['delete'] }] }]) }, /'a'.*actions must be.*produce, consume, admin/],
    ['a pattern with a path in it', { AUTH_KEYS: JSON.stringify([{ name: 'p', key: 'k'.repeat(20), rights: [{ topics: '../*', actions: ['admin'] }] }]) }, /'p'.*topics must be a topic name pattern/],
    [
      'the same name twice',
      { AUTH_KEYS: JSON.stringify([{ name: 'dup', key: 'k'.repeat(20), rights }, { name: 'dup', key: 'j'.repeat(20), rights }]) },
      /'dup' is used twice/,
    ],
  ];

  it.each(bad)('refuses to start with %s, saying what is wrong', async (_what, env, message) => {
    await expect(startApp(env, dir)).rejects.toThrow(message);
  });

  it('refuses to start when AUTH_KEYS_FILE is missing or not JSON, naming the file', async () => {
    const missing = join(dir, 'no-such-keys.json');
    await expect(startApp({ AUTH_KEYS_FILE: missing }, dir)).rejects.toThrow(/no-such-keys\.json/);
    const broken = join(dir, 'broken-keys.json');
    writeFileSync(broken, '[{"name": ');
    await expect(startApp({ AUTH_KEYS_FILE: broken }, dir)).rejects.toThrow(/AUTH_KEYS_FILE .*broken-keys\.json is not valid JSON/);
  });
});
