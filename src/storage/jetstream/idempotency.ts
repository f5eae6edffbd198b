// Idempotent produce (Idempotency-Key) over JetStream: two layers, so a retry gets the original answer.
//
// 1. The result (the original offsets) and the request's fingerprint are kept in a KV bucket (MK_IDEMPOTENCY)
//    whose max age is IDEMPOTENCY_WINDOW_MS; a retry that finds them answers them, from any broker replica,
//    and another request under the same key is refused.
// 2. While the produce runs, its records carry Nats-Msg-Ids derived from the key (and it routes unkeyed
//    records to a partition derived from the key), so a concurrent duplicate is deduplicated by JetStream
//    itself within the stream's duplicate_window, and its PubAcks carry the original sequences.
// 3. Before anything is published, an intent is stored under the key (fingerprint, start time, each
//    partition's last sequence then). A retry that finds an intent without a result (the broker that ran it
//    died between publishing and storing the answer) looks for the first attempt's message ids in the
//    streams from those sequences on, up to where that attempt could have published, and publishes only
//    what is missing: the first offsets, nothing stored twice, inside or past NATS_DUPLICATE_WINDOW_MS.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { KV } from 'nats';
import type { ProduceResult } from '../broker';
import { StorageError } from '../errors';
import type { TopicNames } from './names';
import { apiErrorCode, JS_ERR, withRetry } from './retry';

export interface IdempotentContext {
  /** Stable per (topic, key): the base of the records' message ids and of unkeyed routing. */
  hash: string;
  /** Records JetStream reported as already stored during this run. */
  duplicates: number;
  /** Set when an earlier attempt under this key may have published: where to look for its messages. */
  earlier?: Intent;
}

/** Stored before an attempt publishes: when it started and each partition's last sequence at that moment. */
export interface Intent {
  at: number;
  from: number[];
}

export class IdempotencyKeys {
  private readonly context = new AsyncLocalStorage<IdempotentContext>();
  private readonly inFlight = new Map<string, Promise<StoredResult>>();

  constructor(
    private readonly kv: KV,
    private readonly retryMs: number,
  ) {}

  /** The idempotent run this produce belongs to, if any. */
  current(): IdempotentContext | undefined {
    return this.context.getStore();
  }

  /** `ends()`: each partition's last known sequence, a lower bound of where this attempt's messages will land. */
  async run(names: TopicNames, key: string, fingerprint: Buffer, ends: () => number[], produce: () => Promise<ProduceResult>): Promise<ProduceResult> {
    const kvKey = names.idempotencyKey(key);
    const fp = fingerprint.toString('hex');
    let known = await this.stored(kvKey);
    if (known?.offsets) return { ...sameRequest(known, fp, key, names.topic), replayed: true };
    const pending = this.inFlight.get(kvKey);
    if (pending) return { ...sameRequest(await pending, fp, key, names.topic), replayed: true };
    const ctx: IdempotentContext = { hash: createHash('sha256').update(kvKey).digest('hex').slice(0, 32), duplicates: 0 };
    const work = (async (): Promise<StoredResult> => {
      if (!known) {
        const intent: StoredIntent = { fp, intent: { at: Date.now(), from: ends() } };
        try {
          await withRetry('Storing an idempotent intent', this.retryMs, () => this.kv.create(kvKey, JSON.stringify(intent)));
        } catch (err) {
          if (apiErrorCode(err) !== JS_ERR.wrongLastSequence) throw err;
          known = await this.stored(kvKey); // another replica got there first
          if (known?.offsets) {
            ctx.duplicates++;
            return known as StoredResult;
          }
        }
      }
      if (known) {
        sameRequest(known, fp, key, names.topic);
        ctx.earlier = known.intent;
      }
      const { placement, offsets, rejected } = await this.context.run(ctx, produce);
      const answer: StoredResult = { fp, placement, offsets, rejected, valueBytes: 0 };
      // Replicas that raced here ran with the same message ids: they store the same answer.
      await withRetry('Storing an idempotent answer', this.retryMs, () => this.kv.put(kvKey, JSON.stringify(answer)));
      return answer;
    })();
    this.inFlight.set(kvKey, work);
    try {
      const answer = await work;
      return { ...sameRequest(answer, fp, key, names.topic), replayed: ctx.duplicates > 0 };
    } finally {
      this.inFlight.delete(kvKey);
    }
  }

  private async stored(kvKey: string): Promise<Partial<StoredResult> & StoredIntent | null> {
    const entry = await withRetry('Reading an idempotent answer', this.retryMs, () => this.kv.get(kvKey));
    return entry && entry.operation === 'PUT' ? (JSON.parse(entry.string()) as Partial<StoredResult> & StoredIntent) : null;
  }
}

/** What the KV bucket keeps per key: first the intent, then the first request's result; the fingerprint always. */
interface StoredIntent {
  fp: string;
  intent?: Intent;
}

interface StoredResult extends ProduceResult, StoredIntent {}

function sameRequest(stored: Partial<StoredResult> & StoredIntent, fp: string, key: string, topic: string): ProduceResult {
  if (stored.fp !== fp) {
    throw new StorageError(
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key '${key}' was already used on topic '${topic}' for a different request (within IDEMPOTENCY_WINDOW_MS); send a new key for a new request`,
    );
  }
  const { placement = [], offsets = [], rejected = [], valueBytes = 0 } = stored;
  return { placement, offsets, rejected, valueBytes };
}
