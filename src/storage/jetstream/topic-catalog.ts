// Topics on JetStream: their metadata in a KV bucket (MK_TOPICS: name, partitions, createdAt, retention,
// incarnation), their partitions as streams, and a watch-fed local copy every broker replica shares.
//
// Create: the streams first, the metadata last with a create-if-absent (the metadata marks the topic
// complete, as topic.json does on disk); when two replicas race, one create wins and the other answers
// "exists" and deletes the streams it made. Delete: the metadata first (the topic is gone at once for every
// replica), then the streams and the cursors. Each create gets a fresh incarnation in its stream names, so
// a topic created again never inherits what a failed delete left behind.
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager, type KV, type KvEntry, type NatsConnection, type StreamConfig } from 'nats';
import type { TopicRetention } from '../broker';
import type { EngineConfig } from '../engine-config';
import { StorageError, topicNotFound } from '../errors';
import { newIncarnation, topicKey, TopicNames } from './names';
import { PartitionState } from './partition-state';
import { apiErrorCode, JS_ERR, withRetry } from './retry';

export interface JsTopicMeta extends TopicRetention {
  name: string;
  partitions: number;
  createdAt: string;
  incarnation: string;
}

export interface CatalogSettings {
  prefix: string;
  replicas: number;
  duplicateWindowMs: number;
  failoverTimeoutMs: number;
  engine: EngineConfig;
}

export class JsTopic {
  deleted = false;
  private nextPartition = 0;

  constructor(
    public meta: JsTopicMeta,
    public revision: number,
    readonly names: TopicNames,
    readonly partitions: PartitionState[],
  ) {}

  get name(): string {
    return this.meta.name;
  }

  /** Round-robin start for unkeyed produces and whole-topic polls. */
  rotatePartition(): number {
    const p = this.nextPartition % this.partitions.length;
    this.nextPartition = p + 1;
    return p;
  }
}

export class TopicCatalog {
  readonly topics = new Map<string, JsTopic>();
  private readonly creating = new Map<string, Promise<{ created: boolean; topic: JsTopic }>>();

  constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly settings: CatalogSettings,
  ) {}

  /** A put or delete seen by the watch (any replica's create, growth or delete). */
  apply(entry: KvEntry): void {
    if (entry.operation !== 'PUT') {
      for (const topic of this.topics.values()) {
        if (topicKey(topic.name) === entry.key && topic.revision < entry.revision) this.forget(topic);
      }
      return;
    }
    const meta = JSON.parse(entry.string()) as JsTopicMeta;
    this.adopt(meta, entry.revision);
  }

  /** Brings the local copy to `meta` (new topic, new incarnation, or more partitions). */
  private adopt(meta: JsTopicMeta, revision: number): JsTopic {
    const known = this.topics.get(meta.name);
    if (known && known.revision >= revision) return known;
    if (known && known.meta.incarnation === meta.incarnation) {
      known.meta = meta;
      known.revision = revision;
      this.addPartitions(known, meta.partitions);
      return known;
    }
    if (known) this.forget(known);
    const topic = new JsTopic(meta, revision, new TopicNames(this.settings.prefix, meta.name, meta.incarnation), []);
    this.addPartitions(topic, meta.partitions);
    this.topics.set(meta.name, topic);
    for (const p of topic.partitions) p.refreshFromLeader().catch(() => undefined);
    return topic;
  }

  private addPartitions(topic: JsTopic, count: number): void {
    for (let p = topic.partitions.length; p < count; p++) {
      topic.partitions.push(new PartitionState(p, topic.names.stream(p), topic.names.subject(p), this.nc, this.jsm));
    }
  }

  private forget(topic: JsTopic): void {
    topic.deleted = true;
    for (const p of topic.partitions) p.stopWaiting();
    if (this.topics.get(topic.name) === topic) this.topics.delete(topic.name);
  }

  /** The topic from the local copy, else from the bucket (created by another replica a moment ago). */
  async lookup(name: string): Promise<JsTopic | undefined> {
    const known = this.topics.get(name);
    if (known) return known;
    const entry = await withRetry('Reading topic metadata', this.settings.failoverTimeoutMs, () => this.kv.get(topicKey(name)));
    if (!entry || entry.operation !== 'PUT') return undefined;
    const topic = this.adopt(JSON.parse(entry.string()) as JsTopicMeta, entry.revision);
    await Promise.all(topic.partitions.map((p) => p.refreshFromLeader().catch(() => undefined)));
    return topic;
  }

  /** The topic as the bucket's leader has it now (created, grown or deleted by another replica a moment ago). */
  async lookupFresh(name: string): Promise<JsTopic | undefined> {
    const entry = await withRetry('Reading topic metadata', this.settings.failoverTimeoutMs, () => this.kv.get(topicKey(name)));
    if (!entry) return this.topics.get(name);
    if (entry.operation !== 'PUT') {
      this.apply(entry);
      return undefined;
    }
    const topic = this.adopt(JSON.parse(entry.string()) as JsTopicMeta, entry.revision);
    await Promise.all(topic.partitions.map((p) => (p.refreshedAt === 0 ? p.refreshFromLeader().catch(() => undefined) : undefined)));
    return topic;
  }

  /** Creates the topic unless it exists; concurrent calls in this process share one attempt. */
  create(name: string, partitions: number, retention: TopicRetention): Promise<{ created: boolean; topic: JsTopic }> {
    let pending = this.creating.get(name);
    if (!pending) {
      pending = this.createOnce(name, partitions, retention);
      this.creating.set(name, pending);
      const clear = () => this.creating.get(name) === pending && this.creating.delete(name);
      pending.then(clear, clear);
    }
    return pending;
  }

  private async createOnce(name: string, partitions: number, retention: TopicRetention): Promise<{ created: boolean; topic: JsTopic }> {
    const existing = await this.lookup(name);
    if (existing) return { created: false, topic: existing };
    const meta: JsTopicMeta = {
      name,
      partitions,
      createdAt: new Date().toISOString(),
      ...(retention.retentionMs !== undefined ? { retentionMs: retention.retentionMs } : {}),
      ...(retention.retentionBytes !== undefined ? { retentionBytes: retention.retentionBytes } : {}),
      incarnation: newIncarnation(),
    };
    const names = new TopicNames(this.settings.prefix, name, meta.incarnation);
    for (let p = 0; p < partitions; p++) await this.addStream(names, p, meta);
    try {
      const revision = await withRetry('Creating topic metadata', this.settings.failoverTimeoutMs, () => this.kv.create(topicKey(name), JSON.stringify(meta)));
      return { created: true, topic: this.adopt(meta, revision) };
    } catch (err) {
      if (apiErrorCode(err) !== JS_ERR.wrongLastSequence) throw err;
      // Another replica created it first: its topic stands, these streams go.
      await this.deleteStreams(names, partitions);
      const winner = await this.lookup(name);
      if (!winner) throw new StorageError('STORAGE_UNAVAILABLE', `Topic '${name}' is being created and deleted concurrently; retry`, 1);
      return { created: false, topic: winner };
    }
  }

  /** Adds partitions: streams first, then the metadata with compare-and-set (partitions never shrink). */
  async grow(topic: JsTopic, partitions: number): Promise<JsTopic> {
    for (;;) {
      if (partitions < topic.partitions.length) {
        throw new StorageError('TOPIC_EXISTS', `Topic '${topic.name}' has ${topic.partitions.length} partitions; partitions can grow but never shrink`);
      }
      if (partitions === topic.partitions.length) return topic;
      const meta = { ...topic.meta, partitions };
      for (let p = topic.partitions.length; p < partitions; p++) await this.addStream(topic.names, p, meta);
      try {
        const revision = await withRetry('Updating topic metadata', this.settings.failoverTimeoutMs, () =>
          this.kv.update(topicKey(topic.name), JSON.stringify(meta), topic.revision),
        );
        return this.adopt(meta, revision);
      } catch (err) {
        if (apiErrorCode(err) !== JS_ERR.wrongLastSequence) throw err;
        // Changed meanwhile (another replica grew or deleted it): look again.
        this.topics.delete(topic.name);
        const fresh = await this.lookup(topic.name);
        if (!fresh || fresh.meta.incarnation !== topic.meta.incarnation) throw topicNotFound(topic.name);
        topic = fresh;
      }
    }
  }

  async remove(topic: JsTopic): Promise<void> {
    await withRetry('Deleting topic metadata', this.settings.failoverTimeoutMs, () => this.kv.delete(topicKey(topic.name)));
    this.forget(topic);
    await this.deleteStreams(topic.names, topic.partitions.length);
  }

  private async addStream(names: TopicNames, partition: number, meta: JsTopicMeta): Promise<void> {
    const config = this.streamConfig(names, partition, meta);
    await withRetry('Creating a stream', this.settings.failoverTimeoutMs, async () => {
      try {
        await this.jsm.streams.add(config);
      } catch (err) {
        // Already there (a retried create whose first answer was lost): fine when it is ours.
        if (apiErrorCode(err) !== JS_ERR.streamNameInUse) throw err;
        await this.jsm.streams.info(config.name);
      }
    });
  }

  private async deleteStreams(names: TopicNames, partitions: number): Promise<void> {
    for (let p = 0; p < partitions; p++) {
      await withRetry('Deleting a stream', this.settings.failoverTimeoutMs, async () => {
        try {
          await this.jsm.streams.delete(names.stream(p));
        } catch (err) {
          if (apiErrorCode(err) !== JS_ERR.streamNotFound) throw err;
        }
      }).catch(() => undefined); // an orphan stream of a dead incarnation is garbage, never data anyone reads
    }
  }

  /**
   * One partition's stream: limits retention (records stay until age or size removes the oldest, like
   * segments), file storage replicated NATS_REPLICAS times, message deletes denied (offsets stay dense),
   * and a duplicate window for retried publishes (not longer than the age limit, as JetStream requires).
   */
  streamConfig(names: TopicNames, partition: number, meta: JsTopicMeta): Partial<StreamConfig> & { name: string } {
    const { engine } = this.settings;
    const retentionMs = meta.retentionMs ?? engine.retentionMs;
    const retentionBytes = meta.retentionBytes ?? engine.retentionBytes;
    const duplicateWindowMs = retentionMs > 0 ? Math.min(this.settings.duplicateWindowMs, retentionMs) : this.settings.duplicateWindowMs;
    return {
      name: names.stream(partition),
      description: `mini-kafka topic ${meta.name.slice(0, 200)} partition ${partition}`,
      subjects: [names.subject(partition)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: this.settings.replicas,
      discard: DiscardPolicy.Old,
      max_age: retentionMs > 0 ? nanos(retentionMs) : 0,
      max_bytes: retentionBytes > 0 ? retentionBytes : -1,
      max_msgs: -1,
      duplicate_window: nanos(duplicateWindowMs),
      deny_delete: true,
      allow_direct: false,
    };
  }
}
