// Path and query names are checked here, before a controller runs, with the engine's own rules.
import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { assertConsumerId, assertTopicName } from '../../storage/names';
import { StorageError } from '../../storage/errors';

function check(assert: (v: string) => void, value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestException(`${what} is required`);
  try {
    assert(value);
  } catch (err) {
    if (err instanceof StorageError) throw new BadRequestException(err.message);
    throw err;
  }
  return value;
}

export class TopicNamePipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    return check(assertTopicName, value, 'topic');
  }
}

export class ConsumerIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    // "." and ".." are refused like topic names: not a path today, but a path segment in any URL or driver.
    if (value === '.' || value === '..') throw new BadRequestException('consumer_id must not be "." or ".."');
    return check(assertConsumerId, value, 'consumer_id');
  }
}

/** A non-negative integer in a path or query string; `fallback` when absent. */
export class OffsetPipe implements PipeTransform<unknown, number> {
  constructor(
    private readonly what: string,
    private readonly fallback?: number,
    private readonly max = Number.MAX_SAFE_INTEGER,
  ) {}

  transform(value: unknown): number {
    if (value === undefined || value === '') {
      if (this.fallback !== undefined) return this.fallback;
      throw new BadRequestException(`${this.what} is required`);
    }
    // The global ValidationPipe may already have turned the string into a number (transform: true).
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > this.max) {
      throw new BadRequestException(`${this.what} must be an integer from 0 to ${this.max}`);
    }
    return n;
  }
}

/** A non-negative integer that may be absent (then undefined: "not given" differs from 0, e.g. whole topic). */
export class OptionalIntPipe implements PipeTransform<unknown, number | undefined> {
  private readonly inner: OffsetPipe;

  constructor(what: string, max = Number.MAX_SAFE_INTEGER) {
    this.inner = new OffsetPipe(what, undefined, max);
  }

  transform(value: unknown): number | undefined {
    if (value === undefined || value === '') return undefined;
    return this.inner.transform(value);
  }
}
