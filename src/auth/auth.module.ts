// API-key authentication and per-key rate limits, applied to every route as global guards.
import { type DynamicModule, Logger, Module, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ApiKeyRing } from './api-keys';
import { API_KEY_RING, AuthGuard } from './auth.guard';
import { RateLimitGuard } from './rate-limit.guard';

@Module({})
export class AuthModule {
  /** `rateLimitPerSecond` decides at wiring time whether the throttler guard exists at all (0 = no cost). */
  static forRoot(rateLimitPerSecond: number): DynamicModule {
    const providers: Provider[] = [
      {
        provide: API_KEY_RING,
        inject: [APP_CONFIG],
        useFactory: (config: AppConfig) => {
          const ring = ApiKeyRing.load(config.authKeysJson, config.authKeysFile);
          const log = new Logger('Auth');
          if (ring.enabled) log.log(`API keys required: ${ring.names.length} key(s) loaded (${ring.names.join(', ')})`);
          else log.warn('AUTHENTICATION IS OFF: no AUTH_KEYS or AUTH_KEYS_FILE configured, anyone who can reach this port can read and write every topic');
          return ring;
        },
      },
      { provide: APP_GUARD, useClass: AuthGuard },
    ];
    const imports = [];
    if (rateLimitPerSecond > 0) {
      imports.push(ThrottlerModule.forRoot({ throttlers: [{ ttl: 1000, limit: rateLimitPerSecond }] }));
      providers.push({ provide: APP_GUARD, useClass: RateLimitGuard });
    }
    return { module: AuthModule, imports, providers, exports: [API_KEY_RING] };
  }
}
