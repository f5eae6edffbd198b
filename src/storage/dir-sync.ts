// Group commit for one directory's fsync: concurrent callers (topic creates adding entries to the topics
// directory) share fsyncs instead of queueing one each on the thread pool.
import { fsyncDir } from './fs-durable';

export class DirSync {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly dir: string) {}

  /**
   * Resolves once an fsync of the directory that began after this call has completed: entries created before
   * the call are then durable. Callers arriving while one runs share the next one.
   */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const run = fsyncDir(this.dir);
    this.running = run;
    const done = () => {
      if (this.running === run) this.running = null;
    };
    run.then(done, done);
    return run;
  }
}
