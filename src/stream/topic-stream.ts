// One Server-Sent Events stream of a topic: reads the log from its positions, writes `message` events, sleeps on the
// partitions' append waiters (never a timer loop), writes heartbeats when idle, and bounds what a slow client costs.
import { StorageError } from '../storage/errors';
import type { StoredRecord } from '../storage/record-batch';
import type { StorageDriver } from '../storage/storage-driver';
import { toMessageView } from '../messages/message-codec';
import { formatEventId, type StreamPositions } from './stream-position';

/** What a stream reads from: the read side of whichever storage driver is configured. */
export type StreamSource = Pick<StorageDriver, 'fetch' | 'waitForData' | 'partitionCount'>;

/** What a stream writes to: an HTTP response (node's ServerResponse fits), kept abstract so no Express type leaks in. */
export interface EventSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  once(event: 'drain' | 'close' | 'finish', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
}

export interface StreamPlan {
  topic: string;
  /** Partition → next offset to deliver; the stream reads exactly these partitions ... */
  positions: StreamPositions;
  /** ... plus partitions added to the topic later, from their first offset (whole-topic streams). */
  followNewPartitions: boolean;
}

export interface StreamLimits {
  /** A comment line after this long without writing anything (keeps proxies and clients from timing out). */
  heartbeatMs: number;
  /** A client whose socket accepts nothing for this long is dropped. */
  drainTimeoutMs: number;
  /** One read per partition per round: at most this many messages ... */
  batchMessages: number;
  /** ... and about this many bytes. */
  batchBytes: number;
  /** Sent as the SSE `retry:` field: how long an EventSource waits before reconnecting. */
  retryMs: number;
}

export type EndReason = 'client_closed' | 'slow_client' | 'shutdown' | 'topic_deleted' | 'back_pressure' | 'error';

/** How long a stream ended by the server gets to flush its last event before its socket is destroyed. */
const END_GRACE_MS = 1000;

export class TopicStream {
  private endReason: EndReason | null = null;
  private lastWriteAt = Date.now();
  /** Partitions with an append waiter outstanding: never more than one each, so waiters cannot pile up. */
  private readonly waiting = new Set<number>();
  private wakeUp: (() => void) | null = null;
  /** A waiter finished while nobody slept: the next sleep returns at once (no lost wake-up). */
  private wokenEarly = false;
  private abortDrain: (() => void) | null = null;
  private waiterError: unknown = null;
  /** Largest number of bytes seen queued in the response (user space) after a write: bounded by one frame past the high-water mark. */
  maxQueuedBytes = 0;
  delivered = 0;

  constructor(
    private readonly broker: StreamSource,
    private readonly sink: EventSink,
    private readonly plan: StreamPlan,
    private readonly limits: StreamLimits,
    /** True once the broker is shutting down: its waiters then answer at once, so the stream must end rather than spin. */
    private readonly stopping: () => boolean,
    private readonly onDelivered: (records: StoredRecord[]) => void = () => undefined,
  ) {}

  get ended(): boolean {
    return this.endReason !== null;
  }

  /** Ends the stream from outside (shutdown, client gone); run() then finishes. */
  stop(reason: EndReason): void {
    if (this.endReason) return;
    this.endReason = reason;
    this.signal();
    this.abortDrain?.();
  }

  /** Streams until the client leaves, is too slow, or the server stops it; answers why it ended. */
  async run(): Promise<EndReason> {
    this.sink.once('close', () => this.stop('client_closed'));
    this.sink.on('error', () => this.stop('client_closed'));
    if (this.sink.destroyed) this.stop('client_closed');
    try {
      const { positions } = this.plan;
      const ready = { topic: this.plan.topic, positions: [...positions].map(([partition, offset]) => ({ partition, offset })), heartbeat_ms: this.limits.heartbeatMs };
      // The ready event carries the start position as its id: a reconnect before any message resumes there, not at a newer log end.
      await this.send(`retry: ${this.limits.retryMs}\nid: ${formatEventId(positions)}\nevent: ready\ndata: ${JSON.stringify(ready)}\n\n`);
      while (!this.endReason) {
        if (this.stopping()) {
          this.stop('shutdown');
          break;
        }
        const delivered = await this.deliverAvailable();
        if (!this.endReason && delivered === 0) await this.sleepUntilNews();
      }
    } catch (err) {
      this.stop(endReasonOf(err));
    }
    this.finish();
    return this.endReason!;
  }

  /** One round: a read on every partition (round-robin fairness), each message written as it is read. */
  private async deliverAvailable(): Promise<number> {
    this.followNewPartitions();
    let delivered = 0;
    for (const [partition, offset] of this.plan.positions) {
      if (this.endReason) break;
      const records = await this.broker.fetch(this.plan.topic, partition, offset, this.limits.batchMessages, this.limits.batchBytes);
      let sent = 0;
      for (const r of records) {
        if (this.endReason) break;
        this.plan.positions.set(partition, r.offset + 1);
        const frame = `id: ${formatEventId(this.plan.positions)}\nevent: message\ndata: ${JSON.stringify(toMessageView(r, partition))}\n\n`;
        sent++;
        // Waiting here, not after the batch: what is queued for a slow client never exceeds one frame past the high-water mark.
        await this.send(frame);
      }
      if (sent > 0) this.onDelivered(sent === records.length ? records : records.slice(0, sent));
      delivered += sent;
    }
    this.delivered += delivered;
    return delivered;
  }

  private followNewPartitions(): void {
    if (!this.plan.followNewPartitions) return;
    const count = this.broker.partitionCount(this.plan.topic);
    for (let p = this.plan.positions.size; p < count; p++) this.plan.positions.set(p, 0);
  }

  /** Sleeps until a partition has news, the heartbeat is due, or the stream is stopped. */
  private async sleepUntilNews(): Promise<void> {
    for (const [partition, offset] of this.plan.positions) {
      if (this.waiting.has(partition)) continue;
      this.waiting.add(partition);
      // The timeout only recycles waiters (one per partition); a topic deleted meanwhile throws here and ends the stream.
      Promise.resolve()
        .then(() => this.broker.waitForData(this.plan.topic, partition, offset, this.limits.heartbeatMs))
        .catch((err: unknown) => {
          this.waiterError = err;
        })
        .finally(() => {
          this.waiting.delete(partition);
          this.signal();
        });
    }
    const idleFor = Date.now() - this.lastWriteAt;
    if (this.wokenEarly) {
      // News came while we were busy: look again, but through the event loop, so that a wake-up that repeats at once
      // (a waiter answering immediately) can never starve the server of I/O.
      this.wokenEarly = false;
      await new Promise<void>((resolve) => setImmediate(resolve));
    } else if (idleFor < this.limits.heartbeatMs) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        timer = setTimeout(() => this.signal(), this.limits.heartbeatMs - idleFor);
      });
      clearTimeout(timer);
      this.wokenEarly = false;
    }
    if (this.waiterError) throw this.waiterError;
    if (!this.endReason && Date.now() - this.lastWriteAt >= this.limits.heartbeatMs) await this.send(`: heartbeat ${new Date().toISOString()}\n\n`);
  }

  private signal(): void {
    const wake = this.wakeUp;
    this.wakeUp = null;
    if (wake) wake();
    else this.wokenEarly = true;
  }

  /** Writes a frame; when the socket is full, waits for it to drain, at most drainTimeoutMs, then drops the client. */
  private async send(frame: string): Promise<void> {
    if (this.endReason) return;
    this.lastWriteAt = Date.now();
    const accepted = this.sink.write(frame);
    this.maxQueuedBytes = Math.max(this.maxQueuedBytes, this.sink.writableLength);
    if (accepted || this.endReason) return;
    const drained = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.sink.removeListener('drain', onDrain);
        this.abortDrain = null;
        resolve(ok);
      };
      const onDrain = () => done(true);
      const timer = setTimeout(() => done(false), this.limits.drainTimeoutMs);
      this.abortDrain = () => done(false);
      this.sink.once('drain', onDrain);
    });
    if (!drained) this.stop('slow_client');
  }

  /** Ends the response: a client that stopped reading is cut off; others get an `end` event saying why. */
  private finish(): void {
    const reason = this.endReason!;
    if (reason === 'client_closed') return;
    if (reason === 'slow_client' || this.sink.writableNeedDrain) {
      this.sink.destroy();
      return;
    }
    this.sink.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.sink.end();
    const timer = setTimeout(() => this.sink.destroy(), END_GRACE_MS);
    timer.unref();
    this.sink.once('close', () => clearTimeout(timer));
  }
}

function endReasonOf(err: unknown): EndReason {
  if (err instanceof StorageError) {
    if (err.code === 'TOPIC_NOT_FOUND' || err.code === 'PARTITION_NOT_FOUND') return 'topic_deleted';
    if (err.code === 'CLOSED') return 'shutdown';
    if (err.code === 'BACK_PRESSURE') return 'back_pressure';
  }
  return 'error';
}
