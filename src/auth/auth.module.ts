// API-key authentication and per-key rate limits, applied to every route as global guards.
import { type DynamicModule, Logger, Module, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type { AppConfig } from '../config/app-config';
import { ApiKeyRing } from './api-keys';
import { API_KEY_RING, AuthGuard } from './auth.guard';
import { RateLimitGuard } from './rate-limit.guard';

@Module({})
export class AuthModule {
  /**
   * The keys are read here, at wiring time, so that each guard exists only when it has work: with no keys
   * configured there is no auth guard, and with RATE_LIMIT_PER_SECOND=0 no throttler guard. A route with no
   * guard skips Nest's guard step entirely (no execution context, no awaited result per request).
   */
  static forRoot(config: Pick<AppConfig, 'authKeysJson' | 'authKeysFile' | 'rateLimitPerSecond'>): DynamicModule {
    const ring = ApiKeyRing.load(config.authKeysJson, config.authKeysFile);
    const providers: Provider[] = [
      {
        provide: API_KEY_RING,
        useFactory: () => {
          const log = new Logger('Auth');
          if (ring.enabled) log.log(`API keys required: ${ring.names.length} key(s) loaded (${ring.names.join(', ')})`);
          else log.warn('AUTHENTICATION IS OFF: no AUTH_KEYS or AUTH_KEYS_FILE configured, anyone who can reach this port can read and write every topic');
          return ring;
        },
      },
    ];
    if (ring.enabled) providers.push({ provide: APP_GUARD, useClass: AuthGuard });
    const imports = [];
    if (config.rateLimitPerSecond > 0) {
      imports.push(ThrottlerModule.forRoot({ throttlers: [{ ttl: 1000, limit: config.rateLimitPerSecond }] }));
      providers.push({ provide: APP_GUARD, useClass: RateLimitGuard });
    }
    return { module: AuthModule, imports, providers, exports: [API_KEY_RING] };
  }
}
