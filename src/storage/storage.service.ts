// The Nest provider that owns the engine's lifetime: the only way into the data on the volume.
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { Broker } from './broker';

@Injectable()
export class StorageService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Storage');
  /** Opened in the constructor: the app must not answer a request before recovery has finished. */
  readonly broker: Broker;
  /** Set when shutdown begins: readiness turns 503 so load balancers stop sending work. */
  draining = false;
  private lastProbe: { at: number; result: Promise<void> } | null = null;

  constructor(
    @Inject(APP_CONFIG) readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const started = performance.now();
    this.broker = Broker.open(config.engine, metrics);
    metrics.attach(this.broker);
    const topics = this.broker.listTopics();
    this.logger.log(
      `Opened ${config.engine.dataDir}: ${topics.length} topic(s), ${topics.reduce((n, t) => n + t.messageCount, 0)} message(s) ` +
        `in ${(performance.now() - started).toFixed(1)} ms (FSYNC=${config.engine.fsync})`,
    );
  }

  /** Writes, fsyncs and removes a small file in DATA_DIR; cached for a second so probes stay cheap. */
  probeWritable(): Promise<void> {
    const now = Date.now();
    if (this.lastProbe && now - this.lastProbe.at < 1000) return this.lastProbe.result;
    const path = join(this.config.engine.dataDir, '.write-probe');
    const result = (async () => {
      const fh = await open(path, 'w');
      try {
        await fh.writeFile('ok');
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await unlink(path);
    })();
    result.catch(() => undefined);
    this.lastProbe = { at: now, result };
    return result;
  }

  beforeApplicationShutdown(): void {
    this.draining = true;
    // Long polls answer now, so the HTTP server can finish its in-flight requests and close.
    this.broker.releaseWaiters();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broker.close();
  }
}
