// Settings: the environment validated once at start (Joi schema) into one typed object with documented defaults.
import Joi from 'joi';
import type { EngineConfig, FsyncPolicy } from '../storage/engine-config';
import type { JetStreamSettings } from '../storage/jetstream/jetstream-broker';

/** Where the data lives: the embedded segmented log on DATA_DIR, or a NATS JetStream cluster. */
export type StorageKind = 'embedded' | 'jetstream';

export interface AppConfig {
  port: number;
  host: string;
  autoCreateTopics: boolean;
  logLevel: string;
  /** Allowed CORS origins; empty means CORS is off. */
  corsOrigins: string[];
  /** Longest a SIGTERM shutdown may take before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** API keys as JSON (AUTH_KEYS) and/or the path of a JSON file of keys (AUTH_KEYS_FILE). */
  authKeysJson: string;
  authKeysFile: string;
  /** Requests per second per API key (per client address without auth); 0 turns rate limiting off. */
  rateLimitPerSecond: number;
  /** JSON file of topics to create at start. */
  topicsFile: string;
  /** Longest a long poll (wait_ms) may hold a request. */
  maxWaitMs: number;
  maxHeadersPerMessage: number;
  maxTimestampSkewMs: number;
  /** Largest JSON request body accepted (bytes); batch produce is bounded by it too. */
  maxBodyBytes: number;
  /** Server-Sent Event streams (GET /topics/{topic}/stream): concurrent cap, heartbeat period, slow-client bound. */
  stream: { maxStreams: number; heartbeatMs: number; drainTimeoutMs: number };
  engine: EngineConfig;
  storage: StorageKind;
  /** Used when storage is 'jetstream'. */
  nats: JetStreamSettings;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

const MiB = 1024 * 1024;

/** Every setting, its default and its bounds. The README's configuration table mirrors this schema. */
export const envSchema = Joi.object({
  PORT: Joi.number().integer().min(0).max(65535).default(8000),
  HOST: Joi.string().default('0.0.0.0'),
  DATA_DIR: Joi.string().default('./data'),
  FSYNC: Joi.string().valid('always', 'interval', 'never').default('always'),
  FSYNC_INTERVAL_MS: Joi.number().integer().min(1).max(60_000).default(200),
  MAX_MESSAGE_BYTES: Joi.number().integer().min(1).max(64 * MiB).default(MiB),
  MAX_BATCH_MESSAGES: Joi.number().integer().min(1).max(100_000).default(10_000),
  MAX_BODY_BYTES: Joi.number().integer().min(1024).max(512 * MiB).default(32 * MiB),
  AUTO_CREATE_TOPICS: Joi.boolean().truthy('1').falsy('0').default(true),
  SEGMENT_BYTES: Joi.number().integer().min(4096).max(1024 * MiB).default(64 * MiB),
  SEGMENT_MS: Joi.number().integer().min(0).default(7 * 24 * 3600 * 1000),
  RETENTION_MS: Joi.number().integer().min(0).default(0),
  RETENTION_BYTES: Joi.number().integer().min(0).default(0),
  RETENTION_CHECK_MS: Joi.number().integer().min(100).default(30_000),
  INDEX_INTERVAL_BYTES: Joi.number().integer().min(64).max(MiB).default(4096),
  MAX_OPEN_SEGMENTS: Joi.number().integer().min(8).max(100_000).default(256),
  MAX_IN_FLIGHT_BYTES: Joi.number().integer().min(MiB).default(64 * MiB),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  CORS_ORIGINS: Joi.string().allow('').default(''),
  SHUTDOWN_TIMEOUT_MS: Joi.number().integer().min(100).max(600_000).default(10_000),
  AUTH_KEYS: Joi.string().allow('').default(''),
  AUTH_KEYS_FILE: Joi.string().allow('').default(''),
  RATE_LIMIT_PER_SECOND: Joi.number().integer().min(0).default(0),
  TOPICS_FILE: Joi.string().allow('').default(''),
  IDEMPOTENCY_WINDOW_MS: Joi.number().integer().min(1000).max(7 * 24 * 3600 * 1000).default(600_000),
  MAX_WAIT_MS: Joi.number().integer().min(0).max(300_000).default(30_000),
  MAX_HEADERS_PER_MESSAGE: Joi.number().integer().min(0).max(1000).default(64),
  MAX_TIMESTAMP_SKEW_MS: Joi.number().integer().min(0).default(3_600_000),
  MAX_STREAMS: Joi.number().integer().min(0).max(100_000).default(100),
  STREAM_HEARTBEAT_MS: Joi.number().integer().min(100).max(300_000).default(15_000),
  STREAM_DRAIN_TIMEOUT_MS: Joi.number().integer().min(100).max(600_000).default(10_000),
  STORAGE: Joi.string().valid('embedded', 'jetstream').default('embedded'),
  // Comma-separated; NATS_URL (one server) is accepted too.
  NATS_URLS: Joi.string(),
  NATS_URL: Joi.string(),
  // Unset: 3 when the NATS server is part of a cluster, 1 when it runs alone.
  NATS_REPLICAS: Joi.number().integer().min(1).max(5),
  NATS_PREFIX: Joi.string().pattern(/^[A-Za-z0-9]{1,16}$/).default('MK'),
  NATS_DUPLICATE_WINDOW_MS: Joi.number().integer().min(1000).max(24 * 3600 * 1000).default(120_000),
  // Retries through a leader election must end inside the duplicate window, or a retry could store twice.
  NATS_FAILOVER_TIMEOUT_MS: Joi.number().integer().min(100).max(300_000).less(Joi.ref('NATS_DUPLICATE_WINDOW_MS')).default(30_000),
}).unknown(true);

export type ValidatedEnv = Record<string, unknown>;

/** Validates raw environment values; throws one error listing every bad setting. */
export function validateEnv(raw: Record<string, unknown>): ValidatedEnv {
  const { error, value } = envSchema.validate(raw, { abortEarly: false, convert: true });
  if (error) {
    throw new Error(`Invalid configuration: ${error.details.map((d) => d.message).join('; ')}`);
  }
  return value as ValidatedEnv;
}

/** Builds the typed config from validated values (read through ConfigService, or straight from validateEnv). */
export function toAppConfig(get: (key: string) => unknown): AppConfig {
  const n = (key: string) => get(key) as number;
  return {
    port: n('PORT'),
    host: get('HOST') as string,
    autoCreateTopics: get('AUTO_CREATE_TOPICS') as boolean,
    logLevel: get('LOG_LEVEL') as string,
    corsOrigins: (get('CORS_ORIGINS') as string)
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    shutdownTimeoutMs: n('SHUTDOWN_TIMEOUT_MS'),
    authKeysJson: get('AUTH_KEYS') as string,
    authKeysFile: get('AUTH_KEYS_FILE') as string,
    rateLimitPerSecond: n('RATE_LIMIT_PER_SECOND'),
    topicsFile: get('TOPICS_FILE') as string,
    maxBodyBytes: n('MAX_BODY_BYTES'),
    stream: { maxStreams: n('MAX_STREAMS'), heartbeatMs: n('STREAM_HEARTBEAT_MS'), drainTimeoutMs: n('STREAM_DRAIN_TIMEOUT_MS') },
    engine: {
      dataDir: get('DATA_DIR') as string,
      fsync: get('FSYNC') as FsyncPolicy,
      fsyncIntervalMs: n('FSYNC_INTERVAL_MS'),
      segmentBytes: n('SEGMENT_BYTES'),
      segmentMs: n('SEGMENT_MS'),
      maxMessageBytes: n('MAX_MESSAGE_BYTES'),
      maxBatchMessages: n('MAX_BATCH_MESSAGES'),
      indexIntervalBytes: n('INDEX_INTERVAL_BYTES'),
      maxOpenSegments: n('MAX_OPEN_SEGMENTS'),
      maxInFlightBytes: n('MAX_IN_FLIGHT_BYTES'),
      retentionMs: n('RETENTION_MS'),
      retentionBytes: n('RETENTION_BYTES'),
      retentionCheckMs: n('RETENTION_CHECK_MS'),
      idempotencyWindowMs: n('IDEMPOTENCY_WINDOW_MS'),
      idempotencyMaxKeys: 100_000,
    },
    storage: get('STORAGE') as StorageKind,
    nats: {
      urls: String(get('NATS_URLS') ?? get('NATS_URL') ?? 'nats://127.0.0.1:4222')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      replicas: (get('NATS_REPLICAS') as number | undefined) ?? null,
      prefix: get('NATS_PREFIX') as string,
      duplicateWindowMs: n('NATS_DUPLICATE_WINDOW_MS'),
      failoverTimeoutMs: n('NATS_FAILOVER_TIMEOUT_MS'),
    },
    maxWaitMs: n('MAX_WAIT_MS'),
    maxHeadersPerMessage: n('MAX_HEADERS_PER_MESSAGE'),
    maxTimestampSkewMs: n('MAX_TIMESTAMP_SKEW_MS'),
  };
}

/** The settings from the process environment plus overrides, validated; for wiring decisions made before DI. */
export function readAppConfig(overrides: Record<string, string> = {}): AppConfig {
  const env = validateEnv({ ...process.env, ...overrides });
  return toAppConfig((key) => env[key]);
}
