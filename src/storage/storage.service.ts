// The Nest provider that owns the engine's lifetime: the only way into the data on the volume.
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { Broker } from './broker';

@Injectable()
export class StorageService implements OnApplicationShutdown {
  private readonly logger = new Logger('Storage');
  /** Opened in the constructor: the app must not answer a request before recovery has finished. */
  readonly broker: Broker;

  constructor(@Inject(APP_CONFIG) readonly config: AppConfig) {
    const started = performance.now();
    this.broker = Broker.open(config.engine);
    const topics = this.broker.listTopics();
    this.logger.log(
      `Opened ${config.engine.dataDir}: ${topics.length} topic(s), ${topics.reduce((n, t) => n + t.messageCount, 0)} message(s) ` +
        `in ${(performance.now() - started).toFixed(1)} ms (FSYNC=${config.engine.fsync})`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broker.close();
  }
}
