// Wires the modules: validated config, the storage engine, topic admin and messages.
import { type DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { MessagesModule } from './messages/messages.module';
import { StorageModule } from './storage/storage.module';
import { TopicsModule } from './topics/topics.module';

@Module({})
export class AppModule {
  /** `env` overrides the process environment (tests give each app its own DATA_DIR this way). */
  static forRoot(env: Record<string, string> = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [AppConfigModule.forRoot(env), StorageModule, TopicsModule, MessagesModule, HealthModule],
    };
  }
}
