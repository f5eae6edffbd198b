// Wires @nestjs/config: validates the environment (plus test overrides) and provides the typed AppConfig.
import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_CONFIG, toAppConfig, validateEnv } from './app-config';

@Module({})
export class AppConfigModule {
  static forRoot(overrides: Record<string, string> = {}): DynamicModule {
    return {
      module: AppConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          validate: (raw) => validateEnv({ ...raw, ...overrides }),
        }),
      ],
      providers: [
        {
          provide: APP_CONFIG,
          inject: [ConfigService],
          useFactory: (config: ConfigService) => toAppConfig((key) => config.get(key)),
        },
      ],
      exports: [APP_CONFIG],
    };
  }
}
