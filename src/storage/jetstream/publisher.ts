// Publishes records to a partition's stream and returns their sequences, through leader elections.
//
// Every record carries a Nats-Msg-Id, unique per record (or derived from the Idempotency-Key), so a retry
// after a timeout or a 503 cannot store it twice: within the stream's duplicate_window JetStream answers a
// repeated id with the sequence of the first copy (PubAck.duplicate). Retries therefore stop well inside
// that window (NATS_FAILOVER_TIMEOUT_MS < NATS_DUPLICATE_WINDOW_MS is enforced by the config).
//
// One call's records are published back to back on one connection, so they get consecutive sequences
// unless another connection publishes to the same partition at the same moment (a second broker replica)
// or a leader election cuts the call in two; the answer always carries each record's own offset.
import { randomBytes } from 'node:crypto';
import type { JetStreamClient, PubAck } from 'nats';
import { StorageError } from '../errors';
import type { EncodedRecord } from './record-codec';
import { apiErrorCode, backoffMs, describeNatsError, isClosedError, isTransient, JS_ERR, sleep } from './retry';

export interface PublishTarget {
  stream: string;
  subject: string;
}

export interface PublishOutcome {
  /** Stream sequence per record, in call order. */
  seqs: number[];
  /** Records JetStream had already stored under the same id (a replayed idempotent produce). */
  duplicates: number;
}

export class Publisher {
  private readonly instance = randomBytes(6).toString('hex');
  private counter = 0;
  private inFlightBytes = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly limits: { failoverTimeoutMs: number; maxInFlightBytes: number; requestTimeoutMs: number },
  ) {}

  /** Fresh ids for `n` records: this process's random instance id and a counter. */
  newIds(n: number): string[] {
    const ids = new Array<string>(n);
    for (let i = 0; i < n; i++) ids[i] = `${this.instance}.${this.counter++}`;
    return ids;
  }

  /** Stores `records` (retrying what failed with the same ids) and resolves with their sequences. */
  async publish(target: PublishTarget, records: EncodedRecord[], ids: string[], stop: () => Error | null): Promise<PublishOutcome> {
    let bytes = 0;
    for (const r of records) bytes += r.wireBytes;
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.limits.maxInFlightBytes) {
      throw new StorageError('BACK_PRESSURE', 'Too many bytes waiting for JetStream to store them; retry shortly', 1);
    }
    this.inFlightBytes += bytes;
    try {
      return await this.publishAll(target, records, ids, stop);
    } finally {
      this.inFlightBytes -= bytes;
    }
  }

  private async publishAll(target: PublishTarget, records: EncodedRecord[], ids: string[], stop: () => Error | null): Promise<PublishOutcome> {
    const seqs = new Array<number>(records.length).fill(-1);
    let duplicates = 0;
    let pending = records.map((_, i) => i);
    const deadline = Date.now() + this.limits.failoverTimeoutMs;
    for (let attempt = 0; pending.length > 0; attempt++) {
      // No try may outlive the deadline by a whole request timeout: the client's own patience is finite.
      const timeout = Math.max(250, Math.min(this.limits.requestTimeoutMs, deadline - Date.now()));
      const sent = pending.map((i) => this.js.publish(target.subject, records[i].payload, { msgID: ids[i], headers: records[i].headers, timeout }));
      const settled = await Promise.allSettled(sent);
      const failed: number[] = [];
      let lastError: unknown;
      settled.forEach((s, k) => {
        const i = pending[k];
        if (s.status === 'fulfilled') {
          seqs[i] = checkedSeq(s.value, target);
          // Only a first try can meet an earlier request's copy; on a retry it is our own timed-out first try.
          if (s.value.duplicate && attempt === 0) duplicates++;
        } else {
          failed.push(i);
          lastError = s.reason;
        }
      });
      if (failed.length === 0) break;
      if (!isTransient(lastError)) throw permanentError(lastError);
      const stopped = stop();
      if (stopped) throw stopped;
      if (Date.now() + backoffMs(attempt) > deadline) {
        throw new StorageError(
          'STORAGE_UNAVAILABLE',
          `JetStream did not store ${failed.length} of ${records.length} message(s) within ${this.limits.failoverTimeoutMs} ms (${describeNatsError(lastError)}); nothing answered 200 is lost, retry the rest`,
          2,
        );
      }
      await sleep(backoffMs(attempt));
      pending = failed;
    }
    return { seqs, duplicates };
  }
}

function checkedSeq(ack: PubAck, target: PublishTarget): number {
  // Invariant: the subject belongs to exactly one stream, ours; anything else is a misconfigured server.
  if (ack.stream !== target.stream) {
    throw new StorageError('STORAGE_UNAVAILABLE', `Subject ${target.subject} was stored by stream ${ack.stream}, expected ${target.stream}`);
  }
  return ack.seq;
}

function permanentError(err: unknown): Error {
  if (err instanceof StorageError) return err;
  if (isClosedError(err)) return new StorageError('CLOSED', 'The broker is shutting down');
  const code = (err as { code?: string }).code;
  if (code === 'MAX_PAYLOAD_EXCEEDED' || apiErrorCode(err) === JS_ERR.messageTooLarge) {
    return new StorageError('MESSAGE_TOO_LARGE', `JetStream refused the message: ${describeNatsError(err)}`);
  }
  if (apiErrorCode(err) === JS_ERR.streamNotFound) return new StorageError('TOPIC_NOT_FOUND', 'The topic was deleted');
  return new StorageError('STORAGE_UNAVAILABLE', `JetStream refused the message: ${describeNatsError(err)}`, 1);
}
