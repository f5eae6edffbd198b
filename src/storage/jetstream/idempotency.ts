// Idempotent produce (Idempotency-Key) over JetStream: two layers, so a retry gets the original answer.
//
// 1. The result (the original offsets) and the request's fingerprint are kept in a KV bucket (MK_IDEMPOTENCY)
//    whose max age is IDEMPOTENCY_WINDOW_MS; a retry that finds them answers them, from any broker replica,
//    and another request under the same key is refused.
// 2. While the produce runs, its records carry Nats-Msg-Ids derived from the key (and it routes unkeyed
//    records to a partition derived from the key), so a retry that comes before the answer is stored (a
//    concurrent duplicate, or a broker that crashed in between) is deduplicated by JetStream itself within
//    the stream's duplicate_window, and its PubAcks carry the original sequences: the same answer again.
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

  async run(names: TopicNames, key: string, fingerprint: Buffer, produce: () => Promise<ProduceResult>): Promise<ProduceResult> {
    const kvKey = names.idempotencyKey(key);
    const fp = fingerprint.toString('hex');
    const known = await this.stored(kvKey);
    if (known) return { ...sameRequest(known, fp, key, names.topic), replayed: true };
    const pending = this.inFlight.get(kvKey);
    if (pending) return { ...sameRequest(await pending, fp, key, names.topic), replayed: true };
    const ctx: IdempotentContext = { hash: createHash('sha256').update(kvKey).digest('hex').slice(0, 32), duplicates: 0 };
    const work = (async (): Promise<StoredResult> => {
      const { placement, offsets, rejected } = await this.context.run(ctx, produce);
      const answer: StoredResult = { fp, placement, offsets, rejected, valueBytes: 0 };
      try {
        await withRetry('Storing an idempotent answer', this.retryMs, () => this.kv.create(kvKey, JSON.stringify(answer)));
        return answer;
      } catch (err) {
        // Another replica stored the answer first: both ran with the same message ids, so it is this one.
        if (apiErrorCode(err) !== JS_ERR.wrongLastSequence) throw err;
        ctx.duplicates++;
        return (await this.stored(kvKey)) ?? answer;
      }
    })();
    this.inFlight.set(kvKey, work);
    try {
      const answer = await work;
      return { ...sameRequest(answer, fp, key, names.topic), replayed: ctx.duplicates > 0 };
    } finally {
      this.inFlight.delete(kvKey);
    }
  }

  private async stored(kvKey: string): Promise<StoredResult | null> {
    const entry = await withRetry('Reading an idempotent answer', this.retryMs, () => this.kv.get(kvKey));
    return entry && entry.operation === 'PUT' ? (JSON.parse(entry.string()) as StoredResult) : null;
  }
}

/** What the KV bucket keeps per key: the first request's result and fingerprint. */
interface StoredResult extends ProduceResult {
  fp: string;
}

function sameRequest(stored: StoredResult, fp: string, key: string, topic: string): ProduceResult {
  if (stored.fp !== fp) {
    throw new StorageError(
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key '${key}' was already used on topic '${topic}' for a different request (within IDEMPOTENCY_WINDOW_MS); send a new key for a new request`,
    );
  }
  const { placement, offsets, rejected, valueBytes } = stored;
  return { placement, offsets, rejected, valueBytes };
}
