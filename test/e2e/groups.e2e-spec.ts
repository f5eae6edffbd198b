// Consumer groups over real HTTP: disjoint leased delivery, expiry, nack, extend, dead letters and redrive,
// per-key ordering, a restart in the middle, shutdown during a long poll, and 8 concurrent workers.
import request from 'supertest';
import { removeDir, startApp, tempDataDir, type TestApp } from '../support/test-app';

interface Delivered {
  message_id: number;
  partition: number;
  data: unknown;
  key?: string;
  headers?: Record<string, string>;
  lease_id: string;
  lease_expires_at: number;
  deliveries: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(url: string) {
  const g = (topic: string, group: string) => `/topics/${topic}/groups/${group}`;
  return {
    produce: async (topic: string, messages: Array<string | { message: string; key?: string; headers?: Record<string, string> }>) => {
      const body = { messages: messages.map((m) => (typeof m === 'string' ? { message: m } : m)) };
      return (await request(url).post(`/topics/${topic}/messages/batch`).send(body).expect(200)).body;
    },
    receive: async (topic: string, group: string, query: Record<string, number> = {}): Promise<Delivered[]> =>
      (await request(url).get(`${g(topic, group)}/messages`).query(query).expect(200)).body.messages,
    settle: (topic: string, group: string, action: 'ack' | 'nack' | 'extend', body: object) => request(url).post(`${g(topic, group)}/${action}`).send(body),
    ack: async (topic: string, group: string, ids: string[], allowExpired = false) => {
      const res = await request(url).post(`${g(topic, group)}/ack`).send({ lease_ids: ids });
      // 207 / 409: some (or the only) leases expired before the ack (a slow worker); each result says which.
      expect(allowExpired ? [200, 207, 409] : [200]).toContain(res.status);
      if (res.status === 409) return [{ status: 'lease_expired' }];
      return res.body.results as Array<{ status: string }>;
    },
    group: async (topic: string, group: string) => (await request(url).get(g(topic, group)).expect(200)).body,
    configure: (topic: string, group: string, body: object) => request(url).put(g(topic, group)).send(body),
  };
}

describe('consumer groups', () => {
  let t: TestApp;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    t = await startApp();
    c = client(t.url);
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('configures, describes and lists groups; validates names and bodies', async () => {
    await request(t.url).post('/topics/cfg/create').expect(200);
    const created = await c.configure('cfg', 'billing', { max_deliveries: 3, lease_ms: 1000 }).expect(201);
    expect(created.body).toMatchObject({ topic: 'cfg', group: 'billing', max_deliveries: 3, per_key_ordering: false, dead_letter_topic: 'cfg.dlq', lease_ms: 1000 });
    const changed = await c.configure('cfg', 'billing', { per_key_ordering: true, dead_letter_topic: 'graveyard' }).expect(200);
    expect(changed.body).toMatchObject({ max_deliveries: 3, per_key_ordering: true, dead_letter_topic: 'graveyard' });
    expect(changed.body.partitions).toEqual([{ partition: 0, committed_offset: 0, end_offset: 0, lag: 0, in_flight: 0, pending: 0, dead_lettered: 0 }]);
    await c.configure('cfg', 'billing', { dead_letter_topic: null }).expect(200).then((r) => expect(r.body.dead_letter_topic).toBe('cfg.dlq'));
    await c.configure('cfg', 'other', {}).expect(201);
    const list = await request(t.url).get('/topics/cfg/groups').expect(200);
    expect(list.body.groups.map((x: { group: string }) => x.group)).toEqual(['billing', 'other']);

    await c.configure('cfg', 'bad', { max_deliveries: -1 }).expect(400);
    await c.configure('cfg', 'bad', { lease_ms: 'soon' }).expect(400);
    await c.configure('cfg', 'bad', { surprise: 1 }).expect(400);
    await c.configure('cfg', 'bad', { dead_letter_topic: '../x' }).expect(400);
    await c.configure('cfg', 'bad', { dead_letter_topic: 'cfg' }).expect(400);
    await request(t.url).get('/topics/cfg/groups/has%2Fslash').expect(400);
    await request(t.url).get('/topics/cfg/groups/bad!name').expect(400);
    await request(t.url).get('/topics/cfg/groups/nobody').expect(404).then((r) => expect(r.body.code).toBe('GROUP_NOT_FOUND'));
    await request(t.url).get('/topics/nope/groups/billing/messages').expect(404).then((r) => expect(r.body.code).toBe('TOPIC_NOT_FOUND'));
    await request(t.url).get('/topics/cfg/groups/billing/messages').query({ max: 'x' }).expect(400);
    await request(t.url).post('/topics/cfg/groups/billing/ack').send({ lease_ids: [] }).expect(400);
    await request(t.url).post('/topics/cfg/groups/billing/ack').send({ lease_ids: 'abc' }).expect(400);
    await request(t.url).post('/topics/cfg/groups/billing/ack').send({ lease_ids: ['not-a-lease'] }).expect(400).then((r) => expect(r.body.code).toBe('INVALID_LEASE'));
    await request(t.url).post('/topics/cfg/groups/nobody/ack').send({ lease_ids: ['x'] }).expect(404);
    await request(t.url).post('/topics/cfg/groups/billing/extend').send({ lease_ids: ['x'] }).expect(400); // lease_ms missing
  });

  it('hands disjoint messages to two workers of one group, and all of them to another group', async () => {
    await c.produce('orders', Array.from({ length: 20 }, (_, i) => `o${i}`));
    const [a, b] = await Promise.all([c.receive('orders', 'billing', { max: 10 }), c.receive('orders', 'billing', { max: 10 })]);
    const ids = [...a, ...b].map((m) => m.message_id).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(a[0]).toMatchObject({ partition: 0, encoding: 'utf8', deliveries: 1 });
    expect(typeof a[0].lease_id).toBe('string');
    expect(await c.receive('orders', 'billing', { max: 10 })).toEqual([]);
    expect(await c.receive('orders', 'shipping', { max: 100 })).toHaveLength(20);
    const results = await c.ack('orders', 'billing', [...a, ...b].map((m) => m.lease_id));
    expect(results.every((r) => r.status === 'acked')).toBe(true);
    expect((await c.group('orders', 'billing')).partitions[0]).toMatchObject({ committed_offset: 20, lag: 0, in_flight: 0 });
    expect((await c.group('orders', 'shipping')).partitions[0]).toMatchObject({ committed_offset: 0, lag: 20, in_flight: 20 });
  });

  it('redelivers when a lease expires; the stale lease answers 409, a repeated ack 200', async () => {
    await c.produce('expiry', ['job']);
    const [first] = await c.receive('expiry', 'w', { lease_ms: 150 });
    expect(await c.receive('expiry', 'w')).toEqual([]);
    const started = Date.now();
    const [second] = await c.receive('expiry', 'w', { wait_ms: 3000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(second).toMatchObject({ message_id: first.message_id, deliveries: 2 });
    expect(second.lease_id).not.toBe(first.lease_id);
    const stale = await c.settle('expiry', 'w', 'ack', { lease_ids: [first.lease_id] }).expect(409);
    expect(stale.body.code).toBe('LEASE_EXPIRED');
    expect(await c.ack('expiry', 'w', [second.lease_id])).toEqual([{ lease_id: second.lease_id, status: 'acked' }]);
    expect(await c.ack('expiry', 'w', [second.lease_id])).toEqual([{ lease_id: second.lease_id, status: 'already_acked' }]);
    const mixed = await c.settle('expiry', 'w', 'ack', { lease_ids: [second.lease_id, first.lease_id, 'garbage'] }).expect(207);
    expect(mixed.body.results.map((r: { status: string }) => r.status)).toEqual(['already_acked', 'lease_expired', 'invalid_lease']);
  });

  it('nack makes a message available again after its delay', async () => {
    await c.produce('nacks', ['retry-me']);
    const [m] = await c.receive('nacks', 'w', { lease_ms: 60_000 });
    const nacked = await c.settle('nacks', 'w', 'nack', { lease_ids: [m.lease_id], delay_ms: 300 }).expect(200);
    expect(nacked.body.results[0].status).toBe('ok');
    const t0 = Date.now();
    expect(await c.receive('nacks', 'w')).toEqual([]);
    const [again] = await c.receive('nacks', 'w', { wait_ms: 3000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(again).toMatchObject({ data: 'retry-me', deliveries: 2 });
    // without a delay it is back at once, and a waiting receive is woken by the nack
    const waiting = c.receive('nacks', 'w', { wait_ms: 3000 });
    await sleep(50);
    await c.settle('nacks', 'w', 'nack', { lease_ids: [again.lease_id] }).expect(200);
    expect((await waiting).map((x) => x.deliveries)).toEqual([3]);
  });

  it('extend keeps a lease alive past its first expiry; an expired lease cannot be extended', async () => {
    await c.produce('extend', ['long-job']);
    const [m] = await c.receive('extend', 'w', { lease_ms: 200 });
    const ext = await c.settle('extend', 'w', 'extend', { lease_ids: [m.lease_id], lease_ms: 2000 }).expect(200);
    expect(ext.body.results[0].status).toBe('ok');
    expect(ext.body.results[0].lease_expires_at).toBeGreaterThan(m.lease_expires_at);
    await sleep(350);
    expect(await c.receive('extend', 'w')).toEqual([]);
    expect((await c.group('extend', 'w')).partitions[0].in_flight).toBe(1);
    expect(await c.ack('extend', 'w', [m.lease_id])).toEqual([{ lease_id: m.lease_id, status: 'acked' }]);

    await c.produce('extend', ['short-job']);
    const [n] = await c.receive('extend', 'w', { lease_ms: 50 });
    await sleep(100);
    await c.settle('extend', 'w', 'extend', { lease_ids: [n.lease_id], lease_ms: 2000 }).expect(409);
  });

  it('dead-letters past max_deliveries with headers, and redrives once', async () => {
    await request(t.url).post('/topics/payments/create').expect(200);
    await c.configure('payments', 'w', { max_deliveries: 2 }).expect(201);
    await c.produce('payments', [{ message: 'poison', key: 'acct-1', headers: { trace: 't-1' } }, 'fine']);
    const [p1] = await c.receive('payments', 'w', { max: 1 });
    await c.settle('payments', 'w', 'nack', { lease_ids: [p1.lease_id] }).expect(200);
    const [p2] = await c.receive('payments', 'w', { max: 1, lease_ms: 100 });
    expect(p2).toMatchObject({ data: 'poison', deliveries: 2 });
    await sleep(150); // the second delivery expires: that uses up max_deliveries
    const rest = await c.receive('payments', 'w', { max: 10 });
    expect(rest.map((m) => m.data)).toEqual(['fine']);
    await c.ack('payments', 'w', [rest[0].lease_id]);

    const dlq = (await request(t.url).get('/topics/payments.dlq/partitions/0/messages').query({ from_offset: 0 }).expect(200)).body.messages;
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ data: 'poison', key: 'acct-1' });
    expect(dlq[0].headers).toMatchObject({
      trace: 't-1',
      'x-dlq-source-topic': 'payments',
      'x-dlq-source-partition': '0',
      'x-dlq-source-offset': '0',
      'x-dlq-group': 'w',
      'x-dlq-reason': 'expired',
      'x-dlq-deliveries': '2',
    });
    expect((await c.group('payments', 'w')).partitions[0]).toMatchObject({ committed_offset: 2, lag: 0, dead_lettered: 1 });

    const redriven = await request(t.url).post('/topics/payments/groups/w/redrive').send({}).expect(200);
    expect(redriven.body).toEqual({ redriven: 1, dead_letter_topic: 'payments.dlq' });
    await request(t.url).post('/topics/payments/groups/w/redrive').expect(200, { redriven: 0, dead_letter_topic: 'payments.dlq' });
    const [back] = await c.receive('payments', 'w');
    expect(back).toMatchObject({ message_id: 2, data: 'poison', key: 'acct-1', headers: { trace: 't-1' }, deliveries: 1 });
    expect(await c.ack('payments', 'w', [back.lease_id])).toEqual([{ lease_id: back.lease_id, status: 'acked' }]);
    // the redrive cursor is a committed consumer cursor on the dead-letter topic
    await request(t.url).get('/topics/payments.dlq/consumers/redrive@w').expect(200).then((r) => expect(r.body.offset).toBe(1));
  });

  it('with per_key_ordering holds later messages of a key while one is in flight', async () => {
    await request(t.url).post('/topics/keyed/create').expect(200);
    await c.configure('keyed', 'w', { per_key_ordering: true }).expect(201);
    await c.produce('keyed', ['a1', 'b1', 'a2', 'b2', 'a3', 'c1'].map((v) => ({ message: v, key: v[0] })));
    const first = await c.receive('keyed', 'w', { max: 10 });
    expect(first.map((m) => m.data)).toEqual(['a1', 'b1', 'c1']);
    expect(await c.receive('keyed', 'w', { max: 10 })).toEqual([]);
    await c.ack('keyed', 'w', [first[0].lease_id]);
    const second = await c.receive('keyed', 'w', { max: 10 });
    expect(second.map((m) => m.data)).toEqual(['a2']);
    // a nacked message keeps its key's place: b2 waits for b1's redelivery
    await c.settle('keyed', 'w', 'nack', { lease_ids: [first[1].lease_id] }).expect(200);
    const third = await c.receive('keyed', 'w', { max: 10 });
    expect(third.map((m) => [m.data, m.deliveries])).toEqual([['b1', 2]]);
    await c.ack('keyed', 'w', [second[0].lease_id, third[0].lease_id, first[2].lease_id]);
    expect((await c.receive('keyed', 'w', { max: 10 })).map((m) => m.data)).toEqual(['b2', 'a3']);
  });

  it('answers a waiting long poll with an empty list, and a whole-topic receive spans partitions', async () => {
    await request(t.url).post('/topics').send({ name: 'wide', partitions: 3 }).expect(201);
    const t0 = Date.now();
    expect(await c.receive('wide', 'w', { wait_ms: 200 })).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    const waiting = c.receive('wide', 'w', { wait_ms: 5000, max: 100 });
    await sleep(50);
    await c.produce('wide', ['x']);
    expect((await waiting).map((m) => m.data)).toEqual(['x']);
    await c.produce('wide', ['y']);
    await c.produce('wide', ['z']);
    const rest = await c.receive('wide', 'w', { max: 100 });
    expect(rest.map((m) => m.data).sort()).toEqual(['y', 'z']);
    expect(new Set([...rest.map((m) => m.partition)]).size).toBeGreaterThanOrEqual(1);
    expect(await c.receive('wide', 'w', { partition: 0, max: 100 })).toEqual([]);
    await request(t.url).get('/topics/wide/groups/w/messages').query({ partition: 7 }).expect(404);
  });
});

describe('consumer groups across a restart', () => {
  const dataDir = tempDataDir();
  afterAll(() => removeDir(dataDir));

  it('never redelivers acked messages; redelivers unacked ones once their leases expire', async () => {
    const first = await startApp({}, dataDir);
    const c1 = client(first.url);
    await c1.produce('jobs', Array.from({ length: 10 }, (_, i) => `j${i}`));
    const got = await c1.receive('jobs', 'w', { max: 6, lease_ms: 2500 }); // outlives the restart even on a busy machine
    expect(got.map((m) => m.message_id)).toEqual([0, 1, 2, 3, 4, 5]);
    await c1.ack('jobs', 'w', [got[0].lease_id, got[2].lease_id, got[4].lease_id]);
    await first.close();

    const second = await startApp({}, dataDir);
    try {
      const c2 = client(second.url);
      expect((await c2.group('jobs', 'w')).partitions[0]).toMatchObject({ committed_offset: 1, in_flight: 3, lag: 7 });
      // leases survived: only messages never handed out are free now
      expect((await c2.receive('jobs', 'w', { max: 100, lease_ms: 60_000 })).map((m) => m.message_id)).toEqual([6, 7, 8, 9]);
      const again = await c2.receive('jobs', 'w', { max: 100, wait_ms: 10_000 });
      expect(again.map((m) => [m.message_id, m.deliveries])).toEqual([
        [1, 2],
        [3, 2],
        [5, 2],
      ]);
      // lease ids issued before the restart are still recognised
      await c2.settle('jobs', 'w', 'ack', { lease_ids: [got[1].lease_id] }).expect(409);
      expect((await c2.ack('jobs', 'w', [got[0].lease_id]))[0].status).toBe('already_acked');
    } finally {
      await second.close();
    }
  });

  it('answers a waiting receive when the app shuts down', async () => {
    const app = await startApp({}, dataDir);
    await request(app.url).post('/topics/idle/create').expect(200);
    const waiting = request(app.url).get('/topics/idle/groups/w/messages').query({ wait_ms: 20_000 });
    const answered = waiting.then((r) => r);
    await sleep(100);
    const t0 = Date.now();
    await app.close();
    const res = await answered;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ messages: [] });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('consumer groups under 8 concurrent workers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  interface Lease {
    key: string;
    offset: number;
    grantedAt: number;
    expiresAt: number;
    deliveries: number;
    nackedAt?: number;
    /** When the worker sent its ack or nack (the lease cannot end earlier on the broker). */
    endedAt?: number;
  }

  /** Runs 8 workers that ack most messages, nack a few and silently drop a few (their leases expire). */
  async function runWorkers(topic: string, total: number, leaseMs: number) {
    const c = client(t.url);
    const history = new Map<string, Lease[]>(); // per message (partition:offset): its deliveries in order
    const acked = new Map<string, number>();
    // Per key: [ack sequence, offset] of successful acks. The sequence is taken when the ack is sent: the broker
    // settles a message before handing out the next of its key, so ack sends of a key are ordered like its offsets.
    const ackOrder = new Map<string, Array<[number, number]>>();
    let ackSeq = 0;
    let done = false;
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const worker = async () => {
      while (!done) {
        const got = await c.receive(topic, 'workers', { max: 25, wait_ms: 100, lease_ms: leaseMs });
        const toAck: Delivered[] = [];
        for (const m of got) {
          const id = `${m.partition}:${m.message_id}`;
          const list = history.get(id) ?? [];
          list.push({ key: m.key ?? '', offset: m.message_id, grantedAt: m.lease_expires_at - leaseMs, expiresAt: m.lease_expires_at, deliveries: m.deliveries });
          history.set(id, list);
          const r = rand();
          if (r < 0.01) continue; // a worker "crashes" on it: the lease expires
          if (r < 0.03) {
            // Noted before sending: the broker may hand the message out again before the answer arrives.
            const lease = list[list.length - 1];
            lease.endedAt = lease.nackedAt = Date.now();
            const res = await c.settle(topic, 'workers', 'nack', { lease_ids: [m.lease_id] });
            if (res.status !== 200) lease.nackedAt = undefined; // it had expired already
            continue;
          }
          toAck.push(m);
        }
        if (toAck.length === 0) continue;
        const sentAt = Date.now();
        const seq = ++ackSeq;
        for (const m of toAck) history.get(`${m.partition}:${m.message_id}`)!.at(-1)!.endedAt = sentAt;
        const results = await c.ack(topic, 'workers', toAck.map((m) => m.lease_id), true);
        results.forEach((r, i) => {
          if (r.status !== 'acked') return;
          const m = toAck[i];
          const id = `${m.partition}:${m.message_id}`;
          acked.set(id, (acked.get(id) ?? 0) + 1);
          const order = ackOrder.get(`${m.partition}/${m.key}`) ?? [];
          order.push([seq, m.message_id]);
          ackOrder.set(`${m.partition}/${m.key}`, order);
        });
        if (acked.size >= total) done = true;
      }
    };
    const deadline = setTimeout(() => (done = true), 40_000);
    try {
      await Promise.all(Array.from({ length: 8 }, worker));
    } finally {
      done = true; // one failed worker stops the others
      clearTimeout(deadline);
    }
    return { history, acked, ackOrder };
  }

  function checkRun(run: Awaited<ReturnType<typeof runWorkers>>, total: number) {
    // none lost, every message settled exactly once as seen by successful acks
    expect(run.acked.size).toBe(total);
    expect([...run.acked.values()].every((n) => n === 1)).toBe(true);
    // a message was handed out again only after its previous lease expired or was nacked
    let redeliveries = 0;
    for (const leases of run.history.values()) {
      // Recorded as answers arrived; under load a redelivery's answer can be read before the first one's.
      leases.sort((a, b) => a.deliveries - b.deliveries);
      leases.forEach((l, i) => {
        expect(l.deliveries).toBe(i + 1);
        if (i === 0) return;
        redeliveries++;
        const prev = leases[i - 1];
        if (prev.nackedAt === undefined) expect(l.grantedAt).toBeGreaterThanOrEqual(prev.expiresAt);
      });
    }
    return redeliveries;
  }

  it('settles every one of 3000 messages exactly once, redelivering only after expiry or nack', async () => {
    await request(t.url).post('/topics').send({ name: 'load', partitions: 4 }).expect(201);
    const c = client(t.url);
    for (let i = 0; i < 30; i++) await c.produce('load', Array.from({ length: 100 }, (_, j) => `m${i * 100 + j}`));
    const run = await runWorkers('load', 3000, 400);
    const redeliveries = checkRun(run, 3000);
    expect(redeliveries).toBeGreaterThan(0);
    const g = await c.group('load', 'workers');
    expect(g.partitions.map((p: { lag: number; in_flight: number }) => [p.lag, p.in_flight])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  }, 60_000);

  it('keeps per-key order with per_key_ordering, under the same load', async () => {
    await request(t.url).post('/topics').send({ name: 'keyed-load', partitions: 2 }).expect(201);
    await request(t.url).put('/topics/keyed-load/groups/workers').send({ per_key_ordering: true }).expect(201);
    const c = client(t.url);
    for (let i = 0; i < 20; i++) {
      await c.produce('keyed-load', Array.from({ length: 100 }, (_, j) => ({ message: `v${i * 100 + j}`, key: `k${(i * 100 + j) % 40}` })));
    }
    const run = await runWorkers('keyed-load', 2000, 400);
    checkRun(run, 2000);
    for (const acks of run.ackOrder.values()) {
      const offsets = acks.sort((a, b) => a[0] - b[0]).map((a) => a[1]);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    // and no two messages of a key were ever leased at once: each delivery starts after the previous one ended
    // (per key, deliveries go in offset order, all deliveries of a message before the next message's first)
    const byKey = new Map<string, Lease[]>();
    for (const leases of run.history.values()) for (const l of leases) byKey.set(l.key, [...(byKey.get(l.key) ?? []), l]);
    for (const leases of byKey.values()) {
      leases.sort((a, b) => a.offset - b.offset || a.deliveries - b.deliveries);
      for (let i = 1; i < leases.length; i++) {
        const prev = leases[i - 1];
        expect(leases[i].grantedAt).toBeGreaterThanOrEqual(Math.min(prev.expiresAt, prev.endedAt ?? Infinity));
      }
    }
  }, 60_000);
});
