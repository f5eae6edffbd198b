// The Nest provider that owns the storage driver's lifetime: the only way into the data, wherever it lives
// (the embedded log on the volume, or NATS JetStream; STORAGE picks one, callers see a StorageDriver).
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { Broker } from './broker';
import { JetStreamBroker } from './jetstream/jetstream-broker';
import { openFileBudget } from './open-file-budget';
import type { StorageDriver } from './storage-driver';

export const STORAGE_DRIVER = Symbol('STORAGE_DRIVER');

/**
 * Opens the configured driver before anything else is built: an async provider, so the JetStream driver has
 * connected and loaded topics and cursors (and the embedded one has recovered) before the first request.
 */
export async function openStorageDriver(config: AppConfig, metrics: MetricsService): Promise<StorageDriver> {
  const logger = new Logger('Storage');
  const started = performance.now();
  let driver: StorageDriver;
  let where: string;
  if (config.storage === 'jetstream') {
    const js = await JetStreamBroker.connect(config.engine, config.nats, metrics, (m) => logger.warn(m));
    const c = js.describeConnection();
    driver = js;
    where = `JetStream at ${config.nats.urls.join(',')} (server ${c.server}${c.cluster ? `, cluster ${c.cluster}` : ''}, ${c.replicas} replica(s))`;
  } else {
    const budget = openFileBudget(config.engine.maxOpenSegments);
    if (!budget.fits) throw new Error(`Refusing to start: ${budget.summary}`);
    logger.log(budget.summary);
    const broker = Broker.open(config.engine, metrics);
    const { total } = broker.partitionStats();
    driver = broker;
    where =
      `${config.engine.dataDir} (FSYNC=${config.engine.fsync}; ` +
      (broker.startedClean ? `clean shutdown: ${total} partition(s) open on first use)` : `no clean-shutdown marker: ${total} partition tail(s) recovered)`);
  }
  metrics.attach(driver);
  const topics = driver.listTopics();
  logger.log(
    `Opened ${where}: ${topics.length} topic(s), ${topics.reduce((n, t) => n + t.messageCount, 0)} message(s) ` +
      `in ${(performance.now() - started).toFixed(1)} ms`,
  );
  return driver;
}

@Injectable()
export class StorageService implements BeforeApplicationShutdown, OnApplicationShutdown {
  /** Set when shutdown begins: readiness turns 503 so load balancers stop sending work. */
  draining = false;
  private lastProbe: { at: number; result: Promise<void> } | null = null;

  constructor(
    @Inject(APP_CONFIG) readonly config: AppConfig,
    @Inject(STORAGE_DRIVER) readonly broker: StorageDriver,
  ) {}

  /** Readiness of the data path: DATA_DIR writable (embedded), or connected with JetStream answering. */
  probeReady(): Promise<void> {
    return this.broker instanceof JetStreamBroker ? this.broker.probe() : this.probeWritable();
  }

  /**
   * Before answering a synchronous view (describe, cursor, consumers, group lag) that must show every write
   * answered through any broker replica: JetStream asks the leaders; the embedded log is always current.
   */
  async syncViews(topic: string, consumerId?: string, partition?: number): Promise<void> {
    if (this.broker instanceof JetStreamBroker) await this.broker.syncViews(topic, consumerId, partition);
  }

  /** What readiness reports besides "up". */
  describe(): Record<string, unknown> {
    if (this.broker instanceof JetStreamBroker) return { driver: 'jetstream', topics: this.broker.listTopics().length, ...this.broker.describeConnection() };
    const broker = this.broker as Broker;
    const files = openFileBudget(this.config.engine.maxOpenSegments);
    const partitions = broker.partitionStats();
    return {
      topics: broker.topicCount,
      fsync: this.config.engine.fsync,
      // After a clean shutdown partitions open on first use; after a crash every tail was recovered before this answered.
      start: broker.startedClean ? 'clean' : 'recovered',
      partitions: { total: partitions.total, opened: partitions.opened },
      open_files: { engine: broker.openFileCount, engine_max: files.engineFiles, process_limit: files.limit },
    };
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
