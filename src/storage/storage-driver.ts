// What services and controllers need from storage, whichever engine holds the data: the embedded segmented
// log (Broker) or NATS JetStream (JetStreamBroker). The model is immich's storage backends: one interface
// beside its backends, chosen by configuration (STORAGE=embedded|jetstream), invisible to callers.
//
// The methods and signatures are the embedded Broker's public ones, unchanged. Several are synchronous
// (listTopics, describeTopic, hasTopic, partitionCount, cursor, consumers): a driver over a remote engine
// answers them from a local view it keeps current, and says in its own header how fresh that view is.
// growPartitions is the one exception: the embedded engine answers at once, a remote one needs I/O, so
// callers await it (awaiting a plain value is harmless).
import type { CursorView, ProduceResult, SeekTarget, TopicInfo, TopicRetention } from './broker';
import type { EngineConfig } from './engine-config';
import type { ProducerRecord, StoredRecord, TextValues } from './record-batch';
import type { TopicListQuery } from './topic-list';

export interface ProduceOptions {
  partition?: number;
  autoCreate: boolean;
  partial?: boolean;
  /**
   * Produce at most once per key (per topic, within IDEMPOTENCY_WINDOW_MS): a retry answers the first
   * request's offsets with `replayed`; another request under the same key is IDEMPOTENCY_KEY_REUSED.
   */
  idempotency?: { key: string; fingerprint: Buffer };
}

export interface StorageDriver {
  /** The engine settings both drivers share (limits, retention defaults, DATA_DIR for local side files). */
  readonly config: EngineConfig;

  // ---- topics
  /** Creates a topic; creating one that exists is a no-op answering `created: false`. */
  createTopic(name: string, partitions?: number, retention?: TopicRetention): Promise<{ created: boolean; topic: TopicInfo }>;
  deleteTopic(name: string): Promise<void>;
  /** Every topic (or the page `query` asks for), described, in list order. */
  listTopics(query?: TopicListQuery): TopicInfo[];
  /** Topic names in list order, filtered and paged by `query`, without describing them. */
  listTopicNames(query?: TopicListQuery): string[];
  describeTopic(name: string): TopicInfo;
  hasTopic(name: string): boolean;
  /** Adds partitions (never removes them); fewer than the topic has is a conflict. */
  growPartitions(name: string, partitions: number): TopicInfo | Promise<TopicInfo>;
  /** Makes sure the topic exists (creating it when `autoCreate`), else TOPIC_NOT_FOUND. */
  ensureTopic(topicName: string, autoCreate: boolean): Promise<void>;
  partitionCount(topicName: string): number;

  // ---- produce and read
  /**
   * Stores records; resolves once they are durable. Offsets per record, dense from 0 per partition. Text
   * values (byte ranges of one buffer) are the same as records `{value: <those bytes>}`, which an engine may
   * store without making them.
   */
  produce(topicName: string, records: ProducerRecord[] | TextValues, options: ProduceOptions): Promise<ProduceResult>;
  /** Reads from an offset without touching any cursor. */
  fetch(topicName: string, partition: number, offset: number, max: number, maxBytes: number): Promise<StoredRecord[]>;
  /** Long poll on one partition: true as soon as `offset` is readable, false after `timeoutMs`. */
  waitForData(topicName: string, partition: number, offset: number, timeoutMs: number): Promise<boolean>;
  /** First offset whose record has a timestamp at or after `timestamp` (the log end when none). */
  offsetForTimestamp(topicName: string, partition: number, timestamp: number): Promise<number>;

  // ---- consumers (committed cursors)
  poll(topicName: string, consumerId: string, partition?: number): Promise<StoredRecord | null>;
  pollMany(topicName: string, consumerId: string, partition: number, max: number, maxBytes: number): Promise<StoredRecord[]>;
  pollAny(topicName: string, consumerId: string, max: number, maxBytes: number): Promise<{ partition: number; records: StoredRecord[] }>;
  /** Long poll for a consumer on one partition or any: true when one has news, false after `timeoutMs`. */
  waitForConsumer(topicName: string, consumerId: string, partition: number | undefined, timeoutMs: number): Promise<boolean>;
  /** Commits the cursor past `offset`; never moves it backwards; an offset never produced is an error. */
  ack(topicName: string, consumerId: string, offset: number, partition?: number): Promise<void>;
  cursor(topicName: string, consumerId: string, partition?: number): CursorView;
  /** Moves a cursor anywhere in [log start, log end], backwards included. */
  seek(topicName: string, consumerId: string, target: SeekTarget, partition?: number): Promise<CursorView>;
  consumers(topicName: string): CursorView[];

  // ---- lifetime
  /** Shutdown has begun: every waiting long poll answers now, and new ones do not wait. */
  releaseWaiters(): void;
  close(): Promise<void>;
}
