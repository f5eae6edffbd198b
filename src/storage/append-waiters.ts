// Long polling: readers waiting for a partition to grow past an offset, woken by the writer after each
// group commit (never by a timer loop), bounded in number so idle waiters cannot pile up without limit.
import { StorageError } from './errors';

interface Waiter {
  offset: number;
  resolve: (grew: boolean) => void;
  timer: NodeJS.Timeout;
}

export class AppendWaiters {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly limit = 10_000) {}

  get size(): number {
    return this.waiters.size;
  }

  /** Resolves true once `endOffset()` passes `offset`, false after timeoutMs (or when woken by close). */
  wait(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.waiters.size >= this.limit) {
      return Promise.reject(new StorageError('BACK_PRESSURE', 'Too many long polls waiting on this partition; retry shortly', 1));
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Wakes every waiter whose offset is now readable. */
  notify(endOffset: number): void {
    if (this.waiters.size === 0) return;
    for (const w of this.waiters) {
      if (w.offset < endOffset) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(true);
      }
    }
  }

  /** Answers every waiter now (shutdown: long polls get their empty answer instead of being cut). */
  releaseAll(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters.clear();
  }
}
