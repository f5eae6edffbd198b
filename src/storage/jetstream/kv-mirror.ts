// A live local copy of a JetStream KV bucket: a watch feeds every put and delete to the owner, and is
// started again if it ever ends (a reconnect, a bucket leader change), so the synchronous views the API
// needs (topics, cursors) follow what every broker replica writes.
import type { KV, KvEntry, QueuedIterator } from 'nats';
import { backoffMs, describeNatsError, sleep } from './retry';

export class KvMirror {
  private iterator: QueuedIterator<KvEntry> | null = null;
  private stopped = false;

  constructor(
    private readonly kv: KV,
    private readonly apply: (entry: KvEntry) => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** Resolves once the bucket's current values have been applied (or rejects after `deadlineMs`). */
  async start(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.watchOnce();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(backoffMs(attempt));
      }
    }
  }

  private async watchOnce(): Promise<void> {
    let initialized!: () => void;
    const ready = new Promise<void>((r) => (initialized = r));
    const iterator = await this.kv.watch({ key: '>', initializedFn: () => initialized() });
    this.iterator = iterator;
    void this.consume(iterator);
    await ready;
  }

  private async consume(iterator: QueuedIterator<KvEntry>): Promise<void> {
    try {
      for await (const entry of iterator) this.apply(entry);
    } catch (err) {
      this.onError(`KV watch ended: ${describeNatsError(err)}`);
    }
    // The watch ended without stop(): start over from the current values (apply is revision-aware).
    for (let attempt = 0; !this.stopped; attempt++) {
      await sleep(backoffMs(attempt));
      if (this.stopped) return;
      try {
        await this.watchOnce();
        return;
      } catch (err) {
        this.onError(`KV watch restart failed: ${describeNatsError(err)}`);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.iterator?.stop();
  }
}
