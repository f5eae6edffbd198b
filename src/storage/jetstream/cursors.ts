// Committed cursors in a KV bucket (MK_CURSORS), one key per topic incarnation, partition and consumer,
// with a watch-fed local copy for the synchronous views (cursor, consumers, lag).
//
// An ack never moves a cursor backwards: it reads the key and writes with the read revision as the expected
// last sequence (compare-and-set on the bucket's Raft leader), trying again on a conflict; a concurrent ack
// from another broker replica either wins with a higher offset (then this one is a no-op) or loses the race
// and is retried. A seek writes unconditionally: moving back is its whole point.
import type { KV, KvEntry } from 'nats';
import { parseCursorKey, type TopicNames } from './names';
import { apiErrorCode, JS_ERR, withRetry } from './retry';

interface CachedCursor {
  offset: number;
  revision: number;
}

export class JetStreamCursors {
  /** keyPrefix (topic incarnation) → `${partition}/${consumerId}` → cursor. */
  private readonly byTopic = new Map<string, Map<string, CachedCursor>>();

  constructor(
    private readonly kv: KV,
    private readonly retryMs: number,
  ) {}

  /** Applies a put or delete seen by the watch; older revisions than the cached one are ignored. */
  apply(entry: KvEntry): void {
    const parsed = parseCursorKey(entry.key);
    if (!parsed) return;
    const slot = `${parsed.partition}/${parsed.consumerId}`;
    const topic = this.byTopic.get(parsed.keyPrefix);
    const cached = topic?.get(slot);
    if (cached && cached.revision >= entry.revision) return;
    if (entry.operation === 'PUT') {
      const offset = Number(entry.string());
      if (!Number.isSafeInteger(offset)) return;
      this.remember(parsed.keyPrefix, slot, { offset, revision: entry.revision });
    } else if (topic) {
      topic.delete(slot);
      if (topic.size === 0) this.byTopic.delete(parsed.keyPrefix);
    }
  }

  private remember(keyPrefix: string, slot: string, cursor: CachedCursor): void {
    let topic = this.byTopic.get(keyPrefix);
    if (!topic) this.byTopic.set(keyPrefix, (topic = new Map()));
    const cached = topic.get(slot);
    if (!cached || cached.revision < cursor.revision) topic.set(slot, cursor);
  }

  /** The locally known committed offset (every replica's writes arrive through the watch). */
  get(names: TopicNames, consumerId: string, partition: number): number | undefined {
    return this.byTopic.get(names.keyPrefix)?.get(`${partition}/${consumerId}`)?.offset;
  }

  /** The committed offset as the bucket's leader has it now (read-after-write across broker replicas). */
  async read(names: TopicNames, consumerId: string, partition: number): Promise<number | undefined> {
    const entry = await withRetry('Reading a cursor', this.retryMs, () => this.kv.get(names.cursorKey(partition, consumerId)));
    if (!entry) return this.get(names, consumerId, partition);
    this.apply(entry);
    return entry.operation === 'PUT' ? this.get(names, consumerId, partition) : undefined;
  }

  /** Moves the cursor to `next` unless it is already there or beyond (compare-and-set). */
  async commitForward(names: TopicNames, consumerId: string, partition: number, next: number): Promise<void> {
    const key = names.cursorKey(partition, consumerId);
    const slot = `${partition}/${consumerId}`;
    for (;;) {
      const entry = await withRetry('Reading a cursor', this.retryMs, () => this.kv.get(key));
      if (entry) this.apply(entry);
      const live = entry?.operation === 'PUT';
      if (live && Number(entry.string()) >= next) return;
      try {
        // A retried write whose first try did land fails the compare-and-set: the loop then reads it back.
        const revision = await withRetry('Committing a cursor', this.retryMs, () =>
          entry ? this.kv.update(key, String(next), entry.revision) : this.kv.create(key, String(next)),
        );
        this.remember(names.keyPrefix, slot, { offset: next, revision });
        return;
      } catch (err) {
        if (apiErrorCode(err) !== JS_ERR.wrongLastSequence) throw err;
      }
    }
  }

  /** Puts the cursor at `offset`, forwards or backwards. */
  async set(names: TopicNames, consumerId: string, partition: number, offset: number): Promise<void> {
    const revision = await withRetry('Moving a cursor', this.retryMs, () => this.kv.put(names.cursorKey(partition, consumerId), String(offset)));
    this.remember(names.keyPrefix, `${partition}/${consumerId}`, { offset, revision });
  }

  /** Every consumer with a committed cursor on this topic incarnation. */
  all(names: TopicNames): Array<{ consumerId: string; partition: number }> {
    const out: Array<{ consumerId: string; partition: number }> = [];
    for (const slot of this.byTopic.get(names.keyPrefix)?.keys() ?? []) {
      const cut = slot.indexOf('/');
      out.push({ partition: Number(slot.slice(0, cut)), consumerId: slot.slice(cut + 1) });
    }
    return out.sort((a, b) => a.consumerId.localeCompare(b.consumerId) || a.partition - b.partition);
  }

  /** Purges a deleted topic's cursors (best effort: keys of a dead incarnation are never read again). */
  async dropTopic(names: TopicNames): Promise<void> {
    const slots = [...(this.byTopic.get(names.keyPrefix)?.keys() ?? [])];
    this.byTopic.delete(names.keyPrefix);
    await Promise.all(
      slots.map((slot) => {
        const cut = slot.indexOf('/');
        return this.kv.purge(names.cursorKey(Number(slot.slice(0, cut)), slot.slice(cut + 1))).catch(() => undefined);
      }),
    );
  }
}
