// Two broker replicas (two app instances, separate DATA_DIRs) over one 3-node JetStream cluster, as behind a
// load balancer: whatever is answered 200 through replica B is readable through replica A at once, by every
// read route (fetch, poll, group receive, SSE, topic describe, cursor and group views), for single and batch
// produces, over many rounds; long polls, SSE streams and group receives on A wake on B's writes by
// subscription (well before A's 1 s safety refresh); a lease settled through the wrong replica is told so.
import request from 'supertest';
import { NatsCluster } from '../support/nats-cluster';
import { SseClient } from '../support/sse-client';
import { removeDir, startApp, tempDataDir, type TestApp } from '../support/test-app';

jest.setTimeout(240_000);

/** PartitionState's safety refresh: a wake-up that only polling could give comes about this late. */
const SAFETY_REFRESH_MS = 1000;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

describe('two broker replicas over one JetStream cluster', () => {
  let cluster: NatsCluster;
  let a: TestApp;
  let b: TestApp;
  const dirs = [tempDataDir('mk-replica-a-'), tempDataDir('mk-replica-b-')];

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    const env = { STORAGE: 'jetstream', NATS_URLS: cluster.urls };
    a = await startApp(env, dirs[0]);
    b = await startApp(env, dirs[1]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cluster?.destroy();
    for (const d of dirs) removeDir(d);
  });

  it('reads through A, at once, every single produce answered through B (fetch, poll, group, SSE, describe, cursor)', async () => {
    const topic = 'raw.single';
    await request(b.url).post(`/topics/${topic}/create`).expect(200);
    // A knows the topic and has cached its bounds before B starts writing: the stale cache is what must not show.
    await request(a.url).get(`/topics/${topic}`).expect(200);
    await request(a.url).get(`/topics/${topic}/groups/g/messages`).query({ max: 1, lease_ms: 600_000 }).expect(200);
    const rounds = 150;
    for (let n = 0; n < rounds; n++) {
      await request(b.url).post(`/topics/${topic}/messages`).query({ message: `m${n}` }).expect(200, { message_id: n });
      // fetch from behind the end: the read must run to the leader's end, not to A's cached one.
      const page = await request(a.url).get(`/topics/${topic}/partitions/0/messages`).query({ from_offset: Math.max(0, n - 5), max: 1000 }).expect(200);
      expect(page.body.messages.at(-1)).toMatchObject({ message_id: n, data: `m${n}` });
      expect(page.body).toMatchObject({ next_offset: n + 1, end_offset: n + 1 });
      // A consumer far behind that never commits: its batch poll reaches the new message.
      const polled = await request(a.url).get(`/topics/${topic}/consumers/behind/messages`).query({ max: 1000 }).expect(200);
      expect(polled.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual(Array.from({ length: n + 1 }, (_, i) => i));
      // The seed's poll for a consumer that acks everything (its acks go through B).
      await request(a.url).get(`/topics/${topic}/messages`).query({ consumer_id: 'acker' }).expect(200, { message_id: n, data: `m${n}` });
      await request(b.url).post(`/topics/${topic}/messages/${n}/ack`).query({ consumer_id: 'acker' }).expect(200);
      const cursor = await request(a.url).get(`/topics/${topic}/consumers/acker`).expect(200);
      expect(cursor.body).toMatchObject({ offset: n + 1, log_end_offset: n + 1, lag: 0 });
      const behind = await request(a.url).get(`/topics/${topic}/consumers/behind`).expect(200);
      expect(behind.body).toMatchObject({ offset: 0, log_end_offset: n + 1, lag: n + 1 });
      const described = await request(a.url).get(`/topics/${topic}`).expect(200);
      expect(described.body).toMatchObject({ message_count: n + 1, partition_details: [expect.objectContaining({ next_offset: n + 1 })] });
      // Group receive through A, and its view of the end and the lag.
      const got = await request(a.url).get(`/topics/${topic}/groups/g/messages`).query({ max: 10, lease_ms: 600_000 }).expect(200);
      expect(got.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual([n]);
      if (n % 10 === 0) {
        const view = await request(a.url).get(`/topics/${topic}/groups/g`).expect(200);
        expect(view.body.partitions[0]).toMatchObject({ end_offset: n + 1 });
      }
      if (n % 15 === 0 && n > 0) {
        // SSE from a few messages back: the stream delivers up to the new message at once.
        const sse = await SseClient.open(a.url, `/topics/${topic}/stream?from_offset=${n - 3}`);
        expect(sse.status).toBe(200);
        await sse.waitFor(() => sse.messages.length >= 4, 3000, `SSE through A to reach offset ${n}`);
        sse.destroy();
        expect(sse.messages.slice(0, 4).map((m) => m.message_id)).toEqual([n - 3, n - 2, n - 1, n]);
      }
    }
  });

  it('reads through A, at once, every batch answered through B (fetch, poll, describe, SSE resume)', async () => {
    const topic = 'raw.batch';
    await request(b.url).post(`/topics/${topic}/create`).expect(200);
    await request(a.url).get(`/topics/${topic}`).expect(200);
    const size = 60;
    const rounds = 50;
    for (let r = 0; r < rounds; r++) {
      const messages = Array.from({ length: size }, (_, i) => ({ message: `b${r}-${i}` }));
      const res = await request(b.url).post(`/topics/${topic}/messages/batch`).send({ messages }).expect(200);
      const end = (r + 1) * size;
      expect(res.body.message_ids.at(-1)).toBe(end - 1);
      // From the start of the previous batch: two batches, the new one whole.
      const from = Math.max(0, end - 2 * size);
      const page = await request(a.url).get(`/topics/${topic}/partitions/0/messages`).query({ from_offset: from, max: 1000 }).expect(200);
      expect(page.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual(Array.from({ length: end - from }, (_, i) => from + i));
      expect(page.body.end_offset).toBe(end);
      const polled = await request(a.url).get(`/topics/${topic}/consumers/c${r % 3}/messages`).query({ max: 1000 }).expect(200);
      expect(polled.body.messages.at(-1)?.message_id).toBe(Math.min(end, 1000) - 1);
      const described = await request(a.url).get(`/topics/${topic}`).expect(200);
      expect(described.body.partition_details[0].next_offset).toBe(end);
      if (r % 10 === 9) {
        // A stream resumed just past the previous batch (an event id names the next offset) starts exactly there.
        const sse = await SseClient.open(a.url, `/topics/${topic}/stream`, { 'last-event-id': `0:${end - size}` });
        await sse.waitFor(() => sse.messages.length >= size, 5000, 'the batch through SSE');
        sse.destroy();
        expect(sse.messages[0].message_id).toBe(end - size);
        expect(sse.messages[size - 1].message_id).toBe(end - 1);
      }
    }
    const all = await request(a.url).get(`/topics/${topic}/partitions/0/messages`).query({ from_offset: 0, max: 1000 }).expect(200);
    expect(all.body.messages).toHaveLength(1000);
  });

  it('wakes a long poll, an SSE stream and a group receive on A when B produces, by subscription', async () => {
    const topic = 'raw.wake';
    await request(b.url).post(`/topics/${topic}/create`).expect(200);
    await request(a.url).get(`/topics/${topic}`).expect(200);
    const sse = await SseClient.open(a.url, `/topics/${topic}/stream?position=end`);
    expect(sse.status).toBe(200);
    const poll: number[] = [];
    const stream: number[] = [];
    const group: number[] = [];
    const produce: number[] = [];
    const afterAnswer: number[] = [];
    const rounds = 40;
    for (let n = 0; n < rounds; n++) {
      const pending = request(a.url)
        .get(`/topics/${topic}/messages`)
        .query({ consumer_id: 'lp', wait_ms: 10_000 })
        .then((r) => ({ r, at: performance.now() }));
      const leased = request(a.url)
        .get(`/topics/${topic}/groups/w/messages`)
        .query({ max: 1, wait_ms: 10_000 })
        .then((r) => ({ r, at: performance.now() }));
      let sseAt = 0;
      const sseSeen = sse.waitFor(() => sse.messages.length > n, 10_000, `SSE event ${n}`).then(() => (sseAt = performance.now()));
      // Let both waits register (they subscribe once; later rounds find the subscription lingering).
      await new Promise((r) => setTimeout(r, 150));
      const sent = performance.now();
      await request(b.url).post(`/topics/${topic}/messages`).query({ message: `w${n}` }).expect(200, { message_id: n });
      const answered = performance.now();
      const [{ r, at }, g] = await Promise.all([pending, leased, sseSeen]);
      produce.push(answered - sent);
      afterAnswer.push(at - answered);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ message_id: n, data: `w${n}` });
      expect(g.r.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual([n]);
      poll.push(at - sent);
      group.push(g.at - sent);
      stream.push(sseAt - sent);
      await request(a.url).post(`/topics/${topic}/messages/${n}/ack`).query({ consumer_id: 'lp' }).expect(200);
      await request(a.url).post(`/topics/${topic}/groups/w/ack`).send({ lease_ids: [g.r.body.messages[0].lease_id] }).expect(200);
    }
    sse.destroy();
    const summary = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
    // Latency from sending the produce to B until A's answer arrived (includes B's produce itself).
    console.log(
      `cross-replica wake-up over ${rounds} rounds, from sending the produce to B: long poll ${summary(poll)}; SSE ${summary(stream)}; ` +
        `group receive ${summary(group)}. The produce itself: ${summary(produce)}; long poll after B's answer: ${summary(afterAnswer)}`,
    );
    for (const xs of [poll, stream, group]) {
      // Generous bounds on a shared machine (a wake-up by subscription takes a few ms here): what they exclude is
      // waking by polling, whether the 1 s safety refresh or a backoff of stream infos (about 100 ms at p50).
      expect(percentile(xs, 50)).toBeLessThan(75);
      expect(Math.max(...xs)).toBeLessThan(SAFETY_REFRESH_MS * 0.9);
    }
  });

  it('answers an ack, nack or extend through the replica that did not lease the message: lease unknown to this replica', async () => {
    const topic = 'raw.leases';
    await request(b.url).post(`/topics/${topic}/messages/batch`).send({ messages: [{ message: 'x' }, { message: 'y' }] }).expect(200);
    // The group exists on both replicas (each keeps its own leases): the wrong one must not say lease_expired.
    const onA = await request(a.url).get(`/topics/${topic}/groups/jobs/messages`).query({ max: 1, lease_ms: 60_000 }).expect(200);
    const onB = await request(b.url).get(`/topics/${topic}/groups/jobs/messages`).query({ max: 2, lease_ms: 60_000 }).expect(200);
    const leaseB = onB.body.messages[0].lease_id as string;
    for (const route of ['ack', 'nack', 'extend']) {
      const wrong = await request(a.url)
        .post(`/topics/${topic}/groups/jobs/${route}`)
        .send({ lease_ids: [leaseB], ...(route === 'extend' ? { lease_ms: 30_000 } : {}) })
        .expect(409);
      expect(wrong.body).toMatchObject({ code: 'LEASE_UNKNOWN_TO_REPLICA', status: 409 });
      expect(wrong.body.detail).toMatch(/Lease unknown to this replica/);
      expect(wrong.body.detail).toMatch(/through that replica/);
    }
    // Mixed with one of A's own: refused whole, so A's lease is still live and B's still settles through B.
    await request(a.url)
      .post(`/topics/${topic}/groups/jobs/ack`)
      .send({ lease_ids: [onA.body.messages[0].lease_id, leaseB] })
      .expect(409);
    await request(a.url).post(`/topics/${topic}/groups/jobs/ack`).send({ lease_ids: [onA.body.messages[0].lease_id] }).expect(200, {
      results: [{ lease_id: onA.body.messages[0].lease_id, status: 'acked' }],
    });
    await request(b.url).post(`/topics/${topic}/groups/jobs/ack`).send({ lease_ids: [leaseB] }).expect(200, { results: [{ lease_id: leaseB, status: 'acked' }] });
    // A malformed id is still a 400, and a retried ack through the right replica is harmless.
    await request(a.url).post(`/topics/${topic}/groups/jobs/ack`).send({ lease_ids: ['nope'] }).expect(400);
    await request(b.url).post(`/topics/${topic}/groups/jobs/ack`).send({ lease_ids: [leaseB] }).expect(200, { results: [{ lease_id: leaseB, status: 'already_acked' }] });
  });
});
