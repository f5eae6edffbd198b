// Readiness of the storage: recovered and open, the data directory writable, not draining for shutdown.
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { StorageService } from '../storage/storage.service';

@Injectable()
export class StorageHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly storage: StorageService,
  ) {}

  async check() {
    const session = this.indicators.check('storage');
    if (this.storage.draining) return session.down({ message: 'draining for shutdown' });
    try {
      await this.storage.probeWritable();
    } catch (err) {
      return session.down({ message: `data directory not writable: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
    return session.up({ topics: this.storage.broker.listTopics().length, fsync: this.storage.config.engine.fsync });
  }
}
