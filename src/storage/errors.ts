// Domain errors raised by the engine; the HTTP edge maps each `code` to a status in one place.

export type StorageErrorCode =
  | 'INVALID_NAME'
  | 'TOPIC_NOT_FOUND'
  | 'TOPIC_EXISTS'
  | 'PARTITION_NOT_FOUND'
  | 'OFFSET_OUT_OF_RANGE'
  | 'MESSAGE_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'BACK_PRESSURE'
  | 'STORAGE_UNAVAILABLE'
  | 'CORRUPT_RECORD'
  | 'CLOSED'
  | 'GROUP_NOT_FOUND'
  | 'TOO_MANY_GROUPS'
  | 'LEASE_EXPIRED'
  | 'INVALID_LEASE'
  | 'IDEMPOTENCY_KEY_REUSED';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** Seconds a client should wait before retrying, for transient conditions. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export const invalidName = (what: string, value: string, rule: string) =>
  new StorageError('INVALID_NAME', `Invalid ${what} ${JSON.stringify(value.slice(0, 300))}: ${rule}`);

export const topicNotFound = (topic: string) =>
  new StorageError('TOPIC_NOT_FOUND', `Topic '${topic}' does not exist`);

export const offsetOutOfRange = (message: string) => new StorageError('OFFSET_OUT_OF_RANGE', message);

export const storageUnavailable = (message: string, retryAfterSeconds = 1) =>
  new StorageError('STORAGE_UNAVAILABLE', message, retryAfterSeconds);

/**
 * A system error that is a resource limit, not a bug, as the 503 it should answer: the detail names the
 * limit, and retrying heals once descriptors, memory or space are free again. Null for anything else.
 */
export function resourceExhausted(err: unknown): StorageError | null {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'EMFILE':
      return storageUnavailable("Too many open files: the process's open-file limit (ulimit -n) is reached; retry shortly, and raise the limit or lower MAX_OPEN_SEGMENTS", 1);
    case 'ENFILE':
      return storageUnavailable("Too many open files on this machine (the system's file table is full); retry shortly", 1);
    case 'ENOMEM':
      return storageUnavailable('Out of memory; retry shortly', 1);
    case 'ENOSPC':
    case 'EDQUOT':
      return storageUnavailable('Storage unavailable: the disk is full; retry once there is space', 5);
    default:
      return null;
  }
}
