// Load for the power-cut suite, with a ledger of every answer the broker gave, and the checks that a broker restarted
// after a power cut still keeps each of those answers: produce (single, batch, Idempotency-Key), seed ack and seek,
// consumer-group ack, topic creation.
import { REQUEST_TIMEOUT_MS, sleep, type BrokerProcess } from '../crash/broker-process';
import { checkRecoveredLog, newProduceLedger, readWholeLog, type ProduceLedger, type StoredMessage } from '../crash/workload';

export const TOPIC = 'pc';
const debug = (msg: string) => process.env.POWERCUT_DEBUG && process.stderr.write(`[powercut ${new Date().toISOString()}] ${msg}\n`);
const GROUP = 'pc-group';

interface SeedConsumer {
  id: string;
  seeks: boolean;
  /** The cursor after the last answered ack or seek. */
  committed: number;
  /** The cursor the unanswered ack or seek would set, if one was in flight at the cut. */
  inFlight: number | null;
}

export interface PowerCutLedger {
  produce: ProduceLedger;
  consumers: SeedConsumer[];
  /** `partition:offset` of every message whose group ack was answered "acked". */
  groupAcked: Set<string>;
  /** Idempotency-Key → the offset and text of its answered produce. */
  idempotent: Map<string, { offset: number; text: string }>;
  /** Keys answered in the current round (all retried after the cut; older ones are sampled). */
  idempotentThisRound: string[];
  /** Topics whose creation was answered → the text answered at offset 0 (null when only the create was answered). */
  topics: Map<string, string | null>;
  /** Topics whose delete was answered: they must stay gone. */
  deletedTopics: Set<string>;
  /** Answers counted over all rounds. */
  counts: Record<'produces' | 'batches' | 'idempotent' | 'acks' | 'seeks' | 'groupAcks' | 'topics' | 'deletes', number>;
}

export function newPowerCutLedger(): PowerCutLedger {
  return {
    produce: newProduceLedger(),
    consumers: [
      { id: 'pc-acker', seeks: false, committed: 0, inFlight: null },
      { id: 'pc-seeker', seeks: true, committed: 0, inFlight: null },
    ],
    groupAcked: new Set(),
    idempotent: new Map(),
    idempotentThisRound: [],
    topics: new Map(),
    deletedTopics: new Set(),
    counts: { produces: 0, batches: 0, idempotent: 0, acks: 0, seeks: 0, groupAcks: 0, topics: 0, deletes: 0 },
  };
}

interface Run {
  url: string;
  round: number;
  ledger: PowerCutLedger;
  stop: boolean;
  problems: string[];
}

/** Runs every client against `broker` for `ms`, then SIGKILLs it and waits for the clients to notice. */
export async function loadThenKill(broker: BrokerProcess, ledger: PowerCutLedger, round: number, ms: number): Promise<string[]> {
  const run: Run = { url: broker.url, round, ledger, stop: false, problems: [] };
  ledger.idempotentThisRound = [];
  // The topic first (a produce would auto-create it, but a group receive racing that create would answer 404).
  const made = await call(run, '/topics', json({ name: TOPIC, partitions: 1 }));
  if (made && made.status !== 200 && made.status !== 201) run.problems.push(`create ${TOPIC} answered ${made.status} ${JSON.stringify(made.body)}`);
  const clients = [
    singleProducer(run, 0),
    singleProducer(run, 1),
    batchProducer(run),
    idempotentProducer(run, 0),
    idempotentProducer(run, 1),
    ...ledger.consumers.map((c) => seedConsumer(run, c)),
    groupWorker(run),
    topicCreator(run),
  ];
  await sleep(ms);
  run.stop = true;
  debug(`killing; ${run.problems.length} problems so far: ${run.problems.slice(0, 3).join(' | ')}`);
  await broker.kill9();
  debug('killed');
  const names = ['p0', 'p1', 'batch', 'k0', 'k1', 'c0', 'c1', 'group', 'topics'];
  clients.forEach((c, i) => void c.then(() => debug(`${names[i]} stopped`)));
  await Promise.all(clients);
  return run.problems;
}

async function call(run: Run, path: string, init: RequestInit = {}): Promise<{ status: number; body: any } | null> {
  try {
    const res = await fetch(`${run.url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: res.status, body: await res.json() };
  } catch (err) {
    if (!run.stop) run.problems.push(`${init.method ?? 'GET'} ${path} failed while the broker was alive: ${String(err)}`);
    return null;
  }
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function text(run: Run, client: string, seq: number): string {
  return `r${run.round}/${client}/${seq} ü€🚀`;
}

function recordProduce(run: Run, offset: number, t: string): void {
  const before = run.ledger.produce.acked.get(offset);
  if (before !== undefined && before !== t) run.problems.push(`offset ${offset} was answered for ${JSON.stringify(before)} and ${JSON.stringify(t)}`);
  run.ledger.produce.acked.set(offset, t);
}

async function singleProducer(run: Run, p: number): Promise<void> {
  for (let seq = 0; !run.stop; seq++) {
    const t = text(run, `p${p}`, seq);
    run.ledger.produce.sent.add(t);
    const res =
      p % 2 === 0
        ? await call(run, `/topics/${TOPIC}/messages?message=${encodeURIComponent(t)}`, { method: 'POST' })
        : await call(run, `/topics/${TOPIC}/messages`, json({ message: t }));
    if (!res) return;
    if (res.status !== 200 || !Number.isSafeInteger(res.body?.message_id)) run.problems.push(`produce answered ${res.status} ${JSON.stringify(res.body)}`);
    else {
      recordProduce(run, res.body.message_id, t);
      run.ledger.counts.produces++;
    }
  }
}

async function batchProducer(run: Run): Promise<void> {
  for (let seq = 0; !run.stop; seq++) {
    const texts = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, (_, i) => text(run, 'b', seq * 100 + i));
    for (const t of texts) run.ledger.produce.sent.add(t);
    const res = await call(run, `/topics/${TOPIC}/messages/batch`, json({ messages: texts.map((message) => ({ message })) }));
    if (!res) return;
    const base = res.body?.base_offset;
    if (res.status !== 200 || typeof base !== 'number' || res.body?.message_ids?.length !== texts.length) {
      run.problems.push(`batch answered ${res.status} ${JSON.stringify(res.body)}`);
      continue;
    }
    texts.forEach((t, i) => recordProduce(run, base + i, t));
    run.ledger.counts.batches++;
  }
}

async function idempotentProducer(run: Run, p: number): Promise<void> {
  for (let seq = 0; !run.stop; seq++) {
    const key = `r${run.round}-k${p}-${seq}`;
    const t = text(run, `k${p}`, seq);
    run.ledger.produce.sent.add(t);
    const res = await call(run, `/topics/${TOPIC}/messages`, { ...json({ message: t }), headers: { 'content-type': 'application/json', 'idempotency-key': key } });
    if (!res) return;
    if (res.status !== 200 || !Number.isSafeInteger(res.body?.message_id)) {
      run.problems.push(`idempotent produce answered ${res.status} ${JSON.stringify(res.body)}`);
      continue;
    }
    recordProduce(run, res.body.message_id, t);
    run.ledger.idempotent.set(key, { offset: res.body.message_id, text: t });
    run.ledger.idempotentThisRound.push(key);
    run.ledger.counts.idempotent++;
  }
}

/** Seed poll + ack, one at a time; the seeker also moves its cursor back now and then. */
async function seedConsumer(run: Run, c: SeedConsumer): Promise<void> {
  const base = `/topics/${TOPIC}/messages`;
  const q = `consumer_id=${c.id}`;
  for (let i = 0; !run.stop; i++) {
    if (c.seeks && i % 7 === 6) {
      const target = Math.max(0, c.committed - Math.floor(Math.random() * 20));
      c.inFlight = target;
      const res = await call(run, `/topics/${TOPIC}/consumers/${c.id}`, { ...json({ offset: target }), method: 'PUT' });
      if (!res) return;
      if (res.status !== 200 || res.body?.offset !== target) run.problems.push(`${c.id}: seek to ${target} answered ${res.status} ${JSON.stringify(res.body)}`);
      else {
        c.committed = target;
        run.ledger.counts.seeks++;
      }
      c.inFlight = null;
      continue;
    }
    const polled = await call(run, `${base}?${q}`);
    if (!polled) return;
    if (polled.status === 404) {
      await sleep(5);
      continue;
    }
    const id = polled.body?.message_id;
    if (polled.status !== 200 || id !== c.committed) {
      run.problems.push(`${c.id}: poll answered ${polled.status} ${JSON.stringify(polled.body)} with the cursor at ${c.committed}`);
      return;
    }
    c.inFlight = id + 1;
    const acked = await call(run, `${base}/${id}/ack?${q}`, { method: 'POST' });
    if (!acked) return;
    if (acked.status !== 200) run.problems.push(`${c.id}: ack ${id} answered ${acked.status} ${JSON.stringify(acked.body)}`);
    else {
      c.committed = Math.max(c.committed, id + 1);
      run.ledger.counts.acks++;
    }
    c.inFlight = null;
  }
}

async function groupWorker(run: Run): Promise<void> {
  while (!run.stop) {
    const got = await call(run, `/topics/${TOPIC}/groups/${GROUP}/messages?max=20&wait_ms=0&lease_ms=600000`);
    if (!got) return;
    const messages: Array<{ message_id: number; partition: number; lease_id: string }> = got.body?.messages ?? [];
    if (got.status !== 200) {
      run.problems.push(`group receive answered ${got.status} ${JSON.stringify(got.body)}`);
      return;
    }
    if (messages.length === 0) {
      await sleep(5);
      continue;
    }
    const acked = await call(run, `/topics/${TOPIC}/groups/${GROUP}/ack`, json({ lease_ids: messages.map((m) => m.lease_id) }));
    if (!acked) return;
    if (acked.status !== 200) run.problems.push(`group ack answered ${acked.status} ${JSON.stringify(acked.body)}`);
    else {
      for (const m of messages) run.ledger.groupAcked.add(`${m.partition}:${m.message_id}`);
      run.ledger.counts.groupAcks += messages.length;
    }
  }
}

async function topicCreator(run: Run): Promise<void> {
  for (let seq = 0; !run.stop && seq < 4; seq++) {
    const name = `pc-new-r${run.round}-${seq}`;
    const created = await call(run, '/topics', json({ name, partitions: 1 }));
    if (!created) return;
    if (created.status !== 201) {
      run.problems.push(`create ${name} answered ${created.status} ${JSON.stringify(created.body)}`);
      return;
    }
    run.ledger.topics.set(name, null);
    run.ledger.counts.topics++;
    const t = `first of ${name}`;
    const res = await call(run, `/topics/${name}/messages`, json({ message: t }));
    if (!res) return;
    if (res.status !== 200 || res.body?.message_id !== 0) run.problems.push(`produce to ${name} answered ${res.status} ${JSON.stringify(res.body)}`);
    else run.ledger.topics.set(name, t);
    if (seq % 2 === 1) {
      run.ledger.topics.delete(name); // from now on it may be gone
      const deleted = await call(run, `/topics/${name}`, { method: 'DELETE' });
      if (!deleted) return;
      if (deleted.status !== 200) run.problems.push(`delete ${name} answered ${deleted.status} ${JSON.stringify(deleted.body)}`);
      else {
        run.ledger.deletedTopics.add(name);
        run.ledger.counts.deletes++;
      }
    }
    await sleep(30);
  }
}

// ---- after the restart -----------------------------------------------------------------------------------------

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, body: await res.json() };
}

/**
 * Everything the restarted broker forgot of what it answered before the cut. Also brings the ledger up to the
 * recovered state (consumers resume from their recovered cursors, the group is drained and acked), so that the
 * next round checks only its own promises on top of these.
 */
export async function checkAfterRestart(broker: BrokerProcess, ledger: PowerCutLedger): Promise<{ problems: string[]; lostMessages: number }> {
  const problems: string[] = [];
  const { log, endOffset } = await readWholeLog(broker, TOPIC);
  let lostMessages = 0;
  for (const [offset, t] of ledger.produce.acked) if (log[offset]?.data !== t) lostMessages++;
  problems.push(...checkRecoveredLog(log, endOffset, ledger.produce));
  problems.push(...(await checkIdempotentRetries(broker, ledger)));
  problems.push(...(await checkSeedConsumers(broker, ledger, endOffset)));
  problems.push(...(await checkGroup(broker, ledger, log)));
  problems.push(...(await checkTopics(broker, ledger)));
  return { problems: problems.length > 30 ? [...problems.slice(0, 30), `... and ${problems.length - 30} more`] : problems, lostMessages };
}

async function checkIdempotentRetries(broker: BrokerProcess, ledger: PowerCutLedger): Promise<string[]> {
  const problems: string[] = [];
  const older = [...ledger.idempotent.keys()].filter((k) => !ledger.idempotentThisRound.includes(k));
  const sample = [...ledger.idempotentThisRound, ...older.sort(() => Math.random() - 0.5).slice(0, 20)];
  for (const key of sample) {
    const { offset, text } = ledger.idempotent.get(key)!;
    const res = await getJson(`${broker.url}/topics/${TOPIC}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ message: text }),
    });
    if (res.status !== 200 || res.body?.message_id !== offset) {
      problems.push(`Idempotency-Key ${key} was answered offset ${offset}; retried after the cut it answers ${res.status} ${JSON.stringify(res.body)}`);
      // A retry that wrote again stored the text a second time: the ledger now expects it there too.
      if (res.status === 200 && Number.isSafeInteger(res.body?.message_id)) ledger.produce.acked.set(res.body.message_id, text);
    }
  }
  return problems;
}

async function checkSeedConsumers(broker: BrokerProcess, ledger: PowerCutLedger, endOffset: number): Promise<string[]> {
  const problems: string[] = [];
  for (const c of ledger.consumers) {
    const res = await getJson(`${broker.url}/topics/${TOPIC}/consumers/${c.id}`);
    // A consumer that never acked may have no cursor yet (404) or one at the start.
    const cursor: number = res.status === 200 ? res.body.offset : 0;
    const allowed = [c.committed, ...(c.inFlight !== null ? [c.inFlight] : [])];
    if (!allowed.includes(cursor)) {
      problems.push(`${c.id}: cursor ${cursor} after the cut; the last answered ack/seek left it at ${c.committed}` +
        (c.inFlight !== null ? ` (${c.inFlight} was in flight)` : ''));
    }
    // Resume from what is there (also when it is wrong: the next round checks its own answers).
    c.committed = Math.min(cursor, endOffset);
    c.inFlight = null;
    if (cursor > endOffset) problems.push(`${c.id}: cursor ${cursor} is past the log end ${endOffset}`);
  }
  return problems;
}

async function checkGroup(broker: BrokerProcess, ledger: PowerCutLedger, log: StoredMessage[]): Promise<string[]> {
  const problems: string[] = [];
  const base = `${broker.url}/topics/${TOPIC}/groups/${GROUP}`;
  for (let i = 0; i < 1000; i++) {
    const got = await getJson(`${base}/messages?max=1000&wait_ms=0&lease_ms=600000`);
    if (got.status === 404) return problems; // the group was never created before the cut
    if (got.status !== 200) return [...problems, `group receive after the cut answered ${got.status} ${JSON.stringify(got.body)}`];
    const messages: Array<{ message_id: number; partition: number; lease_id: string; data: string }> = got.body.messages;
    if (messages.length === 0) return problems;
    for (const m of messages) {
      if (ledger.groupAcked.has(`${m.partition}:${m.message_id}`)) problems.push(`group ack of offset ${m.message_id} was answered, yet it is delivered again`);
      if (log[m.message_id]?.data !== m.data) problems.push(`the group was given ${JSON.stringify(m.data)} at ${m.message_id}; the log holds ${JSON.stringify(log[m.message_id]?.data)}`);
    }
    const acked = await getJson(`${base}/ack`, { ...json({ lease_ids: messages.map((m) => m.lease_id) }) });
    if (acked.status !== 200) return [...problems, `group ack after the cut answered ${acked.status} ${JSON.stringify(acked.body)}`];
    for (const m of messages) ledger.groupAcked.add(`${m.partition}:${m.message_id}`);
  }
  return problems;
}

async function checkTopics(broker: BrokerProcess, ledger: PowerCutLedger): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, t] of ledger.topics) {
    const res = await getJson(`${broker.url}/topics/${name}/partitions/0/messages?from_offset=0&max=10`);
    if (res.status !== 200) {
      problems.push(`topic ${name} was created (answered 201) but after the cut: ${res.status} ${JSON.stringify(res.body)}`);
      ledger.topics.delete(name);
      continue;
    }
    if (t !== null && res.body.messages?.[0]?.data !== t) {
      problems.push(`topic ${name}: offset 0 was answered for ${JSON.stringify(t)}, it holds ${JSON.stringify(res.body.messages?.[0]?.data)}`);
    }
  }
  for (const name of ledger.deletedTopics) {
    const res = await getJson(`${broker.url}/topics/${name}`);
    if (res.status !== 404) problems.push(`topic ${name} was deleted (answered 200) but is back after the cut: ${res.status}`);
  }
  return problems;
}

/** After a round that lost data (FSYNC=never): take what the broker holds now as the new truth. */
export async function resetLedgerToBroker(broker: BrokerProcess, ledger: PowerCutLedger): Promise<void> {
  const { log } = await readWholeLog(broker, TOPIC);
  ledger.produce.acked = new Map(log.map((m) => [m.message_id, m.data]));
  for (const m of log) ledger.produce.sent.add(m.data);
  ledger.idempotent.clear();
  ledger.groupAcked.clear();
  ledger.topics.clear();
  ledger.deletedTopics.clear();
}
