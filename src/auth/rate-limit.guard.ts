// Rate limits per API key (per client address when auth is off) with @nestjs/throttler: 429 + Retry-After.
import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from './auth.guard';

@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as AuthenticatedRequest;
    return r.apiKey ? `key:${r.apiKey.name}` : `ip:${r.ip ?? 'unknown'}`;
  }
}
