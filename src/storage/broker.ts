// The engine's front door: topics, produce, fetch, poll/ack against committed cursors, and seek.
// Plain TypeScript with no framework imports; the Nest StorageService owns one instance.
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineConfig } from './engine-config';
import { offsetOutOfRange, StorageError, topicNotFound } from './errors';
import { HandleCache } from './handle-cache';
import type { PartitionLog } from './log';
import { assertConsumerId, assertTopicName } from './names';
import {
  MAX_HEADER_NAME_BYTES,
  MAX_HEADERS,
  prepareRecord,
  type PreparedRecord,
  type ProducerRecord,
  type StoredRecord,
} from './record-batch';
import { nullObserver, type StorageObserver } from './observer';
import { Topic } from './topic';

export interface PartitionInfo {
  partition: number;
  startOffset: number;
  endOffset: number;
  sizeBytes: number;
  segmentCount: number;
}

export interface TopicInfo {
  name: string;
  partitions: number;
  messageCount: number;
  sizeBytes: number;
  createdAt: string;
  partitionDetails: PartitionInfo[];
}

export interface ProduceResult {
  partition: number;
  baseOffset: number;
  count: number;
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

export type SeekTarget = number | 'beginning' | 'end';

export class Broker {
  private readonly topics = new Map<string, Topic>();
  private readonly creating = new Map<string, Promise<Topic>>();
  private readonly handles: HandleCache;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(
    readonly config: EngineConfig,
    readonly observer: StorageObserver,
  ) {
    this.handles = new HandleCache(config.maxOpenSegments);
  }

  private get topicsDir(): string {
    return join(this.config.dataDir, 'topics');
  }

  private get trashDir(): string {
    return join(this.config.dataDir, 'trash');
  }

  /** Opens every topic under DATA_DIR, recovering each partition's tail. O(topics × segments). */
  static open(config: EngineConfig, observer: StorageObserver = nullObserver): Broker {
    const broker = new Broker(config, observer);
    mkdirSync(broker.topicsDir, { recursive: true });
    rmSync(broker.trashDir, { recursive: true, force: true });
    for (const name of readdirSync(broker.topicsDir)) {
      const dir = join(broker.topicsDir, name);
      if (!Topic.exists(dir)) {
        rmSync(dir, { recursive: true, force: true }); // a create that crashed before its metadata landed
        continue;
      }
      broker.topics.set(name, Topic.open(dir, config, broker.handles));
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
    if (this.config.retentionMs > 0 || this.config.retentionBytes > 0) {
      const t = setInterval(() => void this.enforceRetention().catch(() => undefined), this.config.retentionCheckMs);
      t.unref();
      this.timers.push(t);
    }
  }

  async syncAll(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) await p.syncIfDirty();
      await topic.cursors.syncIfDirty();
    }
  }

  async enforceRetention(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) removed += await p.enforceRetention(now);
    }
    return removed;
  }

  get openFileCount(): number {
    return this.handles.openCount;
  }

  // ---- topics -------------------------------------------------------------------------------------

  /** Creates a topic; creating one that exists is a no-op answering `created: false`. */
  async createTopic(name: string, partitions = 1): Promise<{ created: boolean; topic: TopicInfo }> {
    assertTopicName(name);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
      throw new StorageError('INVALID_NAME', 'partitions must be an integer from 1 to 1024');
    }
    const existing = this.topics.get(name) ?? (await this.creating.get(name));
    if (existing) return { created: false, topic: this.describe(existing) };
    const topic = await this.createOnce(name, partitions);
    return { created: true, topic: this.describe(topic) };
  }

  private createOnce(name: string, partitions: number): Promise<Topic> {
    let pending = this.creating.get(name);
    if (!pending) {
      const created = (async () => {
        this.assertOpen();
        const topic = Topic.create(
          join(this.topicsDir, name),
          { name, partitions, createdAt: new Date().toISOString() },
          this.config,
          this.handles,
        );
        this.topics.set(name, topic);
        return topic;
      })();
      // Cleared once settled, not in a `finally` inside the body: the body never awaits, so that would run
      // before the set below and leave the entry (and a deleted topic) behind for good.
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
    await topic.close();
    // Rename first so the name is free at once and a crash mid-delete cannot leave a half topic behind.
    mkdirSync(this.trashDir, { recursive: true });
    const trashed = join(this.trashDir, `${name}.${Date.now()}`);
    renameSync(topic.dir, trashed);
    await rm(trashed, { recursive: true, force: true });
  }

  listTopics(): TopicInfo[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name)).map((t) => this.describe(t));
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
   * Appends records to one partition as one unit; resolves once they are durable (per FSYNC) with the
   * first offset. All records are validated before anything is queued: bad input never reaches the log.
   */
  async produce(
    topicName: string,
    records: ProducerRecord[],
    options: { partition?: number; autoCreate: boolean },
  ): Promise<ProduceResult> {
    this.assertOpen();
    assertTopicName(topicName);
    if (records.length === 0) throw new StorageError('INVALID_NAME', 'A produce needs at least one message');
    if (records.length > this.config.maxBatchMessages) {
      throw new StorageError('BATCH_TOO_LARGE', `At most ${this.config.maxBatchMessages} messages per request`);
    }
    const now = Date.now();
    const prepared: PreparedRecord[] = new Array(records.length);
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = prepareRecord(records[i], now);
      if (r.valueBytes + (r.key?.length ?? 0) > this.config.maxMessageBytes) {
        throw new StorageError(
          'MESSAGE_TOO_LARGE',
          `Message ${records.length > 1 ? `#${i} ` : ''}is ${r.valueBytes} bytes; the limit is ${this.config.maxMessageBytes} (MAX_MESSAGE_BYTES)`,
        );
      }
      if (r.headers && (r.headers.length > MAX_HEADERS || r.headers.some(([name]) => name.length > MAX_HEADER_NAME_BYTES))) {
        // Caught here, not by the writer: an encode that throws mid-flush would leave its produce unanswered.
        throw new StorageError(
          'MESSAGE_TOO_LARGE',
          `Message ${records.length > 1 ? `#${i} ` : ''}has headers the format cannot hold: at most ${MAX_HEADERS} headers, names of at most ${MAX_HEADER_NAME_BYTES} bytes`,
        );
      }
      prepared[i] = r;
      bytes += r.size;
    }
    let topic = this.topics.get(topicName);
    if (!topic) {
      if (!options.autoCreate) throw topicNotFound(topicName);
      topic = await this.createOnce(topicName, 1);
    }
    const partition = options.partition ?? 0;
    const log = this.partitionOf(topic, partition);
    try {
      const baseOffset = await log.append(prepared, bytes);
      return { partition, baseOffset, count: prepared.length };
    } catch (err) {
      throw topic.deleted ? topicNotFound(topicName) : err;
    }
  }

  /** Reads from an offset without touching any cursor. */
  async fetch(topicName: string, partition: number, offset: number, max: number, maxBytes: number): Promise<StoredRecord[]> {
    const log = this.partitionOf(this.getTopic(topicName), partition);
    return log.read(offset, max, maxBytes);
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
    const cursor = topic.cursors.get(consumerId, partition) ?? log.startOffset;
    return log.read(Math.max(cursor, log.startOffset), max, maxBytes);
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
    const offset = Math.max(stored ?? log.startOffset, log.startOffset);
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

  /** Finishes queued writes, fsyncs and closes every file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.topics.values()].map((t) => t.close()));
  }
}
