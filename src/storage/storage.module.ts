// Provides the StorageService (and the storage driver it owns) to every feature module.
import { Global, Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { openStorageDriver, STORAGE_DRIVER, StorageService } from './storage.service';

@Global()
@Module({
  providers: [{ provide: STORAGE_DRIVER, inject: [APP_CONFIG, MetricsService], useFactory: openStorageDriver }, StorageService],
  exports: [StorageService],
})
export class StorageModule {}
