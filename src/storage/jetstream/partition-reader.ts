// The read side of the JetStream driver: records by offset (message gets by sequence from the stream's
// leader, so a read sees everything acknowledged before it) and the offset for a timestamp.
import type { JetStreamManager, StoredMsg } from 'nats';
import { StorageError, topicNotFound } from '../errors';
import type { StoredRecord } from '../record-batch';
import type { PartitionState } from './partition-state';
import { decodeRecord } from './record-codec';
import { apiErrorCode, describeNatsError, isClosedError, JS_ERR, withRetry } from './retry';
import type { JsTopic } from './topic-catalog';

/** Message gets in flight per read: pipelined on the one connection, answered in order. */
const READ_WINDOW = 32;

export class PartitionReader {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly retryMs: number,
    private readonly closed: () => boolean,
  ) {}

  /** Bounds (first and last sequence) from the stream's leader, asked after this call began. */
  refresh(topic: JsTopic, part: PartitionState): Promise<void> {
    return this.withTopic(topic, 'Reading stream state', () => part.refreshFromLeader());
  }

  /**
   * Up to `max` records (and about `maxBytes` of values) from offset `from()`, evaluated after the bounds are
   * known. A read is bounded by the stream's real last sequence, from its leader, never by what this replica
   * happens to have cached: unless the read is sure to fill up inside the known bounds, the leader is asked at
   * once (in parallel with the first message gets) and its answer awaited before the read stops at an end. So
   * a record acknowledged through any broker replica before the read began is in it (or beyond a full page).
   */
  async readFrom(topic: JsTopic, part: PartitionState, from: () => number, max: number, maxBytes: number): Promise<StoredRecord[]> {
    let leader: Promise<void> | null = null;
    /** Set once the bounds include the leader's answer to a request sent after this read began. */
    let bounded = false;
    const askLeader = (): Promise<void> => {
      if (!leader) {
        leader = this.refresh(topic, part);
        leader.catch(() => undefined); // awaited below whenever its answer matters
      }
      return leader;
    };
    const untilLeaderAnswers = async () => {
      await askLeader();
      bounded = true;
    };
    if (!(from() >= part.start && from() + max <= part.end)) void askLeader();
    if (!(from() >= part.start && from() < part.end)) await untilLeaderAnswers();
    const out: StoredRecord[] = [];
    let next = Math.max(from(), part.start);
    let bytes = 0;
    while (out.length < max && bytes < maxBytes) {
      if (next >= part.end) {
        // At the end as known here: only the leader's bound says whether that is the end (read-after-write across replicas).
        if (bounded) break;
        await untilLeaderAnswers();
        continue;
      }
      const count = Math.min(max - out.length, part.end - next, READ_WINDOW);
      const first = next;
      const msgs = await Promise.all(Array.from({ length: count }, (_, k) => this.getMessage(topic, part, first + k + 1)));
      let gap = false;
      for (const msg of msgs) {
        if (!msg) {
          gap = true;
          break;
        }
        const record = decodeRecord(msg);
        out.push(record);
        bytes += record.value.length;
        next = record.offset + 1;
        if (out.length >= max || bytes >= maxBytes) break;
      }
      if (gap) {
        // Removed by retention while we read: go on from the new start. (A hole inside the retained range
        // cannot happen, message deletes are denied; skipping one keeps a read from ever looping.)
        await this.refresh(topic, part);
        next = next >= part.start ? next + 1 : part.start;
      }
    }
    // A bound asked for is awaited, so what the caller reports next to the records (end_offset) is the leader's.
    if (leader) await leader;
    return out;
  }

  /**
   * First offset whose record timestamp is at or after `timestamp`: a binary search over the records'
   * timestamps (O(log n) message gets). Exact when timestamps rise with offsets (the broker's clock, the
   * default); with producer-supplied timestamps out of order it lands, like Kafka's time index, at an
   * offset from which timestamps reach `timestamp`.
   */
  async offsetForTimestamp(topic: JsTopic, part: PartitionState, timestamp: number): Promise<number> {
    await this.refresh(topic, part);
    let lo = part.start;
    let hi = part.end;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const msg = await this.getMessage(topic, part, mid + 1);
      if (!msg) {
        lo = mid + 1; // removed by retention meanwhile: it was older than anything left
        continue;
      }
      if (decodeRecord(msg).timestamp >= timestamp) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Offsets of the messages carrying one of `ids` (Nats-Msg-Id), looking from offset `from` on and stopping at
   * the first message the server stored after `untilMs`: a bounded scan, for the retry of an attempt that
   * died before it could answer (idempotency.ts).
   */
  async findPublished(topic: JsTopic, part: PartitionState, from: number, untilMs: number, ids: Set<string>): Promise<Map<string, number>> {
    await this.refresh(topic, part);
    const found = new Map<string, number>();
    for (let next = Math.max(from, part.start); next < part.end && found.size < ids.size; ) {
      const count = Math.min(part.end - next, READ_WINDOW);
      const first = next;
      const msgs = await Promise.all(Array.from({ length: count }, (_, k) => this.getMessage(topic, part, first + k + 1)));
      for (const msg of msgs) {
        next++;
        if (!msg) continue; // removed by retention meanwhile
        if (msg.time.getTime() > untilMs) return found;
        const id = msg.header?.get('Nats-Msg-Id');
        if (id && ids.has(id)) found.set(id, msg.seq - 1);
      }
    }
    return found;
  }

  private async getMessage(topic: JsTopic, part: PartitionState, seq: number): Promise<StoredMsg | null> {
    try {
      return await this.withTopic(topic, 'Reading a message', () => this.jsm.streams.getMessage(part.stream, { seq }));
    } catch (err) {
      if (apiErrorCode(err) === JS_ERR.noMessageFound || (err as { code?: string }).code === '404') return null;
      throw err;
    }
  }

  /** Retries through elections; a stream that disappeared means the topic was deleted. */
  private async withTopic<T>(topic: JsTopic, what: string, op: () => Promise<T>): Promise<T> {
    const closedError = () => new StorageError('CLOSED', 'The broker is shutting down');
    try {
      return await withRetry(what, this.retryMs, op, () => (topic.deleted ? topicNotFound(topic.name) : this.closed() ? closedError() : null));
    } catch (err) {
      if (apiErrorCode(err) === JS_ERR.streamNotFound || topic.deleted) throw topicNotFound(topic.name);
      if (isClosedError(err)) throw closedError();
      if (err instanceof StorageError) throw err;
      throw new StorageError('STORAGE_UNAVAILABLE', `${what}: ${describeNatsError(err)}`, 1);
    }
  }
}
