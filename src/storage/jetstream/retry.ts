// Which NATS failures are passing (a leader election, a reconnect) and the bounded retry loop around them.
// While a stream or KV bucket elects a new Raft leader (seconds), its requests answer 503 "no responders"
// or time out; the driver retries them instead of answering the client an error, up to a deadline.
import type { NatsError } from 'nats';
import { StorageError, storageUnavailable } from '../errors';

/** JetStream API error codes the driver reacts to. */
export const JS_ERR = {
  noMessageFound: 10037,
  streamNotFound: 10059,
  wrongLastSequence: 10071,
  streamNameInUse: 10058,
  messageTooLarge: 10054,
} as const;

const TRANSIENT_CODES = new Set(['503', 'TIMEOUT', '408', 'DISCONNECT', 'CONNECTION_REFUSED', 'CONNECTION_TIMEOUT', 'REQUEST_ERROR']);

export function apiErrorCode(err: unknown): number | undefined {
  return (err as NatsError | undefined)?.api_error?.err_code;
}

/** A failure that another try, after a leader election or a reconnect, can fix. */
export function isTransient(err: unknown): boolean {
  if (err instanceof StorageError) return false;
  const e = err as NatsError | undefined;
  const status = e?.api_error?.code;
  if (status !== undefined) return status === 503 || status === 500 || status === 408;
  return typeof e?.code === 'string' && TRANSIENT_CODES.has(e.code);
}

export function isClosedError(err: unknown): boolean {
  const code = (err as NatsError | undefined)?.code;
  return code === 'CONNECTION_CLOSED' || code === 'CONNECTION_DRAINING';
}

export function describeNatsError(err: unknown): string {
  const e = err as NatsError | undefined;
  return e?.api_error?.description ?? e?.message ?? String(err);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Backoff between tries: quick at first (most elections take a few seconds), then at most 1 s. */
export function backoffMs(attempt: number): number {
  return Math.min(1000, 25 * 2 ** Math.min(attempt, 6));
}

/**
 * Runs `op` until it succeeds, fails for good, or `deadlineMs` passes (then 503 STORAGE_UNAVAILABLE, which
 * clients retry after Retry-After). `stop` is checked between tries (shutdown, topic deleted).
 */
export async function withRetry<T>(what: string, deadlineMs: number, op: () => Promise<T>, stop?: () => Error | null): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const stopped = stop?.();
      if (stopped) throw stopped;
      if (Date.now() + backoffMs(attempt) > deadline) {
        throw storageUnavailable(`${what}: JetStream did not answer in time (${describeNatsError(err)}); retry shortly`, 2);
      }
      await sleep(backoffMs(attempt));
    }
  }
}
