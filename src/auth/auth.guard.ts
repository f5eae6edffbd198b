// Checks the API key (Authorization: Bearer <key> or X-API-Key) against the route's requirement:
// 401 without a known key, 403 when the key lacks the right on that topic. Off when no keys are configured.
import { type CanActivate, type ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { type ApiKey, ApiKeyRing } from './api-keys';
import { REQUIRES, type Requirement } from './requires.decorator';

export const API_KEY_RING = Symbol('API_KEY_RING');

/** The key that authenticated a request, for per-key rate limits and filtered listings. */
export type AuthenticatedRequest = Request & { apiKey?: ApiKey };

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.ring.enabled) return true;
    const requirement = this.reflector.get<Requirement | undefined>(REQUIRES, context.getHandler());
    if (!requirement) return true; // public: health, metrics
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const presented = presentedKey(req);
    if (!presented) throw new UnauthorizedException('An API key is required: send Authorization: Bearer <key> or X-API-Key');
    const key = this.ring.authenticate(presented);
    if (!key) throw new UnauthorizedException('Unknown API key');
    req.apiKey = key;
    if (requirement === 'authenticated') return true;
    const topic = topicOf(req);
    if (topic === undefined) return true;
    if (requirement === 'visible' ? !key.canSee(topic) : !key.can(requirement, topic)) {
      const what = requirement === 'visible' ? 'see' : requirement;
      throw new ForbiddenException(`API key '${key.name}' may not ${what} topic '${topic}'`);
    }
    return true;
  }
}

function presentedKey(req: Request): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim() || null;
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header ? header : null;
}

function topicOf(req: Request): string | undefined {
  const fromPath = req.params?.topic;
  if (typeof fromPath === 'string') return fromPath;
  const fromBody = (req.body as { name?: unknown } | undefined)?.name;
  return typeof fromBody === 'string' ? fromBody : undefined;
}
