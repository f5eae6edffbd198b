// JetStream failover: a real broker process (STORAGE=jetstream) on a real 3-node NATS cluster, produce and
// consume load over HTTP, and the stream's Raft leader SIGKILLed mid-load. Every produce answered 200 must
// be in the log at its offset afterwards, offsets dense, nothing stored twice, and the consumer goes on.
import { connect } from 'nats';
import { topicKey, TopicNames } from '../../src/storage/jetstream/names';
import { NatsCluster } from '../support/nats-cluster';
import { BrokerProcess, makeDataDir, removeDataDir, REQUEST_TIMEOUT_MS, sleep } from './broker-process';
import { checkRecoveredLog, newProduceLedger, readWholeLog, type ProduceLedger } from './workload';

jest.setTimeout(180_000);

const TOPIC = 'failover.orders';

interface Load {
  url: string;
  ledger: ProduceLedger;
  stop: boolean;
  /** 503 answers (a produce or poll JetStream could not serve in time): allowed, counted. */
  unavailable: number;
  unavailableDetails: Set<string>;
  /** Batches whose offsets were not consecutive (an election cut them): allowed, counted. */
  splitBatches: number;
  consumer: { lastAck: number; lastSent: number; acksAfterKill: number; problems: string[] };
  killed: boolean;
  /** When the first produce sent after the kill was answered 200 (the election as clients saw it). */
  killedAt: number;
  firstAckAfterKillMs: number | null;
}

async function call(load: Load, path: string, init: RequestInit = {}): Promise<{ status: number; body: any } | null> {
  try {
    const res = await fetch(`${load.url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const answer: { status: number; body: any } = { status: res.status, body: await res.json() };
    if (res.status === 503) load.unavailableDetails.add(`${init.method ?? 'GET'} ${path.split('?')[0]}: ${answer.body?.detail}`);
    return answer;
  } catch (err) {
    load.ledger.problems.push(`${init.method ?? 'GET'} ${path}: no answer (${String(err)})`);
    return null;
  }
}

function recordAck(load: Load, offset: number, text: string): void {
  const before = load.ledger.acked.get(offset);
  if (before !== undefined && before !== text) load.ledger.problems.push(`offset ${offset} answered for ${before} and ${text}`);
  load.ledger.acked.set(offset, text);
}

async function singleProducer(load: Load, p: number): Promise<void> {
  for (let seq = 0; !load.stop; seq++) {
    const text = `p${p}/${seq} ü€🚀`;
    load.ledger.sent.add(text);
    const sentAfterKill = load.killed;
    const res = await call(load, `/topics/${TOPIC}/messages?message=${encodeURIComponent(text)}`, { method: 'POST' });
    if (!res) return;
    if (res.status === 200 && Number.isSafeInteger(res.body?.message_id)) {
      recordAck(load, res.body.message_id, text);
      if (sentAfterKill) load.firstAckAfterKillMs ??= Date.now() - load.killedAt;
    } else if (res.status === 503) load.unavailable++;
    else load.ledger.problems.push(`produce answered ${res.status} ${JSON.stringify(res.body)}`);
  }
}

async function batchProducer(load: Load, p: number): Promise<void> {
  for (let seq = 0; !load.stop; seq++) {
    const texts = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, (_, i) => `b${p}/${seq}/${i}`);
    for (const t of texts) load.ledger.sent.add(t);
    const res = await call(load, `/topics/${TOPIC}/messages/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: texts.map((message) => ({ message })) }),
    });
    if (!res) return;
    if (res.status === 503) {
      load.unavailable++;
      continue;
    }
    const ids: unknown = res.body?.message_ids;
    if (res.status !== 200 || !Array.isArray(ids) || ids.length !== texts.length) {
      load.ledger.problems.push(`batch answered ${res.status} ${JSON.stringify(res.body)}`);
      continue;
    }
    if (!ids.every((id, i) => i === 0 || id === ids[i - 1] + 1)) load.splitBatches++;
    texts.forEach((t, i) => recordAck(load, ids[i] as number, t));
  }
}

/** The seed's consumer loop: poll, ack what was polled; the next poll must give the next offset. */
async function consumer(load: Load): Promise<void> {
  const c = load.consumer;
  while (!load.stop) {
    const polled = await call(load, `/topics/${TOPIC}/messages?consumer_id=worker`);
    if (!polled) return;
    if (polled.status === 404 || polled.status === 503) {
      if (polled.status === 503) load.unavailable++;
      await sleep(5);
      continue;
    }
    const id = polled.body?.message_id;
    // An ack answered 503 may still have been committed: then the next poll is one further.
    if (polled.status !== 200 || (id !== c.lastAck + 1 && id !== c.lastSent + 1)) {
      c.problems.push(`poll answered ${polled.status} ${JSON.stringify(polled.body)} after ack ${c.lastAck}`);
      return;
    }
    c.lastSent = id;
    const ack = await call(load, `/topics/${TOPIC}/messages/${id}/ack?consumer_id=worker`, { method: 'POST' });
    if (!ack) return;
    if (ack.status === 200) {
      c.lastAck = id;
      if (load.killed) c.acksAfterKill++;
    } else if (ack.status === 503) load.unavailable++;
    else c.problems.push(`ack ${id} answered ${ack.status} ${JSON.stringify(ack.body)}`);
  }
}

async function streamOf(cluster: NatsCluster, topic: string): Promise<string> {
  const nc = await connect({ servers: cluster.urls.split(',') });
  try {
    const kv = await nc.jetstream().views.kv('MK_TOPICS', { bindOnly: true });
    const entry = await kv.get(topicKey(topic));
    const meta = JSON.parse(entry!.string()) as { incarnation: string };
    return new TopicNames('MK', topic, meta.incarnation).stream(0);
  } finally {
    await nc.close();
  }
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('JetStream driver: the stream leader killed under load', () => {
  let cluster: NatsCluster;
  let broker: BrokerProcess;
  const dataDir = makeDataDir();

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    // Retries through the election end well before the test's own request timeout.
    broker = await BrokerProcess.start({ dataDir, env: { STORAGE: 'jetstream', NATS_URLS: cluster.urls, NATS_FAILOVER_TIMEOUT_MS: '10000' } });
  });
  afterAll(async () => {
    await broker?.kill9();
    await cluster?.destroy();
    removeDataDir(dataDir);
  });

  it('keeps every acknowledged produce at its offset, dense, and the consumer continues', async () => {
    const created = await fetch(`${broker.url}/topics/${TOPIC}/create`, { method: 'POST' });
    expect(created.status).toBe(200);
    const stream = await streamOf(cluster, TOPIC);
    const load: Load = {
      url: broker.url,
      ledger: newProduceLedger(),
      stop: false,
      unavailable: 0,
      unavailableDetails: new Set(),
      splitBatches: 0,
      consumer: { lastAck: -1, lastSent: -1, acksAfterKill: 0, problems: [] },
      killed: false,
      killedAt: 0,
      firstAckAfterKillMs: null,
    };
    const clients = [
      ...Array.from({ length: 16 }, (_, p) => singleProducer(load, p)),
      ...Array.from({ length: 2 }, (_, p) => batchProducer(load, p)),
      consumer(load),
    ];
    try {
      await waitUntil('load before the kill', () => load.ledger.acked.size >= 300 && load.consumer.lastAck >= 20, 60_000);
      const leader = await cluster.streamLeader(stream);
      const ackedAtKill = load.ledger.acked.size;
      load.killedAt = Date.now();
      load.killed = true;
      await cluster.kill(leader);
      // Keep producing through the election and well after it.
      await waitUntil('produces answered after the kill', () => load.ledger.acked.size >= ackedAtKill + 500, 90_000);
      await waitUntil('consumer acks after the kill', () => load.consumer.acksAfterKill >= 20, 60_000);
      const newLeader = await cluster.streamLeader(stream);
      expect(newLeader).not.toBe(leader);
      load.stop = true;
      await Promise.all(clients);

      expect(load.ledger.problems).toEqual([]);
      expect(load.consumer.problems).toEqual([]);
      const { log, endOffset } = await readWholeLog(broker, TOPIC);
      expect(checkRecoveredLog(log, endOffset, load.ledger)).toEqual([]);
      expect(log.length).toBeGreaterThanOrEqual(ackedAtKill + 500);

      // The consumer goes on through poll/ack on the new leader, and once it acks the end is told there is no more.
      const from = load.consumer.lastAck + 1;
      for (let next = from; next < Math.min(endOffset, from + 50); next++) {
        const polled = await fetch(`${broker.url}/topics/${TOPIC}/messages?consumer_id=worker`);
        expect(await polled.json()).toEqual({ message_id: next, data: log[next].data });
        expect((await fetch(`${broker.url}/topics/${TOPIC}/messages/${next}/ack?consumer_id=worker`, { method: 'POST' })).status).toBe(200);
      }
      expect((await fetch(`${broker.url}/topics/${TOPIC}/messages/${endOffset - 1}/ack?consumer_id=worker`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${broker.url}/topics/${TOPIC}/messages?consumer_id=worker`)).status).toBe(404);

      // The killed node comes back, catches up, and the log reads the same.
      await cluster.restart(leader);
      const again = await readWholeLog(broker, TOPIC);
      expect(again.log).toEqual(log);
      console.log(
        `failover: killed ${leader} (new leader ${newLeader}) after ${ackedAtKill} acked produces; first produce sent after the kill ` +
          `answered 200 after ${load.firstAckAfterKillMs} ms; ${log.length} messages in the end, ` +
          `${load.unavailable} answers 503 during the election, ${load.splitBatches} batch(es) split by it ${JSON.stringify([...load.unavailableDetails])}`,
      );
    } finally {
      load.stop = true;
      await Promise.all(clients);
    }
  });
});
