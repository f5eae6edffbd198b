// The engine's settings, as plain values: the Nest config layer validates the environment into this shape.

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface EngineConfig {
  dataDir: string;
  /** always: a produce or ack is answered after its bytes are fsynced (group commit). */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  segmentBytes: number;
  /** Roll the active segment once it is this old (0 = never by age). */
  segmentMs: number;
  maxMessageBytes: number;
  /** Most messages accepted in one produce call. */
  maxBatchMessages: number;
  /** Bytes written between two sparse index entries. */
  indexIntervalBytes: number;
  /** Most segment files held open at once across all partitions (the active ones always are). */
  maxOpenSegments: number;
  /** Bytes queued for one partition's writer before produce answers back-pressure. */
  maxInFlightBytes: number;
  /** Delete sealed segments older than this (0 = keep forever). */
  retentionMs: number;
  /** Delete the oldest sealed segments while a partition holds more than this (0 = no size limit). */
  retentionBytes: number;
  retentionCheckMs: number;
  /** How long an Idempotency-Key's answer is remembered per topic. */
  idempotencyWindowMs: number;
  idempotencyMaxKeys: number;
}

export const defaultEngineConfig = (dataDir: string): EngineConfig => ({
  dataDir,
  fsync: 'always',
  fsyncIntervalMs: 200,
  segmentBytes: 64 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  maxMessageBytes: 1024 * 1024,
  maxBatchMessages: 10_000,
  indexIntervalBytes: 4096,
  maxOpenSegments: 256,
  maxInFlightBytes: 64 * 1024 * 1024,
  retentionMs: 0,
  retentionBytes: 0,
  retentionCheckMs: 30_000,
  idempotencyWindowMs: 10 * 60 * 1000,
  idempotencyMaxKeys: 100_000,
});
