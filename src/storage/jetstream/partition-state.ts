// One topic-partition = one JetStream stream: what this process knows of its bounds (first and last
// sequence, from stream info and from publish acks) and the long polls waiting for it to grow.
//
// Bounds: `end` here is a lower bound of the stream's real end (it only ever moves up). Whatever decides what
// a request returns (a read reaching the end, a seek, an ack's range check) asks the stream's leader with
// `refreshFromLeader()`, whose request is always sent after the call began, so a record answered through any
// broker replica before that is inside the bound. The cached value serves only the views README allows to lag.
//
// Waiting: while someone waits (and LISTEN_LINGER_MS after), the partition subscribes to the stream's commit
// notices (`<subject>.end`): every broker replica publishes one after JetStream's PubAck for its writes, with
// the new last sequence (see JetStreamBroker.produceNow). A notice is proof of storage (it follows a quorum's
// ack), so it moves `end` and releases waiters at once, one network hop after the producing replica's own
// wake-up. A slow safety refresh from the leader covers notices lost to a replica that died between the
// ack and the notice, or a reconnect mid-wait.
import type { JetStreamManager, NatsConnection, Subscription } from 'nats';

const SAFETY_REFRESH_MS = 1000;
/** After the last waiter leaves, the subscription stays this long: a long-poll loop re-subscribes rarely. */
const LISTEN_LINGER_MS = 10_000;
/** Views older than this are refreshed in the background when read. */
export const STATS_MAX_AGE_MS = 1000;

interface Waiter {
  offset: number;
  resolve: (grew: boolean) => void;
  timer: NodeJS.Timeout;
}

/** The subject of a partition's commit notices (a sibling of the stream's own subject, not stored by it). */
export function noticeSubject(subject: string): string {
  return `${subject}.end`;
}

export class PartitionState {
  /** Offset of the first stored record (first sequence − 1); moves up as retention removes records. */
  start = 0;
  /** Offset the next record will get (last sequence) as far as this process knows: a lower bound. */
  end = 0;
  bytes = 0;
  refreshedAt = 0;
  /** The stream-info request in flight, and the one queued behind it for callers that came after it was sent. */
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private waiters: Waiter[] = [];
  private subscription: Subscription | null = null;
  private safetyTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
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

  /** The log reaches at least `end` (a publish ack or a commit notice said so): wake whoever waited for less. */
  observeEnd(end: number): void {
    if (end <= this.end) return;
    this.end = end;
    if (this.start > end) this.start = end;
    for (const w of [...this.waiters]) if (w.offset < end) this.finish(w, true);
  }

  /**
   * Bounds from the stream's leader by a request sent after this call: concurrent callers share it, and a caller
   * arriving while one is in flight waits for the next (the one in flight may predate a write it must see).
   */
  refreshFromLeader(): Promise<void> {
    if (!this.inFlight) return this.requestInfo();
    this.queued ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.requestInfo();
      });
    return this.queued;
  }

  private requestInfo(): Promise<void> {
    const request = (async () => {
      const info = await this.jsm.streams.info(this.stream);
      this.applyState(info.state.first_seq, info.state.last_seq, info.state.bytes);
    })();
    this.inFlight = request;
    const clear = () => {
      if (this.inFlight === request) this.inFlight = null;
    };
    request.then(clear, clear);
    return request;
  }

  /** Keeps the lagging views (topic list, consumer list) within about a second of the stream. */
  refreshIfStale(): void {
    if (Date.now() - this.refreshedAt > STATS_MAX_AGE_MS && !this.inFlight) this.refreshFromLeader().catch(() => undefined);
  }

  /** A commit notice from a broker replica (its payload: the stream's last sequence after its write). */
  private onNotice(data: Uint8Array): void {
    const seq = Number(new TextDecoder().decode(data));
    if (Number.isSafeInteger(seq) && seq > 0) this.observeEnd(seq);
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
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    if (!this.safetyTimer) {
      this.safetyTimer = setInterval(() => this.refreshFromLeader().catch(() => undefined), SAFETY_REFRESH_MS);
      this.safetyTimer.unref();
    }
    if (this.subscription) return;
    this.subscription = this.nc.subscribe(noticeSubject(this.subject), { callback: (err, msg) => err || this.onNotice(msg.data) });
    // Once the server has our interest, ask the leader once: a write acked before that sent its notice to nobody.
    this.nc.flush().then(
      () => this.refreshFromLeader().catch(() => undefined),
      () => undefined,
    );
  }

  private finish(waiter: Waiter, grew: boolean): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(grew);
    if (this.waiters.length > 0) return;
    if (this.safetyTimer) clearInterval(this.safetyTimer);
    this.safetyTimer = null;
    if (this.draining) this.stopListening();
    else if (this.subscription && !this.lingerTimer) {
      this.lingerTimer = setTimeout(() => this.stopListening(), LISTEN_LINGER_MS);
      this.lingerTimer.unref();
    }
  }

  private stopListening(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    if (this.waiters.length > 0) return;
    const sub = this.subscription;
    this.subscription = null;
    if (sub && !sub.isClosed()) sub.unsubscribe();
  }

  /** Shutdown or topic deleted: every waiter answers now, new ones do not wait, and the subscription ends. */
  stopWaiting(): void {
    this.draining = true;
    for (const w of [...this.waiters]) this.finish(w, false);
    this.stopListening();
  }
}
