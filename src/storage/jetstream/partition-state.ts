// One topic-partition = one JetStream stream: what this process knows of its bounds (first and last
// sequence, from stream info and from its own publish acks) and the long polls waiting for it to grow.
//
// Waiting: while someone waits, the partition subscribes to the stream's subject (plain NATS interest, so
// every broker replica sees every publish, whoever made it). A message seen there is not yet proof that
// the stream stored it (the leader may still be replicating), so a notification only triggers a stream
// info, repeated briefly until the end has moved; a waiter is released by the stored end, never by the
// notification itself. A slow safety refresh covers anything missed (a reconnect mid-wait).
import type { JetStreamManager, NatsConnection, Subscription } from 'nats';
import { sleep } from './retry';

const SAFETY_REFRESH_MS = 1000;
/** Views older than this are refreshed in the background when read. */
export const STATS_MAX_AGE_MS = 1000;

interface Waiter {
  offset: number;
  resolve: (grew: boolean) => void;
  timer: NodeJS.Timeout;
}

export class PartitionState {
  /** Offset of the first stored record (first sequence − 1); moves up as retention removes records. */
  start = 0;
  /** Offset the next record will get (last sequence); everything below is readable. */
  end = 0;
  bytes = 0;
  refreshedAt = 0;
  private refreshing: Promise<void> | null = null;
  private waiters: Waiter[] = [];
  private subscription: Subscription | null = null;
  private safetyTimer: NodeJS.Timeout | null = null;
  private nudged = false;
  private pumping = false;
  private draining = false;

  constructor(
    readonly index: number,
    readonly stream: string,
    readonly subject: string,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {}

  /** Bounds from a stream info (first_seq, last_seq): an empty stream has first = last + 1. */
  applyState(firstSeq: number, lastSeq: number, bytes: number): void {
    this.start = Math.max(this.start, firstSeq > 0 ? firstSeq - 1 : lastSeq);
    this.observeEnd(lastSeq);
    this.bytes = bytes;
    this.refreshedAt = Date.now();
  }

  /** The log reaches at least `end` (a publish ack said so): wake whoever waited for less. */
  observeEnd(end: number): void {
    if (end <= this.end) return;
    this.end = end;
    if (this.start > end) this.start = end;
    for (const w of [...this.waiters]) if (w.offset < end) this.finish(w, true);
  }

  /** Fresh bounds from the stream's leader; concurrent callers share one request. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const info = await this.jsm.streams.info(this.stream);
        this.applyState(info.state.first_seq, info.state.last_seq, info.state.bytes);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Keeps the synchronous views (describe, lag) within about a second of the stream. */
  refreshIfStale(): void {
    if (Date.now() - this.refreshedAt > STATS_MAX_AGE_MS) this.refresh().catch(() => undefined);
  }

  /** True as soon as `offset` is readable, false after `timeoutMs` (or at shutdown). */
  waitForData(offset: number, timeoutMs: number): Promise<boolean> {
    if (offset < this.end) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.draining) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { offset, resolve, timer: setTimeout(() => this.finish(waiter, false), timeoutMs) };
      this.waiters.push(waiter);
      this.listen();
    });
  }

  private listen(): void {
    if (this.subscription) return;
    this.subscription = this.nc.subscribe(this.subject, { callback: () => this.nudge() });
    // Once the server has our interest, look once: a record stored before that sent no notification to us.
    this.nc.flush().then(() => this.nudge(), () => this.nudge());
    this.safetyTimer = setInterval(() => this.nudge(), SAFETY_REFRESH_MS);
    this.safetyTimer.unref();
  }

  private nudge(): void {
    this.nudged = true;
    void this.pump();
  }

  /** Refreshes until the end moves (a few tries: replication takes milliseconds) or nobody waits. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let attempt = 0; this.nudged && this.waiters.length > 0; ) {
        this.nudged = false;
        const before = this.end;
        await this.refresh().catch(() => undefined);
        if (this.end > before) attempt = 0;
        else if (attempt < 8) {
          this.nudged = true;
          await sleep(2 ** attempt++);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private finish(waiter: Waiter, grew: boolean): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(grew);
    if (this.waiters.length === 0) this.stopListening();
  }

  private stopListening(): void {
    if (this.safetyTimer) clearInterval(this.safetyTimer);
    this.safetyTimer = null;
    const sub = this.subscription;
    this.subscription = null;
    if (sub && !sub.isClosed()) sub.unsubscribe();
  }

  /** Shutdown or topic deleted: every waiter answers now, and new ones do not wait. */
  stopWaiting(): void {
    this.draining = true;
    for (const w of [...this.waiters]) this.finish(w, false);
  }
}
