// The mini-kafka client: typed calls generated from openapi.yaml (openapi-fetch) plus the seed tutorial's
// Producer / Consumer shape, with retries on 429 / 503 / network errors and an at-least-once async iterator.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';
export type CursorResponse = components['schemas']['CursorResponse'];
export type BatchItemResult = components['schemas']['BatchItemResult'];
/**
 * One produce: the seed's `message` text, or a `value` (any JSON value, or base64 text with encoding 'base64'),
 * with an optional key, headers, partition. (The contract types `value` as an empty object; any JSON is accepted.)
 */
export type ProduceBody = Omit<components['schemas']['ProduceBody'], 'value'> & { value?: unknown };
export type BrokerApi = Client<paths>;

/**
 * A polled message. `data` is the text for messages produced as text (the seed's case, and the default type);
 * a message produced as a JSON `value` comes back as that value, a base64 one as its base64 text.
 */
export interface PolledMessage<T = string> {
  message_id: number;
  data: T;
  /** Set on topics with several partitions; ack() passes it back. */
  partition?: number;
}

type ContractProduceBody = components['schemas']['ProduceBody'];
type PollQuery = NonNullable<paths['/topics/{topic}/messages']['get']['parameters']['query']>;

/** The seed's poll answers exactly this detail (with a 404) when the consumer is caught up. */
const NO_NEW_MESSAGES = 'No new messages';
/** Answers that mean "not now, try again": rate limited, or the broker is full or draining. */
const RETRY_STATUSES = new Set([429, 503]);

export interface RetryOptions {
  /** Tries per request, the first one included (default 5). */
  maxAttempts?: number;
  /** First back-off delay, doubled at each further try, with jitter (default 100 ms). */
  baseDelayMs?: number;
  /** Cap on any one delay, a Retry-After included (default 30 s). */
  maxDelayMs?: number;
}

export interface RetryEvent {
  /** The try that failed (1 = the first). */
  attempt: number;
  /** How long the client waits before the next try. */
  delayMs: number;
  /** The HTTP status that caused the retry; absent for a network error. */
  status?: number;
  error?: unknown;
  method: string;
  url: string;
}

export interface BrokerClientOptions {
  /** Sent as `Authorization: Bearer <key>` (the broker also accepts `X-API-Key`). */
  apiKey?: string;
  retry?: RetryOptions;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (event: RetryEvent) => void;
  /** Headers added to every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default: the global fetch). */
  fetch?: (request: Request) => Promise<Response>;
  /**
   * Give every send() / sendBatch() a random Idempotency-Key (unless one is passed), so that a retry after a lost
   * answer never stores a message twice. Off by default: the broker makes each such key durable with a write of
   * its own, which costs produce throughput.
   */
  idempotentProduce?: boolean;
}

export interface SendOptions {
  /** Routes the message: the same key always goes to the same partition. */
  key?: string;
  headers?: Record<string, string>;
  partition?: number;
  /**
   * Sent as `Idempotency-Key`: a retry with the same key (the client's own, or yours) answers the original
   * result instead of writing twice. See also BrokerClientOptions.idempotentProduce.
   */
  idempotencyKey?: string;
}

export interface ConsumerOptions {
  /** Partition to consume (unset: the broker's default for the seed's poll). */
  partition?: number;
  /**
   * Long polling: the broker holds an empty poll open for up to this long (≤ its MAX_WAIT_MS) and answers as soon
   * as a message arrives. Sent as `wait_ms` only when set; without it the iterator polls with a short back-off.
   */
  waitMs?: number;
  /** Back-off after an empty poll: starts at idleInitialMs and doubles up to idleMaxMs (default 50 ms, 1 s). */
  idleInitialMs?: number;
  idleMaxMs?: number;
  /** End the `for await` loop once the consumer is caught up, instead of waiting for new messages. */
  stopWhenIdle?: boolean;
  /** Ends the `for await` loop (and any wait in it) when aborted. */
  signal?: AbortSignal;
}

/** An error answer from the broker, with its JSON `detail` and stable `code`. */
export class BrokerError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly code?: string,
  ) {
    super(`${status}: ${detail}`);
    this.name = 'BrokerError';
  }
}

/** A batch the broker answered 207: the valid messages are stored, the others are reported per message in `results`. */
export class BatchPartlyRejected extends BrokerError {
  constructor(
    /** Offset of each message in request order; null for one the broker did not store. */
    readonly messageIds: (number | null)[],
    readonly results: BatchItemResult[],
  ) {
    const rejected = results.filter((r) => r.status !== 200);
    super(207, `${rejected.length} of ${results.length} messages rejected: ${rejected[0]?.detail ?? 'invalid'}`, 'BATCH_PARTLY_REJECTED');
    this.name = 'BatchPartlyRejected';
  }
}

export function createBrokerClient(baseUrl: string, options: BrokerClientOptions = {}): BrokerClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey !== undefined) headers['Authorization'] = `Bearer ${options.apiKey}`;
  const retry = {
    maxAttempts: Math.max(1, options.retry?.maxAttempts ?? 5),
    baseDelayMs: options.retry?.baseDelayMs ?? 100,
    maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
  };
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const api = createClient<paths>({ baseUrl, headers, fetch: retryingFetch(baseFetch, retry, options.onRetry) });
  return new BrokerClient(api, options.idempotentProduce ?? false);
}

export class BrokerClient {
  readonly producer: Producer;

  constructor(
    readonly api: BrokerApi,
    idempotentProduce = false,
  ) {
    this.producer = new Producer(api, idempotentProduce);
  }

  /** A consumer of `topic` as `consumerId`; T is the type of `data` (text unless the topic carries JSON values). */
  consumer<T = string>(topic: string, consumerId: string, options: ConsumerOptions = {}): Consumer<T> {
    return new Consumer<T>(this.api, topic, consumerId, options);
  }

  /** Creates the topic; a topic that already exists is fine (the seed's create is idempotent). */
  async createTopic(topic: string, partitions?: number): Promise<void> {
    const body = partitions === undefined ? undefined : { partitions };
    unwrap(await this.api.POST('/topics/{topic}/create', { params: { path: { topic } }, body }));
  }

  /** A consumer's committed offset (the next message it will be given) and its lag. */
  async cursor(topic: string, consumerId: string, partition?: number): Promise<CursorResponse> {
    const query = partition === undefined ? {} : { partition };
    return unwrap(await this.api.GET('/topics/{topic}/consumers/{consumer_id}', { params: { path: { topic, consumer_id: consumerId }, query } }));
  }
}

/** The seed's Producer: `send(topic, message)` answers the stored message's offset. */
export class Producer {
  constructor(
    private readonly api: BrokerApi,
    private readonly idempotent = false,
  ) {}

  /**
   * Appends one message (text, or a full produce body); resolves with its offset once the broker has stored it.
   * Without an Idempotency-Key, a retry after a lost answer may store the message twice (at-least-once).
   */
  async send(topic: string, message: string | ProduceBody, options: SendOptions = {}): Promise<number> {
    const result = await this.api.POST('/topics/{topic}/messages', {
      params: { path: { topic }, header: this.idempotencyHeader(options) },
      body: produceBody(message, options) as ContractProduceBody,
    });
    return unwrap(result).message_id;
  }

  /**
   * Appends many messages with one write per partition on the broker; resolves with each message's offset, in
   * order. Throws BatchPartlyRejected (the valid ones are stored) when the broker rejected some of them.
   */
  async sendBatch(topic: string, messages: readonly (string | ProduceBody)[], options: SendOptions = {}): Promise<number[]> {
    const { idempotencyKey, partition, ...each } = options;
    const answer = await this.api.POST('/topics/{topic}/messages/batch', {
      params: { path: { topic }, header: this.idempotencyHeader({ idempotencyKey }), query: partition === undefined ? {} : { partition } },
      body: { messages: messages.map((m) => produceBody(m, each)) as ContractProduceBody[] },
    });
    const result = unwrap(answer);
    // 207: the valid messages are stored and `results` says which were not.
    if (answer.response.status === 207) throw new BatchPartlyRejected(result.message_ids, result.results ?? []);
    // A 200 stored every message, so every id is an offset (null only marks a rejected message in a 207).
    return result.message_ids as number[];
  }

  private idempotencyHeader({ idempotencyKey }: SendOptions): { 'Idempotency-Key'?: string } {
    const key = idempotencyKey ?? (this.idempotent ? newIdempotencyKey() : undefined);
    return key === undefined ? {} : { 'Idempotency-Key': key };
  }
}

/**
 * The seed's Consumer: `poll()` the next message after the committed cursor, `ack(id)` to commit past it.
 * `for await (const m of consumer)` polls and acks each message after the loop body has finished with it
 * (at-least-once): if the body throws, or the loop ends by `break`/`return`, the message is not acked and
 * is delivered again to the next poll of this consumer id.
 */
export class Consumer<T = string> implements AsyncIterable<PolledMessage<T>> {
  constructor(
    private readonly api: BrokerApi,
    readonly topic: string,
    readonly consumerId: string,
    private readonly options: ConsumerOptions = {},
  ) {}

  /** The next message for this consumer, or null when it is caught up. Polling again without an ack answers the same message. */
  async poll(): Promise<PolledMessage<T> | null> {
    const { data, error, response } = await this.api.GET('/topics/{topic}/messages', {
      params: { path: { topic: this.topic }, query: this.pollQuery() },
      signal: this.options.signal,
    });
    // The contract types `data` loosely (text, JSON value or base64); the consumer's T says which this topic carries.
    if (data !== undefined) return data as unknown as PolledMessage<T>;
    if (response.status === 404 && errorDetail(error) === NO_NEW_MESSAGES) return null;
    throw brokerError(response, error);
  }

  /**
   * Commits this consumer's cursor past messageId (on `partition`: the polled message's, for topics with several
   * partitions); a repeated or late ack is a harmless no-op.
   */
  async ack(messageId: number, partition: number | undefined = this.options.partition): Promise<void> {
    const query = { consumer_id: this.consumerId, ...(partition === undefined ? {} : { partition }) };
    unwrap(await this.api.POST('/topics/{topic}/messages/{message_id}/ack', { params: { path: { topic: this.topic, message_id: messageId }, query } }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PolledMessage<T>, void, undefined> {
    const { signal, stopWhenIdle = false } = this.options;
    const idleInitialMs = this.options.idleInitialMs ?? 50;
    const idleMaxMs = Math.max(idleInitialMs, this.options.idleMaxMs ?? 1000);
    let idleMs = idleInitialMs;
    while (!signal?.aborted) {
      const started = Date.now();
      let message: PolledMessage<T> | null;
      try {
        message = await this.pollOrIdle();
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
      if (message !== null) {
        idleMs = idleInitialMs;
        yield message;
        // Reached only when the loop body finished normally: a throw, break or return ends the generator at
        // the yield above, so that message stays unacked and is redelivered (at-least-once).
        await this.ack(message.message_id, message.partition ?? this.options.partition);
        continue;
      }
      if (stopWhenIdle) return;
      // A long poll that was held open already waited; an immediate empty answer backs off, doubling.
      await sleep(Math.max(0, idleMs - (Date.now() - started)), signal).catch(() => undefined);
      idleMs = Math.min(idleMs * 2, idleMaxMs);
    }
  }

  /** Like poll(), but a topic that does not exist yet counts as "nothing yet": a worker may start before its producers. */
  private async pollOrIdle(): Promise<PolledMessage<T> | null> {
    try {
      return await this.poll();
    } catch (e) {
      if (e instanceof BrokerError && e.status === 404) return null;
      throw e;
    }
  }

  private pollQuery(): PollQuery {
    // wait_ms is sent only when asked for: the seed's poll stays exactly the seed's request.
    const query: PollQuery = { consumer_id: this.consumerId };
    if (this.options.partition !== undefined) query.partition = this.options.partition;
    if (this.options.waitMs !== undefined) query.wait_ms = this.options.waitMs;
    return query;
  }
}

/** Wraps fetch: retries 429, 503 and network errors with exponential back-off, honoring Retry-After, a bounded number of times. */
function retryingFetch(
  fetchOnce: (request: Request) => Promise<Response>,
  retry: Required<RetryOptions>,
  onRetry?: (event: RetryEvent) => void,
): (request: Request) => Promise<Response> {
  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined;
      let error: unknown;
      try {
        // A clone per try: a request body can be read only once.
        response = await fetchOnce(request.clone());
      } catch (e) {
        if (request.signal.aborted) throw e;
        error = e;
      }
      const retryable = response === undefined || RETRY_STATUSES.has(response.status);
      if (!retryable || attempt >= retry.maxAttempts) {
        if (response !== undefined) return response;
        throw error;
      }
      const delayMs = retryDelayMs(attempt, response?.headers.get('retry-after') ?? null, retry);
      await response?.body?.cancel().catch(() => undefined);
      onRetry?.({ attempt, delayMs, status: response?.status, error, method: request.method, url: request.url });
      await sleep(delayMs, request.signal);
    }
  };
}

/** Exponential back-off with jitter, but never sooner than the broker's Retry-After; capped at maxDelayMs. */
function retryDelayMs(attempt: number, retryAfter: string | null, retry: Required<RetryOptions>): number {
  const exponential = retry.baseDelayMs * 2 ** (attempt - 1);
  const backoff = exponential / 2 + Math.random() * (exponential / 2);
  return Math.round(Math.min(retry.maxDelayMs, Math.max(backoff, parseRetryAfterMs(retryAfter))));
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110, section 10.2.3). */
function parseRetryAfterMs(value: string | null): number {
  if (value === null || value.trim() === '') return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.max(0, date - Date.now());
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function produceBody(message: string | ProduceBody, options: Omit<SendOptions, 'idempotencyKey'>): ProduceBody {
  const body: ProduceBody = typeof message === 'string' ? { message } : { ...message };
  if (options.key !== undefined) body.key = options.key;
  if (options.headers !== undefined) body.headers = options.headers;
  if (options.partition !== undefined) body.partition = options.partition;
  return body;
}

function newIdempotencyKey(): string {
  const uuid = globalThis.crypto?.randomUUID?.();
  return uuid ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined) return result.data;
  throw brokerError(result.response, result.error);
}

function errorDetail(error: unknown): string | undefined {
  const detail = (error as { detail?: unknown } | undefined)?.detail;
  return typeof detail === 'string' ? detail : undefined;
}

function brokerError(response: Response, error: unknown): BrokerError {
  const code = (error as { code?: unknown } | undefined)?.code;
  return new BrokerError(response.status, errorDetail(error) ?? (response.statusText || 'request failed'), typeof code === 'string' ? code : undefined);
}
