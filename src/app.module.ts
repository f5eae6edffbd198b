// Wires the modules: validated config, logging, metrics, auth, the storage engine, topics, messages, health.
import { type DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { LoggingModule } from './common/logging/logging.module';
import { readAppConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { ConsoleModule } from './console/console.module';
import { GroupsModule } from './groups/groups.module';
import { HealthModule } from './health/health.module';
import { MessagesModule } from './messages/messages.module';
import { MetricsModule } from './metrics/metrics.module';
import { StorageModule } from './storage/storage.module';
import { StreamModule } from './stream/stream.module';
import { TopicsModule } from './topics/topics.module';

@Module({})
export class AppModule {
  /** `env` overrides the process environment (tests give each app its own DATA_DIR this way). */
  static forRoot(env: Record<string, string> = {}): DynamicModule {
    const config = readAppConfig(env);
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(env),
        LoggingModule,
        MetricsModule,
        AuthModule.forRoot(config),
        StorageModule,
        TopicsModule,
        MessagesModule,
        GroupsModule,
        HealthModule,
        StreamModule,
        ConsoleModule,
      ],
    };
  }
}
