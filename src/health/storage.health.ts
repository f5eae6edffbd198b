// Readiness of the storage: recovered and open, the data path working (DATA_DIR writable, or JetStream
// connected and answering), not draining for shutdown.
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
      await this.storage.probeReady();
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      return session.down({ message: this.storage.config.storage === 'jetstream' ? `JetStream not available: ${reason}` : `data directory not writable: ${reason}` });
    }
    return session.up(this.storage.describe());
  }
}
