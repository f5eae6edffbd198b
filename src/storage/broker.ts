// The engine's front door: topics, produce, fetch, poll/ack against committed cursors, and seek.
// Plain TypeScript with no framework imports; the Nest StorageService owns one instance.
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineConfig } from './engine-config';
import { offsetOutOfRange, resourceExhausted, StorageError, topicNotFound } from './errors';
import { fsyncDirSync, mkdirDurableSync } from './fs-durable';
import { takeCleanShutdown, writeCleanShutdown } from './clean-shutdown';
import { DirSync } from './dir-sync';
import { HandleCache } from './handle-cache';
import type { PartitionLog } from './log';
import { assertConsumerId, assertTopicName } from './names';
import {
  MAX_HEADER_NAME_BYTES,
  MAX_HEADERS,
  prepareRecord,
  withMarker,
  type PreparedRecord,
  type ProducerRecord,
  type StoredRecord,
  type TextValues,
  textValueRecords,
} from './record-batch';
import { nullObserver, type StorageObserver } from './observer';
import { partitionForKey } from './partitioner';
import type { IdempotencyWindow, WindowEntry } from './idempotency-window';
import { encodeMarker } from './producer-marker';
import type { ProduceOptions, StorageDriver } from './storage-driver';
import { Topic } from './topic';
import { compareTopicNames, pageTopicNames, type TopicListQuery } from './topic-list';

export interface PartitionInfo {
  partition: number;
  startOffset: number;
  endOffset: number;
  sizeBytes: number;
  segmentCount: number;
}

export interface TopicRetention {
  retentionMs?: number;
  retentionBytes?: number;
}

export interface TopicInfo extends TopicRetention {
  name: string;
  partitions: number;
  messageCount: number;
  sizeBytes: number;
  createdAt: string;
  partitionDetails: PartitionInfo[];
}

export interface RejectedRecord {
  index: number;
  code: string;
  detail: string;
}

export interface ProduceResult {
  /** Per record of the call: its partition (-1 when rejected). */
  placement: number[];
  /** Per record of the call: its offset in that partition (-1 when rejected). */
  offsets: number[];
  /** Value bytes stored, for traffic metrics. */
  valueBytes: number;
  rejected: RejectedRecord[];
  /** True when an Idempotency-Key matched an earlier request: these are its offsets, nothing was written. */
  replayed?: boolean;
  /** The partition count the records were routed over (answers name the partition only on multi-partition topics). */
  partitions?: number;
}

export interface CursorView {
  consumerId: string;
  partition: number;
  /** The next offset this consumer will be given. */
  offset: number;
  /** Whether the consumer has ever committed (a new consumer starts at the log start). */
  committed: boolean;
  logStartOffset: number;
  logEndOffset: number;
  lag: number;
  /** True when retention deleted messages the consumer had not reached: it moves to the log start. */
  resetToLogStart: boolean;
}

export type SeekTarget = number | 'beginning' | 'end' | { timestamp: number };

export class Broker implements StorageDriver {
  private readonly topics = new Map<string, Topic>();
  private readonly creating = new Map<string, Promise<Topic>>();
  private readonly handles: HandleCache;
  /** The topics directory's fsync, shared by concurrent topic creates. */
  private readonly topicsDirSync: DirSync;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Topic names in list order, kept between creates and deletes so a page of 10,000 topics sorts nothing. */
  private sortedNames: string[] | null = null;
  /** True when this start found the clean-shutdown marker: partitions open on first use, nothing recovered. */
  startedClean = false;

  private constructor(
    readonly config: EngineConfig,
    readonly observer: StorageObserver,
  ) {
    this.handles = new HandleCache(config.maxOpenSegments);
    this.topicsDirSync = new DirSync(join(config.dataDir, 'topics'));
  }

  private get topicsDir(): string {
    return join(this.config.dataDir, 'topics');
  }

  private get trashDir(): string {
    return join(this.config.dataDir, 'trash');
  }

  /**
   * Opens every topic under DATA_DIR. After a clean shutdown (the marker is there) no partition is read: each
   * opens on first use from the marker's summary. Otherwise each partition's active segment tail is recovered
   * and cursors are clamped to the log ends before anything is served: O(topics × partitions), reads only.
   */
  static open(config: EngineConfig, observer: StorageObserver = nullObserver): Broker {
    const broker = new Broker(config, observer);
    mkdirDurableSync(broker.topicsDir);
    rmSync(broker.trashDir, { recursive: true, force: true });
    const clean = takeCleanShutdown(config.dataDir);
    broker.startedClean = clean !== null;
    for (const name of readdirSync(broker.topicsDir)) {
      const dir = join(broker.topicsDir, name);
      const summary = clean?.get(name);
      if (summary) {
        broker.topics.set(name, Topic.lazy(dir, summary, config, broker.handles, broker.observer));
        continue;
      }
      if (!Topic.exists(dir)) {
        rmSync(dir, { recursive: true, force: true }); // a create that crashed before its metadata landed
        continue;
      }
      broker.topics.set(name, Topic.open(dir, config, broker.handles, broker.observer));
    }
    broker.startTimers();
    return broker;
  }

  private startTimers(): void {
    if (this.config.fsync === 'interval') {
      const t = setInterval(() => void this.syncAll().catch(() => undefined), this.config.fsyncIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    {
      // Always scheduled: topics may carry their own retention even when the broker-wide one is off.
      const t = setInterval(() => void this.enforceRetention().catch(() => undefined), this.config.retentionCheckMs);
      t.unref();
      this.timers.push(t);
    }
  }

  async syncAll(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) await p.syncIfDirty();
      await topic.openCursors?.syncIfDirty();
    }
  }

  async enforceRetention(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const topic of this.topics.values()) {
      const limits = {
        retentionMs: topic.meta.retentionMs ?? this.config.retentionMs,
        retentionBytes: topic.meta.retentionBytes ?? this.config.retentionBytes,
      };
      for (const p of topic.partitions) removed += await p.enforceRetention(now, limits);
    }
    return removed;
  }

  get openFileCount(): number {
    return this.handles.openCount;
  }

  /** Partitions in all, and how many have been opened (all of them after a crash start). */
  partitionStats(): { total: number; opened: number } {
    let total = 0;
    let opened = 0;
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) {
        total++;
        if (p.opened) opened++;
      }
    }
    return { total, opened };
  }

  // ---- topics -------------------------------------------------------------------------------------

  /** Creates a topic; creating one that exists is a no-op answering `created: false`. */
  async createTopic(name: string, partitions = 1, retention: TopicRetention = {}): Promise<{ created: boolean; topic: TopicInfo }> {
    assertTopicName(name);
    assertPartitionCount(partitions);
    const existing = this.topics.get(name) ?? (await this.creating.get(name));
    if (existing) return { created: false, topic: this.describe(existing) };
    const topic = await this.createOnce(name, partitions, retention);
    return { created: true, topic: this.describe(topic) };
  }

  /** Adds partitions to a topic; asking for fewer than it has is a conflict (partitions never shrink). */
  growPartitions(name: string, partitions: number): TopicInfo {
    assertPartitionCount(partitions);
    const topic = this.getTopic(name);
    if (partitions < topic.partitions.length) {
      throw new StorageError('TOPIC_EXISTS', `Topic '${name}' has ${topic.partitions.length} partitions; partitions can grow but never shrink`);
    }
    topic.growPartitions(partitions);
    return this.describe(topic);
  }

  private createOnce(name: string, partitions: number, retention: TopicRetention = {}): Promise<Topic> {
    let pending = this.creating.get(name);
    if (!pending) {
      const created = (async () => {
        this.assertOpen();
        let topic: Topic;
        try {
          topic = await Topic.create(
            join(this.topicsDir, name),
            { name, partitions, createdAt: new Date().toISOString(), ...retention },
            this.config,
            this.handles,
            this.observer,
            () => this.topicsDirSync.sync(),
          );
        } catch (err) {
          // Without its metadata file the directory is not a topic: a retry completes it, a restart removes it.
          throw resourceExhausted(err) ?? err;
        }
        this.topics.set(name, topic);
        this.sortedNames = null;
        return topic;
      })();
      // Cleared once settled, not in a `finally` inside the body: a body that throws before its first await
      // would run it before the set below and leave the entry (and a deleted topic) behind for good.
      const clear = () => {
        if (this.creating.get(name) === created) this.creating.delete(name);
      };
      created.then(clear, clear);
      this.creating.set(name, created);
      pending = created;
    }
    return pending;
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.getTopic(name);
    topic.deleted = true;
    this.topics.delete(name);
    this.sortedNames = null;
    await topic.close();
    // Rename first so the name is free at once and a crash mid-delete cannot leave a half topic behind.
    mkdirDurableSync(this.trashDir);
    const trashed = join(this.trashDir, `${name}.${Date.now()}`);
    renameSync(topic.dir, trashed);
    // Both directories: an answered delete must not bring the topic back after a power cut.
    fsyncDirSync(this.topicsDir);
    fsyncDirSync(this.trashDir);
    await rm(trashed, { recursive: true, force: true });
  }

  listTopics(query: TopicListQuery = {}): TopicInfo[] {
    return this.listTopicNames(query).map((name) => this.describe(this.topics.get(name)!));
  }

  /** Topic names in list order (`localeCompare`), filtered and paged by `query`; describes nothing. */
  listTopicNames(query: TopicListQuery = {}): string[] {
    this.sortedNames ??= [...this.topics.keys()].sort(compareTopicNames);
    return pageTopicNames(this.sortedNames, query);
  }

  get topicCount(): number {
    return this.topics.size;
  }

  describeTopic(name: string): TopicInfo {
    return this.describe(this.getTopic(name));
  }

  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  private describe(topic: Topic): TopicInfo {
    return {
      name: topic.name,
      partitions: topic.partitions.length,
      messageCount: topic.messageCount,
      sizeBytes: topic.sizeBytes,
      createdAt: topic.meta.createdAt,
      retentionMs: topic.meta.retentionMs,
      retentionBytes: topic.meta.retentionBytes,
      partitionDetails: topic.partitions.map((p, partition) => ({
        partition,
        startOffset: p.startOffset,
        endOffset: p.endOffset,
        sizeBytes: p.sizeBytes,
        segmentCount: p.segmentCount,
      })),
    };
  }

  private getTopic(name: string): Topic {
    assertTopicName(name);
    const topic = this.topics.get(name);
    if (!topic) throw topicNotFound(name);
    return topic;
  }

  private partitionOf(topic: Topic, partition: number): PartitionLog {
    const log = topic.partitions[partition];
    if (!Number.isInteger(partition) || !log) {
      throw new StorageError(
        'PARTITION_NOT_FOUND',
        `Topic '${topic.name}' has no partition ${partition} (it has ${topic.partitions.length})`,
      );
    }
    return log;
  }

  // ---- produce and read ---------------------------------------------------------------------------

  /**
   * Stores records and resolves once they are durable (per FSYNC). Routing: an explicit partition takes
   * them all; otherwise a keyed record goes where Kafka's partitioner puts its key and unkeyed records of
   * one call stick to one partition, rotating between calls. Records of one call on one partition get
   * consecutive offsets. With `partial`, invalid records are reported in `rejected` and the valid ones are
   * stored; without it, one invalid record rejects the call before anything is written.
   */
  async produce(topicName: string, input: ProducerRecord[] | TextValues, options: ProduceOptions): Promise<ProduceResult> {
    if (!Array.isArray(input)) {
      if (this.plainText(input, options)) return this.produceText(topicName, input, options);
      input = textValueRecords(input);
    }
    const records = input;
    this.assertOpen();
    assertTopicName(topicName);
    if (records.length === 0) throw new StorageError('INVALID_NAME', 'A produce needs at least one message');
    if (records.length > this.config.maxBatchMessages) {
      throw new StorageError('BATCH_TOO_LARGE', `At most ${this.config.maxBatchMessages} messages per request (MAX_BATCH_MESSAGES)`);
    }
    const now = Date.now();
    const prepared: Array<PreparedRecord | null> = new Array(records.length);
    const rejected: RejectedRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = prepareRecord(records[i], now);
      const problem = this.recordProblem(r, records.length > 1 ? i : null);
      if (problem) {
        if (!options.partial) throw problem;
        rejected.push({ index: i, code: problem.code, detail: problem.message });
        prepared[i] = null;
      } else prepared[i] = r;
    }
    let topic = this.topics.get(topicName);
    if (!topic) {
      if (!options.autoCreate) throw topicNotFound(topicName);
      topic = await this.createOnce(topicName, 1);
    }
    if (options.partition !== undefined) this.partitionOf(topic, options.partition);
    if (options.idempotency) {
      const once = await this.produceOnce(topic, prepared, rejected, options);
      once.partitions = topic.partitions.length;
      return once;
    }
    const n = topic.partitions.length;
    const sticky = options.partition ?? (n === 1 ? 0 : topic.rotatePartition());
    const placement = new Array<number>(records.length);
    const offsets = new Array<number>(records.length);
    let valueBytes = 0;
    try {
      if (options.partition !== undefined || n === 1) {
        // One target partition (the common case): no routing, one append.
        const batch: PreparedRecord[] = rejected.length === 0 ? (prepared as PreparedRecord[]) : (prepared.filter((r) => r) as PreparedRecord[]);
        let bytes = 0;
        for (const r of batch) {
          bytes += r.size;
          valueBytes += r.valueBytes;
        }
        const base = await topic.partitions[sticky].append(batch, bytes);
        for (let i = 0, k = 0; i < prepared.length; i++) {
          if (prepared[i]) {
            placement[i] = sticky;
            offsets[i] = base + k++;
          } else placement[i] = offsets[i] = -1;
        }
      } else {
        // Keyed records go where Kafka's partitioner puts their key; unkeyed ones stick to one partition.
        offsets.fill(-1);
        const groups = routeRecords(prepared, n, sticky, placement);
        for (const r of prepared) if (r) valueBytes += r.valueBytes;
        await Promise.all(
          [...groups].map(async ([p, indexes]) => {
            const batch = indexes.map((i) => prepared[i]!);
            let bytes = 0;
            for (const r of batch) bytes += r.size;
            const base = await topic.partitions[p].append(batch, bytes);
            for (let k = 0; k < indexes.length; k++) offsets[indexes[k]] = base + k;
          }),
        );
      }
    } catch (err) {
      throw topic.deleted ? topicNotFound(topicName) : err;
    }
    return { placement, offsets, rejected, valueBytes, partitions: n };
  }

  /** Text values the framed path takes as they are: not under an Idempotency-Key, none too large, a count in bounds. */
  private plainText(values: TextValues, options: ProduceOptions): boolean {
    const { bounds } = values;
    if (options.idempotency || bounds.length === 0 || bounds.length >> 1 > this.config.maxBatchMessages) return false;
    for (let i = 0; i < bounds.length; i += 2) if (bounds[i + 1] - bounds[i] > this.config.maxMessageBytes) return false;
    return true;
  }

  /**
   * Text values of one call go to one partition (the one asked for, or the sticky one: they have no keys),
   * framed into their record batches before they wait for the writer.
   */
  private async produceText(topicName: string, values: TextValues, options: ProduceOptions): Promise<ProduceResult> {
    this.assertOpen();
    assertTopicName(topicName);
    let topic = this.topics.get(topicName);
    if (!topic) {
      if (!options.autoCreate) throw topicNotFound(topicName);
      topic = await this.createOnce(topicName, 1);
    }
    if (options.partition !== undefined) this.partitionOf(topic, options.partition);
    const n = topic.partitions.length;
    const p = options.partition ?? (n === 1 ? 0 : topic.rotatePartition());
    const count = values.bounds.length >> 1;
    let base: number;
    try {
      base = await topic.partitions[p].appendText(values, Date.now());
    } catch (err) {
      throw topic.deleted ? topicNotFound(topicName) : err;
    }
    const placement = new Array<number>(count).fill(p);
    const offsets = new Array<number>(count);
    for (let i = 0; i < count; i++) offsets[i] = base + i;
    let valueBytes = 0;
    for (let i = 0; i < values.bounds.length; i += 2) valueBytes += values.bounds[i + 1] - values.bounds[i];
    return { placement, offsets, rejected: [], valueBytes };
  }

  private recordProblem(r: PreparedRecord, index: number | null): StorageError | null {
    const which = index === null ? 'Message' : `Message #${index}`;
    if (r.valueBytes + (r.key?.length ?? 0) > this.config.maxMessageBytes) {
      return new StorageError('MESSAGE_TOO_LARGE', `${which} is ${r.valueBytes} bytes; the limit is ${this.config.maxMessageBytes} (MAX_MESSAGE_BYTES)`);
    }
    if (r.headers && (r.headers.length > MAX_HEADERS || r.headers.some(([name]) => name.length > MAX_HEADER_NAME_BYTES))) {
      // Caught here, not by the writer: an encode that throws mid-flush would leave its produce unanswered.
      return new StorageError('MESSAGE_TOO_LARGE', `${which} has headers the format cannot hold: at most ${MAX_HEADERS} headers, names of at most ${MAX_HEADER_NAME_BYTES} bytes`);
    }
    return null;
  }

  /**
   * A produce under an Idempotency-Key. The first run writes a producer marker in the last record of each
   * partition's share, so the key is durable exactly when its data is; a retry finds the key (in memory, or
   * rebuilt from the log after a crash), answers the stored offsets without writing, writes only the shares
   * a crash kept from landing, and refuses a different request under the same key. Routing depends only on
   * the request and its key (never on rotation), so a retry places every record where the first run did.
   */
  private async produceOnce(topic: Topic, prepared: Array<PreparedRecord | null>, rejected: RejectedRecord[], options: ProduceOptions): Promise<ProduceResult> {
    const { key, fingerprint } = options.idempotency!;
    const window = await topic.idempotencyWindow();
    for (;;) {
      const entry = window.lookup(key);
      if (entry && !entry.fingerprint.equals(fingerprint)) {
        throw new StorageError(
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key '${key}' was already used on topic '${topic.name}' for a different request (within IDEMPOTENCY_WINDOW_MS); send a new key for a new request`,
        );
      }
      if (entry && entry.stored.size === entry.parts) return replayed(entry, prepared, rejected);
      const running = window.running(key);
      if (!running) return window.track(key, this.appendOnce(topic, window, prepared, rejected, options, entry));
      await running.catch(() => undefined);
    }
  }

  private async appendOnce(
    topic: Topic,
    window: IdempotencyWindow,
    prepared: Array<PreparedRecord | null>,
    rejected: RejectedRecord[],
    options: ProduceOptions,
    earlier: WindowEntry | undefined,
  ): Promise<ProduceResult> {
    const { key, fingerprint } = options.idempotency!;
    // Partitions only grow: routing over the count the first run used is still valid after growth.
    const n = earlier?.routedOver ?? topic.partitions.length;
    const sticky = options.partition ?? (n === 1 ? 0 : partitionForKey(Buffer.from(key, 'utf8'), n));
    const placement = new Array<number>(prepared.length);
    const offsets = new Array<number>(prepared.length).fill(-1);
    let valueBytes = 0;
    // An explicit partition takes every record, keys included.
    const groups = routeRecords(prepared, options.partition === undefined ? n : 1, sticky, placement);
    const createdAt = earlier?.createdAt ?? Date.now();
    let wrote = false;
    try {
      await Promise.all(
        [...groups].map(async ([p, indexes]) => {
          const done = earlier?.stored.get(p);
          let base: number;
          if (done) base = done.base; // this share landed before a crash: only the others are written now
          else {
            const marker = { createdAt, fingerprint, key, routedOver: n, parts: groups.size, partition: p, count: indexes.length, indexes: groups.size > 1 ? indexes : null };
            const batch = indexes.map((i) => prepared[i]!);
            batch[batch.length - 1] = withMarker(batch[batch.length - 1], encodeMarker(marker));
            let bytes = 0;
            for (const r of batch) {
              bytes += r.size;
              valueBytes += r.valueBytes;
            }
            wrote = true;
            base = await topic.partitions[p].append(batch, bytes);
            window.register(marker, base);
          }
          for (let k = 0; k < indexes.length; k++) offsets[indexes[k]] = base + k;
        }),
      );
    } catch (err) {
      throw topic.deleted ? topicNotFound(topic.name) : err;
    }
    return { placement, offsets, rejected, valueBytes, replayed: !wrote };
  }

  async ensureTopic(topicName: string, autoCreate: boolean): Promise<void> {
    assertTopicName(topicName);
    if (this.topics.has(topicName)) return;
    if (!autoCreate) throw topicNotFound(topicName);
    await this.createOnce(topicName, 1);
  }

  /** Shutdown: every waiting long poll answers now, and new ones do not wait. */
  releaseWaiters(): void {
    for (const topic of this.topics.values()) for (const p of topic.partitions) p.stopWaiting();
  }

  partitionCount(topicName: string): number {
    return this.getTopic(topicName).partitions.length;
  }

  /** Reads from an offset without touching any cursor. */
  async fetch(topicName: string, partition: number, offset: number, max: number, maxBytes: number): Promise<StoredRecord[]> {
    const log = this.partitionOf(this.getTopic(topicName), partition);
    return log.read(offset, max, maxBytes);
  }

  /** Long poll on one partition: true as soon as `offset` is readable, false after `timeoutMs`. */
  waitForData(topicName: string, partition: number, offset: number, timeoutMs: number): Promise<boolean> {
    return this.partitionOf(this.getTopic(topicName), partition).waitForData(offset, timeoutMs);
  }

  /** First offset whose record has a timestamp at or after `timestamp` (the log end when none). */
  offsetForTimestamp(topicName: string, partition: number, timestamp: number): Promise<number> {
    return this.partitionOf(this.getTopic(topicName), partition).offsetForTimestamp(timestamp);
  }

  /** The next message at or after the consumer's committed cursor, or null when it has read everything. */
  async poll(topicName: string, consumerId: string, partition = 0): Promise<StoredRecord | null> {
    const records = await this.pollMany(topicName, consumerId, partition, 1, Number.MAX_SAFE_INTEGER);
    return records[0] ?? null;
  }

  async pollMany(topicName: string, consumerId: string, partition: number, max: number, maxBytes: number): Promise<StoredRecord[]> {
    assertConsumerId(consumerId);
    const topic = this.getTopic(topicName);
    const log = this.partitionOf(topic, partition);
    return log.read(this.cursorOffset(topic, log, consumerId, partition), max, maxBytes);
  }

  /**
   * The committed cursor, kept inside the log: behind the start after retention, and past the end after a
   * crash under FSYNC=never/interval lost acknowledged-but-unsynced messages (new ones then get those offsets).
   */
  private cursorOffset(topic: Topic, log: PartitionLog, consumerId: string, partition: number): number {
    const stored = topic.cursors.get(consumerId, partition);
    return Math.min(Math.max(stored ?? log.startOffset, log.startOffset), log.endOffset);
  }

  /** Whole-topic poll: partitions in rotating order, the first with a message for this consumer wins. */
  async pollAny(topicName: string, consumerId: string, max: number, maxBytes: number): Promise<{ partition: number; records: StoredRecord[] }> {
    const topic = this.getTopic(topicName);
    const n = topic.partitions.length;
    const first = n === 1 ? 0 : topic.rotatePartition();
    for (let k = 0; k < n; k++) {
      const p = (first + k) % n;
      const records = await this.pollMany(topicName, consumerId, p, max, maxBytes);
      if (records.length > 0) return { partition: p, records };
    }
    return { partition: first, records: [] };
  }

  /** Long poll for a consumer on any partition of a topic (or one): resolves when one has news, or times out. */
  async waitForConsumer(topicName: string, consumerId: string, partition: number | undefined, timeoutMs: number): Promise<boolean> {
    const topic = this.getTopic(topicName);
    const targets = partition === undefined ? topic.partitions.map((_, p) => p) : [partition];
    const waits = targets.map((p) => {
      const log = this.partitionOf(topic, p);
      return log.waitForData(this.cursorOffset(topic, log, consumerId, p), timeoutMs);
    });
    return Promise.race(waits.map((w) => w.then((grew) => (grew ? true : Promise.all(waits).then((all) => all.some(Boolean))))));
  }

  /**
   * Commits the consumer's cursor past `offset` once durable. Never moves it backwards: a late or repeated
   * ack is a no-op. Acking an offset that was never produced is an error.
   */
  async ack(topicName: string, consumerId: string, offset: number, partition = 0): Promise<void> {
    assertConsumerId(consumerId);
    const topic = this.getTopic(topicName);
    const log = this.partitionOf(topic, partition);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= log.endOffset) {
      throw offsetOutOfRange(
        `Cannot ack offset ${offset} of '${topicName}' partition ${partition}: offsets there run from 0 to ${log.endOffset - 1}` +
          (log.endOffset === 0 ? ' (the partition is empty)' : ''),
      );
    }
    await topic.cursors.commit(consumerId, partition, offset + 1, true);
  }

  cursor(topicName: string, consumerId: string, partition = 0): CursorView {
    assertConsumerId(consumerId);
    const topic = this.getTopic(topicName);
    const log = this.partitionOf(topic, partition);
    const stored = topic.cursors.get(consumerId, partition);
    const offset = this.cursorOffset(topic, log, consumerId, partition);
    return {
      consumerId,
      partition,
      offset,
      committed: stored !== undefined,
      logStartOffset: log.startOffset,
      logEndOffset: log.endOffset,
      lag: Math.max(0, log.endOffset - offset),
      resetToLogStart: stored !== undefined && stored < log.startOffset,
    };
  }

  /** Moves a consumer's cursor anywhere in [log start, log end], backwards included; durable on return. */
  async seek(topicName: string, consumerId: string, target: SeekTarget, partition = 0): Promise<CursorView> {
    assertConsumerId(consumerId);
    const topic = this.getTopic(topicName);
    const log = this.partitionOf(topic, partition);
    let offset: number;
    if (target === 'beginning') offset = log.startOffset;
    else if (target === 'end') offset = log.endOffset;
    else if (typeof target === 'object') offset = await log.offsetForTimestamp(target.timestamp);
    else {
      if (!Number.isSafeInteger(target) || target < log.startOffset || target > log.endOffset) {
        throw offsetOutOfRange(
          `Cannot seek to ${target}: '${topicName}' partition ${partition} holds offsets ${log.startOffset} to ${log.endOffset} (the end)`,
        );
      }
      offset = target;
    }
    await topic.cursors.commit(consumerId, partition, offset, false);
    return this.cursor(topicName, consumerId, partition);
  }

  consumers(topicName: string): CursorView[] {
    const topic = this.getTopic(topicName);
    return [...topic.cursors.all()].map((c) => this.cursor(topicName, c.consumerId, c.partition));
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('CLOSED', 'The broker is shutting down');
  }

  /**
   * Finishes queued writes and creates, fsyncs and closes every file, then writes the clean-shutdown marker
   * with every topic's summary: only when every close succeeded, so the next start skips recovery only for
   * logs that are known synced and trimmed.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.creating.values()]);
    const topics = [...this.topics.values()];
    const results = await Promise.allSettled(topics.map((t) => t.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await writeCleanShutdown(
      this.config.dataDir,
      topics.map((t) => t.summary()),
    );
  }
}

/**
 * Kafka's routing: a keyed record goes where the partitioner puts its key among `n` partitions, an unkeyed one to
 * `sticky`. Fills `placement` (-1 for a rejected record) and answers the record indexes per partition, in order.
 */
function routeRecords(prepared: Array<PreparedRecord | null>, n: number, sticky: number, placement: number[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < prepared.length; i++) {
    const r = prepared[i];
    placement[i] = -1;
    if (!r) continue;
    const p = n > 1 && r.key ? partitionForKey(r.key, n) : sticky;
    placement[i] = p;
    let g = groups.get(p);
    if (!g) groups.set(p, (g = []));
    g.push(i);
  }
  return groups;
}

/** The answer of a request whose every share is stored: its offsets, rebuilt from the window. */
function replayed(entry: WindowEntry, prepared: Array<PreparedRecord | null>, rejected: RejectedRecord[]): ProduceResult {
  const placement = new Array<number>(prepared.length).fill(-1);
  const offsets = new Array<number>(prepared.length).fill(-1);
  for (const [p, part] of entry.stored) {
    if (part.indexes) {
      for (let k = 0; k < part.count; k++) {
        placement[part.indexes[k]] = p;
        offsets[part.indexes[k]] = part.base + k;
      }
    } else {
      // A one-partition request: its stored records in order (validation is deterministic, so a same-fingerprint retry rejects the same ones).
      for (let i = 0, k = 0; i < prepared.length && k < part.count; i++) {
        if (!prepared[i]) continue;
        placement[i] = p;
        offsets[i] = part.base + k++;
      }
    }
  }
  return { placement, offsets, rejected, valueBytes: 0, replayed: true };
}

function assertPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new StorageError('INVALID_NAME', 'partitions must be an integer from 1 to 1024');
  }
}
