// Load for the crash tests (producers, consumers) with a ledger of what the broker answered, and the checks
// that a restarted broker still holds everything it acknowledged.
import { REQUEST_TIMEOUT_MS, sleep, type BrokerProcess } from './broker-process';

export interface StoredMessage {
  message_id: number;
  data: string;
}

/** What the clients were told before the kill: the promises the broker has to keep. */
export interface ProduceLedger {
  /** offset → text of every produce answered 200. */
  acked: Map<number, string>;
  /** Every text ever sent, answered or not: anything else in the log is garbage. */
  sent: Set<string>;
  /** Two answers that gave one offset to different texts, or malformed/non-200 answers while the broker lived. */
  problems: string[];
}

export interface ConsumerLedger {
  consumerId: string;
  /** Sends every ack twice at once, like a client retrying a slow ack. */
  duplicateAcks: boolean;
  lastSentAck: number;
  lastAnsweredAck: number;
  /** offset → data of every message this consumer was given: a consumer saw it, so it must survive. */
  seen: Map<number, string>;
  problems: string[];
}

export interface LoadOptions {
  topic: string;
  round: number;
  singleProducers: number;
  batchProducers: number;
  consumers?: ConsumerLedger[];
  /** Extra characters per message, to fill segments faster. */
  padding?: number;
  /** Load runs for a random time in [killAfterMs.min, killAfterMs.max] before the SIGKILL. */
  killAfterMs: { min: number; max: number };
  /** And, if set, until this holds (waiting at most 30 s more), so the kill hits the state the test is about. */
  readyToKill?: () => boolean;
}

export interface LoadResult {
  /** Requests (produce, poll or ack) without an answer at the moment of the kill. */
  inFlightAtKill: number;
  answeredProduces: number;
  killedAfterMs: number;
}

export function newProduceLedger(): ProduceLedger {
  return { acked: new Map(), sent: new Set(), problems: [] };
}

export function newConsumer(consumerId: string, duplicateAcks = false): ConsumerLedger {
  return { consumerId, duplicateAcks, lastSentAck: -1, lastAnsweredAck: -1, seen: new Map(), problems: [] };
}

interface Run {
  url: string;
  opts: LoadOptions;
  ledger: ProduceLedger;
  /** Set synchronously right before SIGKILL: a failure after it is the crash, before it a bug. */
  killRequested: boolean;
  inFlight: number;
  answered: number;
}

/** Runs producers (and consumers) against `broker`, SIGKILLs it mid-load and waits for every client to stop. */
export async function loadThenKill(broker: BrokerProcess, ledger: ProduceLedger, opts: LoadOptions): Promise<LoadResult> {
  const run: Run = { url: broker.url, opts, ledger, killRequested: false, inFlight: 0, answered: 0 };
  const clients: Promise<void>[] = [];
  for (let p = 0; p < opts.singleProducers; p++) clients.push(singleProducer(run, p));
  for (let p = 0; p < opts.batchProducers; p++) clients.push(batchProducer(run, p));
  for (const c of opts.consumers ?? []) clients.push(consumer(run, c));
  const killAfter = opts.killAfterMs.min + Math.floor(Math.random() * (opts.killAfterMs.max - opts.killAfterMs.min));
  await sleep(killAfter);
  const patience = Date.now() + 30_000;
  const troubled = () => run.ledger.problems.length > 0 || (opts.consumers ?? []).some((c) => c.problems.length > 0);
  while (opts.readyToKill && !opts.readyToKill() && !troubled() && Date.now() < patience) await sleep(20);
  run.killRequested = true;
  const inFlightAtKill = run.inFlight;
  await broker.kill9();
  await Promise.all(clients);
  return { inFlightAtKill, answeredProduces: run.answered, killedAfterMs: killAfter };
}

function messageText(run: Run, client: string, seq: number): string {
  // Unique per round/client/seq; multi-byte characters check that bytes, not UTF-16 units, are stored.
  return `r${run.opts.round}/${client}/${seq} ü€🚀 ${'x'.repeat(run.opts.padding ?? 0)}`;
}

/** One HTTP call; null when it got no complete answer (the broker died under it). */
async function call(run: Run, path: string, init: RequestInit = {}): Promise<{ status: number; body: any } | null> {
  run.inFlight++;
  try {
    const res = await fetch(`${run.url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: res.status, body: await res.json() };
  } catch (err) {
    if (!run.killRequested) run.ledger.problems.push(`${init.method ?? 'GET'} ${path} failed while the broker was alive: ${String(err)}`);
    return null;
  } finally {
    run.inFlight--;
  }
}

function recordAck(run: Run, offset: number, text: string): void {
  const before = run.ledger.acked.get(offset);
  if (before !== undefined && before !== text) {
    run.ledger.problems.push(`offset ${offset} was answered for two messages: ${JSON.stringify(before)} and ${JSON.stringify(text)}`);
  }
  run.ledger.acked.set(offset, text);
  run.answered++;
}

async function singleProducer(run: Run, p: number): Promise<void> {
  const topic = encodeURIComponent(run.opts.topic);
  for (let seq = 0; !run.killRequested; seq++) {
    const text = messageText(run, `p${p}`, seq);
    run.ledger.sent.add(text);
    // Both seed forms: the text as a query parameter, or as a JSON body.
    const res =
      p % 2 === 0
        ? await call(run, `/topics/${topic}/messages?message=${encodeURIComponent(text)}`, { method: 'POST' })
        : await call(run, `/topics/${topic}/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ message: text }),
          });
    if (!res) return;
    if (res.status === 200 && Number.isSafeInteger(res.body?.message_id)) recordAck(run, res.body.message_id, text);
    else run.ledger.problems.push(`produce answered ${res.status} ${JSON.stringify(res.body)}`);
  }
}

async function batchProducer(run: Run, p: number): Promise<void> {
  const topic = encodeURIComponent(run.opts.topic);
  for (let seq = 0; !run.killRequested; seq++) {
    const texts = Array.from({ length: 1 + Math.floor(Math.random() * 50) }, (_, i) => messageText(run, `b${p}`, seq * 100 + i));
    for (const t of texts) run.ledger.sent.add(t);
    const res = await call(run, `/topics/${topic}/messages/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: texts.map((message) => ({ message })) }),
    });
    if (!res) return;
    const ids: unknown = res.body?.message_ids;
    const base: unknown = res.body?.base_offset;
    const dense =
      Array.isArray(ids) && ids.length === texts.length && typeof base === 'number' && ids.every((id, i) => id === base + i);
    if (res.status !== 200 || !dense) {
      run.ledger.problems.push(`batch of ${texts.length} answered ${res.status} ${JSON.stringify(res.body)}`);
      continue;
    }
    texts.forEach((t, i) => recordAck(run, (base as number) + i, t));
  }
}

async function consumer(run: Run, c: ConsumerLedger): Promise<void> {
  const base = `/topics/${encodeURIComponent(run.opts.topic)}/messages`;
  const q = `consumer_id=${encodeURIComponent(c.consumerId)}`;
  while (!run.killRequested) {
    const polled = await call(run, `${base}?${q}`);
    if (!polled) return;
    if (polled.status === 404) {
      await sleep(2);
      continue;
    }
    const id = polled.body?.message_id;
    if (polled.status !== 200 || typeof id !== 'number' || typeof polled.body?.data !== 'string') {
      c.problems.push(`round ${run.opts.round}: poll answered ${polled.status} ${JSON.stringify(polled.body)}`);
      return;
    }
    // One consumer, one ack at a time: the cursor is the last answered ack + 1, and so is the next message.
    if (id !== c.lastAnsweredAck + 1) c.problems.push(`round ${run.opts.round}: poll gave ${id} after ack ${c.lastAnsweredAck} was answered`);
    c.seen.set(id, polled.body.data);
    c.lastSentAck = id;
    const acks = await Promise.all(
      Array.from({ length: c.duplicateAcks ? 2 : 1 }, () => call(run, `${base}/${id}/ack?${q}`, { method: 'POST' })),
    );
    for (const a of acks) {
      if (a && (a.status !== 200 || a.body?.status !== 'ok')) {
        c.problems.push(`round ${run.opts.round}: ack ${id} answered ${a.status} ${JSON.stringify(a.body)}`);
      }
    }
    if (acks.some((a) => a?.status === 200)) c.lastAnsweredAck = id;
    if (acks.some((a) => a === null)) return;
  }
}

// ---- reading back and checking -----------------------------------------------------------------------

async function getJson(url: string, method = 'GET'): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, body: await res.json() };
}

/** The whole partition 0 through the fetch route, plus the end offset it reports. */
export async function readWholeLog(broker: BrokerProcess, topic: string): Promise<{ log: StoredMessage[]; endOffset: number }> {
  const log: StoredMessage[] = [];
  let from = 0;
  let endOffset = -1;
  for (;;) {
    const url = `${broker.url}/topics/${encodeURIComponent(topic)}/partitions/0/messages?from_offset=${from}&max=10000`;
    const { status, body } = await getJson(url);
    if (status !== 200) throw new Error(`fetch from ${from} answered ${status} ${JSON.stringify(body)}`);
    endOffset = body.end_offset;
    for (const m of body.messages as StoredMessage[]) log.push({ message_id: m.message_id, data: m.data });
    if (body.next_offset >= endOffset || body.messages.length === 0) break;
    if (body.next_offset <= from) throw new Error(`fetch from ${from} did not advance (next_offset ${body.next_offset})`);
    from = body.next_offset;
  }
  return { log, endOffset };
}

/**
 * Everything wrong with a recovered log, given what was acknowledged before the crash: offsets not dense from 0
 * to the end, an acknowledged message missing or changed, a message stored twice, or bytes nobody sent.
 * In-flight produces (sent, never answered) may be present or not.
 */
export function checkRecoveredLog(log: StoredMessage[], endOffset: number, ledger: ProduceLedger): string[] {
  const problems: string[] = [];
  if (log.length !== endOffset) problems.push(`the log holds ${log.length} messages but end_offset is ${endOffset}`);
  const firstAt = new Map<string, number>();
  log.forEach((m, i) => {
    if (m.message_id !== i) problems.push(`position ${i} holds message_id ${m.message_id}: offsets are not dense from 0`);
    const earlier = firstAt.get(m.data);
    if (earlier !== undefined) problems.push(`${JSON.stringify(m.data)} is stored twice, at ${earlier} and ${m.message_id}`);
    else firstAt.set(m.data, m.message_id);
    if (!ledger.sent.has(m.data)) problems.push(`offset ${m.message_id} holds ${JSON.stringify(m.data)}, which nobody sent`);
  });
  for (const [offset, text] of ledger.acked) {
    const m = log[offset];
    if (!m || m.message_id !== offset) {
      problems.push(`acknowledged offset ${offset} (${JSON.stringify(text)}) is missing; end_offset ${endOffset}`);
    }
    else if (m.data !== text) problems.push(`acknowledged offset ${offset} holds ${JSON.stringify(m.data)}, not ${JSON.stringify(text)}`);
  }
  return summarize(problems);
}

/** The consumer's recovered cursor against what it was told, and the messages it saw against the log. */
export function checkRecoveredConsumer(c: ConsumerLedger, cursor: number, log: StoredMessage[]): string[] {
  const problems: string[] = [];
  if (cursor < c.lastAnsweredAck + 1 || cursor > c.lastSentAck + 1) {
    problems.push(
      `${c.consumerId}: cursor ${cursor} after restart; acks answered up to ${c.lastAnsweredAck}, sent up to ${c.lastSentAck}, ` +
        `so it must be in [${c.lastAnsweredAck + 1}, ${c.lastSentAck + 1}]`,
    );
  }
  for (const [offset, data] of c.seen) {
    if (log[offset]?.data !== data) {
      problems.push(`${c.consumerId} was given ${JSON.stringify(data)} at ${offset}; the log now holds ${JSON.stringify(log[offset]?.data)}`);
    }
  }
  return summarize(problems);
}

function summarize(problems: string[]): string[] {
  return problems.length > 20 ? [...problems.slice(0, 20), `... and ${problems.length - 20} more`] : problems;
}

// ---- after a restart ---------------------------------------------------------------------------------

/**
 * Reads the recovered log, expects it to hold every acknowledged message where it was acknowledged, then
 * produces one more message and expects it right at the end (the writer resumes densely). Returns the log.
 */
export async function expectLogRecovered(broker: BrokerProcess, topic: string, ledger: ProduceLedger, round: number): Promise<StoredMessage[]> {
  const { log, endOffset } = await readWholeLog(broker, topic);
  expect(checkRecoveredLog(log, endOffset, ledger)).toEqual([]);
  const text = `after restart ${round}`;
  ledger.sent.add(text);
  const res = await fetch(`${broker.url}/topics/${encodeURIComponent(topic)}/messages?message=${encodeURIComponent(text)}`, {
    method: 'POST',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { message_id: endOffset } });
  ledger.acked.set(endOffset, text);
  log.push({ message_id: endOffset, data: text });
  return log;
}

/**
 * Expects the consumer's recovered cursor to match what it was told before the kill, then polling to resume
 * exactly there: the next messages in order, and "No new messages" once it acks the last one.
 */
export async function expectConsumerResumes(broker: BrokerProcess, topic: string, c: ConsumerLedger, log: StoredMessage[]): Promise<void> {
  const base = `${broker.url}/topics/${encodeURIComponent(topic)}`;
  const q = `consumer_id=${encodeURIComponent(c.consumerId)}`;
  const cursor = await getJson(`${base}/consumers/${encodeURIComponent(c.consumerId)}`);
  expect(cursor.status).toBe(200);
  expect(checkRecoveredConsumer(c, cursor.body.offset, log)).toEqual([]);
  let next: number = cursor.body.offset;
  for (let i = 0; i < 10 && next < log.length; i++, next++) {
    expect(await getJson(`${base}/messages?${q}`)).toEqual({ status: 200, body: { message_id: next, data: log[next].data } });
    expect(await getJson(`${base}/messages/${next}/ack?${q}`, 'POST')).toEqual({ status: 200, body: { status: 'ok' } });
  }
  expect(await getJson(`${base}/messages/${log.length - 1}/ack?${q}`, 'POST')).toEqual({ status: 200, body: { status: 'ok' } });
  expect(await getJson(`${base}/messages?${q}`)).toEqual({ status: 404, body: { detail: 'No new messages' } });
  expect((await getJson(`${base}/consumers/${encodeURIComponent(c.consumerId)}`)).body.offset).toBe(log.length);
  // The consumer is caught up; a further round of load continues from here.
  c.lastSentAck = c.lastAnsweredAck = log.length - 1;
}

/** GET /topics/{topic}: the topic view (message and segment counts). */
export async function describeTopic(broker: BrokerProcess, topic: string): Promise<{ message_count: number; segment_count: number }> {
  const { status, body } = await getJson(`${broker.url}/topics/${encodeURIComponent(topic)}`);
  expect(status).toBe(200);
  return body;
}
