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
        // `load`, not `validate`: @nestjs/config copies validated values into process.env, which leaked one
        // app's overrides (a test's AUTH_KEYS, RATE_LIMIT_PER_SECOND, ...) into every app built later in the process.
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [() => validateEnv({ ...process.env, ...overrides })],
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
