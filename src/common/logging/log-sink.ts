// Where the JSON log lines go (stdout): written asynchronously with a bounded buffer, so a log that cannot take
// writes (full disk, a pipe nobody reads) drops and counts lines instead of blocking the broker.
import SonicBoom from 'sonic-boom';

export interface LogSinkOptions {
  /** File descriptor to write to (1: stdout). */
  fd: number;
  /** Bytes held while the destination is not taking writes; lines beyond it are dropped. */
  maxBufferedBytes: number;
  /** After a failed write (ENOSPC, EIO, EPIPE...), how long until the held bytes are tried again. */
  retryMs: number;
  /** Called once per dropped line. */
  onDrop: () => void;
}

/**
 * A pino destination on sonic-boom in its asynchronous mode (`fs.write` on libuv's thread pool, one write in
 * flight, EAGAIN retried on a timer) with `maxLength`, which drops a line that does not fit and emits 'drop'.
 *
 * Why not pino's default destination: it is the same SonicBoom, but its write errors other than EPIPE are
 * re-thrown as an uncaught exception, and pino registers a process 'exit' hook that calls `flushSync()`, which
 * retries every failed write (not only EAGAIN) every 100 ms in `Atomics.wait`, for ever. On a full disk the
 * broker's first failed log write crashed it into that loop: a process that neither answered nor exited.
 * Here nothing is ever written synchronously: no `flushSync` (so `logger.fatal()` does not flush either), no
 * exit hook; shutdown waits for the buffer with a bound ({@link drained}). Node makes a stdout pipe non-blocking
 * (a full one answers EAGAIN); were it blocking, the stuck write would hold one thread-pool thread, not the broker.
 */
export class LogSink {
  private readonly out: SonicBoom;
  /** Bytes accepted and not yet written. */
  private unwritten = 0;
  private dropped = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: LogSinkOptions) {
    this.out = new SonicBoom({ fd: options.fd, sync: false, maxLength: options.maxBufferedBytes });
    this.out.on('drop', () => {
      this.dropped++;
      options.onDrop();
    });
    this.out.on('write', (n: number) => (this.unwritten -= n));
    // A failed write leaves its bytes at the head of the buffer; sonic-boom tries them again with the next
    // line. When no line fits any more (buffer full), nothing would: the timer tries again.
    this.out.on('error', () => this.retryLater());
  }

  /** pino's destination interface: one serialized line. Never blocks, never throws. */
  write(line: string): boolean {
    if (this.closed) return true;
    const droppedBefore = this.dropped;
    this.out.write(line);
    if (this.dropped === droppedBefore) this.unwritten += Buffer.byteLength(line);
    return true;
  }

  /** Lines dropped so far because the destination was not taking writes. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Resolves true once every accepted line is written, or false after `timeoutMs`: a bounded flush. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.unwritten <= 0) return Promise.resolve(true);
    this.out.write(''); // an empty write starts the next attempt now if none is in flight
    return new Promise((done) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.out.off('write', check);
        done(ok);
      };
      const check = () => {
        if (this.unwritten <= 0) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.out.on('write', check);
    });
  }

  /**
   * Stops retrying and releases the destination, closing its fd (never stdout's or stderr's): without this, the
   * retry timer would go on writing the held lines to whatever file later reuses that fd number.
   */
  close(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((done) => {
      this.out.once('close', () => done());
      this.out.once('error', () => done());
      this.out.destroy();
    });
  }

  private retryLater(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.unwritten > 0 && !this.closed) this.out.write('');
    }, this.options.retryMs);
    this.retry.unref();
  }
}
