// `wait_ms` on every long-poll route: any non-negative integer, held to at most MAX_WAIT_MS (never a 400 for
// asking too much); the route echoes the wait it used in the Wait-Ms-Used header.
import { BadRequestException, Inject, Injectable, type PipeTransform } from '@nestjs/common';
import type { Response } from 'express';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';

export const WAIT_MS_USED = 'Wait-Ms-Used';

@Injectable()
export class WaitMsPipe implements PipeTransform<unknown, number> {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  transform(value: unknown): number {
    if (value === undefined || value === '') return 0;
    const max = this.config.maxWaitMs;
    // Any length of digits: a huge wait is still a request for "as long as allowed", not a mistake.
    if (typeof value === 'number' ? !(Number.isInteger(value) && value >= 0) : typeof value !== 'string' || !/^\d+$/.test(value)) {
      throw new BadRequestException(`wait_ms must be a whole number of milliseconds, 0 or more (above MAX_WAIT_MS, ${max}, the wait is ${max})`);
    }
    return Math.min(Number(value), max);
  }
}

/** Tells the client how long the request may wait: its wait_ms, or MAX_WAIT_MS when it asked for more. */
export function announceWait(res: Response, waitMs: number): void {
  res.setHeader(WAIT_MS_USED, String(waitMs));
}

/** The OpenAPI description of the header, for each long-poll route's answers. */
export const WAIT_MS_USED_HEADER = {
  [WAIT_MS_USED]: { description: 'The wait this request used: wait_ms, held to at most MAX_WAIT_MS', schema: { type: 'integer' as const } },
};

/** The OpenAPI description of the query parameter. */
export const WAIT_MS_QUERY = {
  name: 'wait_ms',
  required: false,
  description: 'Long poll: hold the request up to this long (ms) for a message. Values above MAX_WAIT_MS (default 30000) are held to MAX_WAIT_MS; the Wait-Ms-Used header answers the wait used',
  schema: { type: 'integer' as const, minimum: 0, default: 0 },
};
