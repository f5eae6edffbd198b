// Operations: per-key rate limits, liveness and readiness (and their transitions), Prometheus metrics,
// request ids, helmet headers, CORS, and topics declared in TOPICS_FILE.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { removeDir, startApp, tempDataDir, type TestApp } from '../support/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true; fails with `what` after `timeoutMs` (a bound, not a speed claim). */
async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

const expectJsonError = (res: request.Response, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
};

describe('rate limits (RATE_LIMIT_PER_SECOND=5, per API key)', () => {
  const keys = [
    { name: 'alpha', key: 'alpha-key-0123456789', rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] },
    { name: 'beta', key: 'beta-key-0123456789a', rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] },
  ];
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SECOND: '5', AUTH_KEYS: JSON.stringify(keys) });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  const produce = (key: string, i: number) => request(t.url).post('/topics/limited/messages').query({ message: `m-${i}` }).set('X-API-Key', key);

  it('answers a burst beyond the budget with 429, Retry-After and a JSON detail; other keys keep their own budget', async () => {
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => produce('alpha-key-0123456789', i)));
    const windows = Math.ceil((Date.now() - started) / 1000) + 1;
    const ok = burst.filter((r) => r.status === 200);
    const limited = burst.filter((r) => r.status === 429);
    expect(ok.length + limited.length).toBe(burst.length);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(5 * windows);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      expectJsonError(r, 429);
      expect(r.body.code).toBe('TOO_MANY_REQUESTS');
      expect(r.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    }
    expect(ok[0].headers['x-ratelimit-limit']).toBe('5');

    // alpha is now blocked; beta's budget is its own: five requests in a row pass, the next burst is limited.
    for (let i = 0; i < 5; i++) await produce('beta-key-0123456789a', 100 + i).expect(200);
    const betaBurst = await Promise.all(Array.from({ length: 10 }, (_, i) => produce('beta-key-0123456789a', 200 + i)));
    expect(betaBurst.some((r) => r.status === 429)).toBe(true);

    // Throttled produces stored nothing: the log holds exactly the answered ones.
    await eventually('alpha unblocked', async () => (await request(t.url).get('/topics/limited').set('X-API-Key', 'alpha-key-0123456789')).status === 200);
    const described = await request(t.url).get('/topics/limited').set('X-API-Key', 'alpha-key-0123456789').expect(200);
    const answered = ok.length + 5 + betaBurst.filter((r) => r.status === 200).length;
    expect(described.body.message_count).toBe(answered);
  });

  it('limits unauthenticated traffic per client address when auth is off', async () => {
    const open = await startApp({ RATE_LIMIT_PER_SECOND: '5' });
    try {
      const burst = await Promise.all(Array.from({ length: 20 }, () => request(open.url).get('/topics')));
      expect(burst.some((r) => r.status === 200)).toBe(true);
      const limited = burst.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0].headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expectJsonError(limited[0], 429);
    } finally {
      await open.close();
      removeDir(open.dataDir);
    }
  });

  it('has no limit when RATE_LIMIT_PER_SECOND is 0 (the default)', async () => {
    const open = await startApp({});
    try {
      const burst = await Promise.all(Array.from({ length: 40 }, () => request(open.url).get('/topics')));
      expect(burst.map((r) => r.status)).toEqual(burst.map(() => 200));
      expect(burst[0].headers['x-ratelimit-limit']).toBeUndefined();
    } finally {
      await open.close();
      removeDir(open.dataDir);
    }
  });
});

describe('health and readiness', () => {
  it('answers /healthz and /readyz 200 when up', async () => {
    const t = await startApp();
    try {
      const live = await request(t.url).get('/healthz').expect(200);
      expect(live.body.status).toBe('ok');
      const ready = await request(t.url).get('/readyz').expect(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.info.storage.status).toBe('up');
    } finally {
      await t.close();
      removeDir(t.dataDir);
    }
  });

  it('turns readiness 503 while DATA_DIR is not writable, and back to 200 when it is again', async () => {
    // Tests run as root, where chmod does not stop writes: the data directory is moved away and a plain
    // file put at its path, so nothing can be created under DATA_DIR (ENOTDIR) whoever the user is.
    const t = await startApp();
    const moved = `${t.dataDir}.moved`;
    try {
      await request(t.url).post('/topics/ready/messages').query({ message: 'before' }).expect(200);
      await request(t.url).get('/readyz').expect(200);
      renameSync(t.dataDir, moved);
      writeFileSync(t.dataDir, 'not a directory');

      let down: request.Response | undefined;
      await eventually('readiness 503', async () => {
        const res = await request(t.url).get('/readyz');
        if (res.status === 503) down = res;
        return res.status === 503;
      });
      expectJsonError(down!, 503);
      expect(down!.body.status).toBe('error');
      expect(down!.body.error.storage.status).toBe('down');
      expect(down!.body.error.storage.message).toMatch(/not writable/);
      // Liveness is about the process, not the disk: still 200.
      await request(t.url).get('/healthz').expect(200);

      rmSync(t.dataDir);
      renameSync(moved, t.dataDir);
      await eventually('readiness 200 again', async () => (await request(t.url).get('/readyz')).status === 200);
      await request(t.url).post('/topics/ready/messages').query({ message: 'after' }).expect(200, { message_id: 1 });
    } finally {
      if (existsSync(moved)) {
        rmSync(t.dataDir, { force: true });
        renameSync(moved, t.dataDir);
      }
      await t.close();
      removeDir(t.dataDir);
    }
  });

  it('answers readiness 503 (draining) to a request already on the wire when shutdown begins', async () => {
    const t = await startApp();
    const { port } = new URL(t.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    const ended = new Promise<void>((done) => socket.once('close', () => done()));
    try {
      await new Promise<void>((done, fail) => socket.once('connect', done).once('error', fail));
      // Half a request: the connection is busy, so the server's close waits for it instead of dropping it.
      socket.write('GET /readyz HTTP/1.1\r\nHost: localhost\r\n');
      await sleep(200); // let the server read the first half before shutdown starts
      const closing = t.close();
      // Shutdown has passed the draining step once the server refuses new connections.
      await eventually('listener closed', () => refusesConnections(Number(port)));
      socket.write('Connection: close\r\n\r\n');
      await ended;
      await closing;
      const [head, body] = received.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 503 /);
      expect(head).toMatch(/content-type: application\/json/i);
      const json = JSON.parse(body);
      expect(json.detail).toEqual(expect.any(String));
      expect(json.error.storage).toEqual({ status: 'down', message: 'draining for shutdown' });
    } finally {
      socket.destroy();
      removeDir(t.dataDir);
    }
  });
});

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s: Socket = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      done(false);
    });
    s.once('error', () => done(true));
  });
}

/** One sample of the Prometheus text: the value of `name` whose labels include `labels`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('/metrics', () => {
  let t: TestApp;
  let text: string;
  beforeAll(async () => {
    t = await startApp();
    for (const m of ['a1', 'a2', 'a3']) await request(t.url).post('/topics/m-a/messages').query({ message: m }).expect(200);
    await request(t.url).post('/topics/m-b/messages/batch').send({ messages: [{ message: 'bbbb' }, { message: 'bb' }] }).expect(200);
    await request(t.url).get('/topics/m-a/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 0, data: 'a1' });
    await request(t.url).post('/topics/m-a/messages/0/ack').query({ consumer_id: 'c' }).expect(200);
    await request(t.url).put('/topics/m-a/consumers/tail').send({ position: 'end' }).expect(200);
    await request(t.url).get('/topics/m-a/partitions/0/messages').query({ max: 10 }).expect(200);
    await request(t.url).post('/topics/%2E%2E/messages').query({ message: 'x' }).expect(400);
    await request(t.url).get('/no/such/route').expect(404);
    const res = await request(t.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    text = res.text;
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('counts produced and consumed messages and bytes per topic', () => {
    expect(sample(text, 'minikafka_messages_produced_total', { topic: 'm-a' })).toBe(3);
    expect(sample(text, 'minikafka_messages_produced_total', { topic: 'm-b' })).toBe(2);
    expect(sample(text, 'minikafka_bytes_produced_total', { topic: 'm-a' })).toBe(6);
    expect(sample(text, 'minikafka_bytes_produced_total', { topic: 'm-b' })).toBe(6);
    // One poll and a fetch of all three.
    expect(sample(text, 'minikafka_messages_consumed_total', { topic: 'm-a' })).toBe(4);
    expect(sample(text, 'minikafka_bytes_consumed_total', { topic: 'm-a' })).toBe(8);
    expect(sample(text, 'minikafka_messages_consumed_total', { topic: 'm-b' })).toBeUndefined();
  });

  it('reports consumer lag per topic, partition and consumer', () => {
    expect(sample(text, 'minikafka_consumer_lag', { topic: 'm-a', partition: '0', consumer: 'c' })).toBe(2);
    expect(sample(text, 'minikafka_consumer_lag', { topic: 'm-a', partition: '0', consumer: 'tail' })).toBe(0);
  });

  it('counts requests by method, route pattern and status, never by raw path', () => {
    expect(sample(text, 'minikafka_http_requests_total', { method: 'POST', route: '/topics/:topic/messages', status: '200' })).toBe(3);
    expect(sample(text, 'minikafka_http_requests_total', { method: 'POST', route: '/topics/:topic/messages/batch', status: '200' })).toBe(1);
    expect(sample(text, 'minikafka_http_requests_total', { method: 'GET', route: '/topics/:topic/messages', status: '200' })).toBe(1);
    expect(sample(text, 'minikafka_http_requests_total', { method: 'POST', route: '/topics/:topic/messages/:message_id/ack', status: '200' })).toBe(1);
    expect(sample(text, 'minikafka_http_requests_total', { method: 'POST', route: '/topics/:topic/messages', status: '400' })).toBe(1);
    // An unknown path is counted under one catch-all label, whatever the path was.
    const notFound = text.split('\n').filter((l) => l.startsWith('minikafka_http_requests_total{') && l.includes('status="404"'));
    expect(notFound).toHaveLength(1);
    expect(notFound[0]).toMatch(/ 1$/);
    expect(text).not.toMatch(/route="[^"]*(m-a|no\/such)/);
  });

  it('reports segments and bytes on disk', () => {
    expect(sample(text, 'minikafka_log_segments', { topic: 'm-a', partition: '0' })).toBe(1);
    expect(sample(text, 'minikafka_log_bytes', { topic: 'm-a', partition: '0' })).toBeGreaterThan(0);
    expect(sample(text, 'minikafka_log_bytes', { topic: 'm-b', partition: '0' })).toBeGreaterThan(0);
  });

  it('reports fsync latency and group-commit sizes', () => {
    // Three single produces and one batch of two: four group commits, at least, of 1, 1, 1 and 2 messages.
    expect(sample(text, 'minikafka_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'minikafka_group_commit_messages_count')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'minikafka_group_commit_messages_sum')).toBeGreaterThanOrEqual(5);
  });

  it('includes the process metrics', () => {
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(sample(text, name)).toBeGreaterThanOrEqual(0);
    }
  });

  it('tracks a deleted topic no more in the gauges', async () => {
    await request(t.url).delete('/topics/m-b').expect(200);
    const after = (await request(t.url).get('/metrics').expect(200)).text;
    expect(sample(after, 'minikafka_log_segments', { topic: 'm-b' })).toBeUndefined();
    expect(sample(after, 'minikafka_log_segments', { topic: 'm-a' })).toBe(1);
  });
});

describe('request ids, security headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('echoes a valid X-Request-Id and generates one otherwise', async () => {
    const given = await request(t.url).get('/healthz').set('X-Request-Id', 'trace-42.abc:def').expect(200);
    expect(given.headers['x-request-id']).toBe('trace-42.abc:def');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const a = await request(t.url).get('/healthz').expect(200);
    const b = await request(t.url).get('/healthz').expect(200);
    expect(a.headers['x-request-id']).toMatch(uuid);
    expect(b.headers['x-request-id']).toMatch(uuid);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    // Ids that could forge log lines or bloat them are replaced, not echoed.
    for (const bad of ['has spaces', 'x'.repeat(129), 'a"b', '<script>']) {
      const res = await request(t.url).get('/healthz').set('X-Request-Id', bad).expect(200);
      expect(res.headers['x-request-id']).toMatch(uuid);
    }
    // Errors carry it too.
    const err = await request(t.url).get('/topics/missing').set('X-Request-Id', 'err-1');
    expect(err.status).toBe(404);
    expect(err.headers['x-request-id']).toBe('err-1');
  });

  it('sends helmet security headers and no X-Powered-By', async () => {
    const res = await request(t.url).get('/topics').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['x-powered-by']).toBeUndefined();
    const err = await request(t.url).get('/nope').expect(404);
    expect(err.headers['x-content-type-options']).toBe('nosniff');
    // Swagger UI still loads under the policy.
    const docs = await request(t.url).get('/docs/').expect(200);
    expect(docs.headers['content-security-policy']).toMatch(/script-src 'self' 'unsafe-inline'/);
  });

  it('has CORS off by default', async () => {
    const simple = await request(t.url).get('/topics').set('Origin', 'https://app.example').expect(200);
    expect(simple.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(t.url)
      .options('/topics/x/messages')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
  });
});

describe('CORS_ORIGINS', () => {
  it('allows exactly the listed origins, preflight included', async () => {
    const t = await startApp({ CORS_ORIGINS: 'https://app.example, https://admin.example' });
    try {
      const ok = await request(t.url).get('/topics').set('Origin', 'https://admin.example').expect(200);
      expect(ok.headers['access-control-allow-origin']).toBe('https://admin.example');
      expect(ok.headers['access-control-expose-headers']).toMatch(/Retry-After/);
      expect(ok.headers['access-control-expose-headers']).toMatch(/X-Request-Id/);
      const other = await request(t.url).get('/topics').set('Origin', 'https://evil.example').expect(200);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await request(t.url)
        .options('/topics/x/messages')
        .set('Origin', 'https://app.example')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'content-type,x-api-key');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);
      const evilPreflight = await request(t.url).options('/topics/x/messages').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
      expect(evilPreflight.headers['access-control-allow-origin']).toBeUndefined();
      // A refused preflight wrote nothing.
      expect(existsSync(join(t.dataDir, 'topics', 'x'))).toBe(false);
    } finally {
      await t.close();
      removeDir(t.dataDir);
    }
  });

  it('reflects any origin with CORS_ORIGINS=*', async () => {
    const t = await startApp({ CORS_ORIGINS: '*' });
    try {
      const res = await request(t.url).get('/topics').set('Origin', 'https://anything.example').expect(200);
      expect(res.headers['access-control-allow-origin']).toBe('https://anything.example');
    } finally {
      await t.close();
      removeDir(t.dataDir);
    }
  });
});

describe('TOPICS_FILE', () => {
  // Made in beforeAll, not at collection, so a filtered run that skips this block leaves nothing behind.
  let dir: string;
  beforeAll(() => {
    dir = tempDataDir('mk-topics-file-');
  });
  afterAll(() => removeDir(dir));

  const topicsOf = async (t: TestApp) => {
    const res = await request(t.url).get('/topics').expect(200);
    return Object.fromEntries((res.body.topics as Array<{ name: string; partitions: number; message_count: number }>).map((x) => [x.name, [x.partitions, x.message_count]]));
  };

  it('creates the declared topics at start, and leaves existing ones and their data alone on restart', async () => {
    const file = join(dir, 'topics.json');
    writeFileSync(file, JSON.stringify([{ name: 'orders', partitions: 3 }, { name: 'audit', retention_ms: 3_600_000 }]));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    const first = await startApp({ TOPICS_FILE: file }, dataDir);
    try {
      // Ready before the first request: no request created these.
      expect(await topicsOf(first)).toEqual({ orders: [3, 0], audit: [1, 0] });
      expect((await request(first.url).get('/topics/audit').expect(200)).body.retention_ms).toBe(3_600_000);
      await request(first.url).post('/topics/orders/messages').send({ message: 'kept', partition: 2 }).expect(200, { message_id: 0, partition: 2 });
    } finally {
      await first.close();
    }
    // The {"topics": [...]} form; orders is declared again with other settings, billing is new.
    writeFileSync(file, JSON.stringify({ topics: [{ name: 'orders', partitions: 1 }, { name: 'billing', partitions: 2 }] }));
    const second = await startApp({ TOPICS_FILE: file }, dataDir);
    try {
      expect(await topicsOf(second)).toEqual({ orders: [3, 1], audit: [1, 0], billing: [2, 0] });
      const kept = await request(second.url).get('/topics/orders/partitions/2/messages').expect(200);
      expect(kept.body.messages.map((m: { data: string }) => m.data)).toEqual(['kept']);
    } finally {
      await second.close();
    }
  });

  it.each([
    ['not JSON', '[{"name": ', /TOPICS_FILE .*is not valid JSON/],
    ['not a list', '{"name": "x"}', /TOPICS_FILE .*must be a JSON array/],
    ['a topic without a name', '[{"partitions": 2}]', /topic #0 needs a "name"/],
    ['a fractional partition count', '[{"name": "x", "partitions": 1.5}]', /'x' partitions must be an integer/],
    ['a path as a topic name', '[{"name": "../escape"}]', /topic name/],
    ['zero partitions', '[{"name": "zero", "partitions": 0}]', /partitions must be an integer from 1 to 1024/],
    ['a negative retention', '[{"name": "r", "retention_ms": -1}]', /'r' retention_ms must be a non-negative integer/],
  ])('refuses to start with a TOPICS_FILE holding %s', async (_what, content, message) => {
    const file = join(dir, 'bad-topics.json');
    writeFileSync(file, content);
    const dataDir = tempDataDir();
    try {
      await expect(startApp({ TOPICS_FILE: file }, dataDir)).rejects.toThrow(message);
      expect(existsSync(join(dataDir, '..', 'escape'))).toBe(false);
      expect(existsSync(join(dataDir, 'escape'))).toBe(false);
    } finally {
      removeDir(dataDir);
    }
  });

  it('refuses to start when TOPICS_FILE is missing, naming it', async () => {
    const dataDir = tempDataDir();
    try {
      await expect(startApp({ TOPICS_FILE: join(dir, 'absent-topics.json') }, dataDir)).rejects.toThrow(/absent-topics\.json/);
    } finally {
      removeDir(dataDir);
    }
  });
});
