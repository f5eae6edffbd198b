// The JetStream storage driver: the same API as the embedded log (StorageDriver), with the data in a NATS
// JetStream cluster (Raft-replicated streams) instead of local segment files. Plain TypeScript, no Nest.
//
// Mapping
// - topic-partition = one stream `MK_<topic>_<incarnation>_<p>` with the single subject
//   `mk.<topic>.<incarnation>.<p>` (topic escaped to one token, or hashed when long: see names.ts; the
//   incarnation is fresh per create, so a re-created topic never sees a deleted one's leftovers).
// - offset = stream sequence − 1. Sequences are dense from 1 because nothing deletes single messages (the
//   streams deny message deletes); retention (max_age / max_bytes, discard old) only removes from the
//   front, so the log start offset is first_seq − 1 and the end offset is last_seq.
// - record = the value bytes as the message payload; timestamp, encoding, key (base64) and headers (JSON)
//   as NATS headers (record-codec.ts); a Nats-Msg-Id per record for deduplicated retries.
// - cursors = KV bucket MK_CURSORS, key `<topic>.<incarnation>.<p>.<consumer>`, compare-and-set acks.
// - topic metadata = KV bucket MK_TOPICS (partitions, createdAt, retention, incarnation).
// - Idempotency-Key answers = KV bucket MK_IDEMPOTENCY (max age = IDEMPOTENCY_WINDOW_MS) plus message ids
//   derived from the key.
// - long polling = a subscription to the partition's commit notices (`<subject>.end`), which every broker
//   replica publishes after JetStream acked its write (partition-state.ts), while someone waits.
// - replication = NATS_REPLICAS (default 3 when the server is part of a cluster, 1 alone).
//
// Where JetStream differs from the embedded log and how the API's promises are kept
// - Durability: a produce is answered after JetStream's PubAck, i.e. after a Raft quorum stored it (R3: two
//   of three servers). nats-server flushes its files on its own schedule (sync_interval), so the guarantee
//   against one machine's power loss comes from replication rather than from an fsync per produce.
// - Leader elections: while a stream elects a new leader, publishes fail; the driver retries with the same
//   message ids for up to NATS_FAILOVER_TIMEOUT_MS (JetStream's duplicate window makes the retry store
//   nothing twice and answer the original sequence), then answers 503 with Retry-After.
// - Batches: one call's records are consecutive unless another broker replica writes the same partition at
//   that moment or an election cuts the call; each record's offset in the answer is always exact.
// - Read-after-write across broker replicas: every read is bounded by the stream's last sequence from its
//   leader (partition-reader.ts), cursors are read from the bucket's leader, and the synchronous views that
//   must be exact (describe, cursor, group views) are brought up to the leaders first (syncViews). Only the
//   topic list's counts and the consumer list's members and offsets come from the local copy kept by KV
//   watches and stream infos (README says by how much they may lag).
// - Retention removes single messages by age or size rather than whole segments (finer, same promise:
//   offsets below the start are gone, the rest stay dense). segmentCount is reported as 1 (one stream).
import { compareTopicNames, pageTopicNames, type TopicListQuery } from '../topic-list';
import { connect, type JetStreamClient, type JetStreamManager, type KV, type NatsConnection } from 'nats';
import type { CursorView, ProduceResult, RejectedRecord, SeekTarget, TopicInfo, TopicRetention } from '../broker';
import type { EngineConfig } from '../engine-config';
import { offsetOutOfRange, StorageError, topicNotFound } from '../errors';
import { assertConsumerId, assertTopicName } from '../names';
import { nullObserver, type StorageObserver } from '../observer';
import { partitionForKey } from '../partitioner';
import { MAX_HEADER_NAME_BYTES, MAX_HEADERS, prepareRecord, type PreparedRecord, type ProducerRecord, type StoredRecord, type TextValues, textValueRecords } from '../record-batch';
import type { ProduceOptions, StorageDriver } from '../storage-driver';
import { JetStreamCursors } from './cursors';
import { IdempotencyKeys } from './idempotency';
import { KvMirror } from './kv-mirror';
import { noticeSubject, type PartitionState } from './partition-state';
import { Publisher } from './publisher';
import { PartitionReader } from './partition-reader';
import { encodeRecord, type EncodedRecord } from './record-codec';
import { backoffMs, describeNatsError, sleep, withRetry } from './retry';
import { TopicCatalog, type JsTopic } from './topic-catalog';

export interface JetStreamSettings {
  /** Servers to connect to (any subset of the cluster is enough; the client learns the rest). */
  urls: string[];
  /** Stream replicas; null = 3 when the server is part of a cluster, 1 when it runs alone. */
  replicas: number | null;
  /** Prefix of every stream and bucket name (`MK`): several deployments can share one NATS account. */
  prefix: string;
  /** JetStream's per-stream window for deduplicating retried publishes. */
  duplicateWindowMs: number;
  /** How long a request keeps retrying through a leader election or reconnect before answering 503. */
  failoverTimeoutMs: number;
}

/** Publishes and KV writes: an answer can queue behind a big batch's acks. */
const REQUEST_TIMEOUT_MS = 5000;
/** JetStream API requests (stream info, message get): short, so retries through an election come often. */
const API_TIMEOUT_MS = 2000;

export class JetStreamBroker implements StorageDriver {
  private closed = false;
  private draining = false;
  private readonly mirrors: KvMirror[] = [];
  private readonly publisher: Publisher;
  private readonly catalog: TopicCatalog;
  private readonly cursors: JetStreamCursors;
  private readonly idempotency: IdempotencyKeys;
  private readonly reader: PartitionReader;
  private connected = true;
  /** Produce calls not yet answered: close() lets them finish before draining the connection. */
  private readonly producing = new Set<Promise<unknown>>();
  private lastProbe: { at: number; result: Promise<void> } | null = null;

  private constructor(
    readonly config: EngineConfig,
    readonly settings: JetStreamSettings,
    readonly replicas: number,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    js: JetStreamClient,
    buckets: { topics: KV; cursors: KV; idempotency: KV },
    private readonly observer: StorageObserver,
    private readonly log: (message: string) => void,
  ) {
    const retryMs = settings.failoverTimeoutMs;
    this.publisher = new Publisher(js, { failoverTimeoutMs: retryMs, maxInFlightBytes: config.maxInFlightBytes, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    this.catalog = new TopicCatalog(buckets.topics, nc, jsm, {
      prefix: settings.prefix,
      replicas,
      duplicateWindowMs: settings.duplicateWindowMs,
      failoverTimeoutMs: retryMs,
      engine: config,
    });
    this.cursors = new JetStreamCursors(buckets.cursors, retryMs);
    this.idempotency = new IdempotencyKeys(buckets.idempotency, retryMs);
    this.reader = new PartitionReader(jsm, retryMs, () => this.closed);
    this.mirrors.push(new KvMirror(buckets.topics, (e) => this.catalog.apply(e), log), new KvMirror(buckets.cursors, (e) => this.cursors.apply(e), log));
  }

  /**
   * Connects (retrying until NATS_FAILOVER_TIMEOUT_MS: a cluster may still be electing its meta leader),
   * creates the KV buckets if needed and loads topics, partition bounds and cursors before resolving.
   */
  static async connect(
    config: EngineConfig,
    settings: JetStreamSettings,
    observer: StorageObserver = nullObserver,
    log: (message: string) => void = () => undefined,
  ): Promise<JetStreamBroker> {
    const nc = await connectWithin(settings.urls, Math.max(30_000, settings.failoverTimeoutMs));
    try {
      const replicas = settings.replicas ?? (nc.info?.cluster ? 3 : 1);
      const retryMs = settings.failoverTimeoutMs;
      const jsm = await withRetry('Connecting to JetStream', retryMs, () => nc.jetstreamManager({ timeout: API_TIMEOUT_MS }));
      const js = nc.jetstream({ timeout: REQUEST_TIMEOUT_MS });
      const bucket = (name: string, ttl = 0) =>
        withRetry(`Opening KV bucket ${name}`, retryMs, () =>
          js.views.kv(`${settings.prefix}_${name}`, { replicas, history: 1, allow_direct: false, ttl, timeout: REQUEST_TIMEOUT_MS }),
        );
      const buckets = { topics: await bucket('TOPICS'), cursors: await bucket('CURSORS'), idempotency: await bucket('IDEMPOTENCY', config.idempotencyWindowMs) };
      const broker = new JetStreamBroker(config, settings, replicas, nc, jsm, js, buckets, observer, log);
      await broker.load();
      return broker;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  private async load(): Promise<void> {
    void this.watchStatus();
    await Promise.all(this.mirrors.map((m) => m.start(this.settings.failoverTimeoutMs)));
    const partitions = [...this.catalog.topics.values()].flatMap((t) => t.partitions);
    for (let i = 0; i < partitions.length; i += 64) {
      await Promise.all(partitions.slice(i, i + 64).map((p) => withRetry('Reading stream state', this.settings.failoverTimeoutMs, () => p.refreshFromLeader())));
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log(`disconnected from NATS ${String(s.data)}`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log(`reconnected to NATS ${String(s.data)}`);
      }
    }
  }

  /** Readiness: connected, and JetStream answers (cached for a second so probes stay cheap). */
  probe(): Promise<void> {
    const now = Date.now();
    if (this.lastProbe && now - this.lastProbe.at < 1000) return this.lastProbe.result;
    const result = (async () => {
      if (this.closed) throw new Error('closed');
      if (!this.connected || this.nc.isClosed()) throw new Error('not connected to NATS');
      await this.jsm.getAccountInfo();
    })();
    result.catch(() => undefined);
    this.lastProbe = { at: now, result };
    return result;
  }

  /** What readiness reports: the server this replica talks to and the replication factor. */
  describeConnection(): { server: string | undefined; cluster: string | undefined; replicas: number } {
    return { server: this.nc.info?.server_name, cluster: this.nc.info?.cluster, replicas: this.replicas };
  }

  // ---- topics -------------------------------------------------------------------------------------

  async createTopic(name: string, partitions = 1, retention: TopicRetention = {}): Promise<{ created: boolean; topic: TopicInfo }> {
    this.assertOpen();
    assertTopicName(name);
    assertPartitionCount(partitions);
    const { created, topic } = await this.catalog.create(name, partitions, retention);
    return { created, topic: this.describe(topic) };
  }

  async growPartitions(name: string, partitions: number): Promise<TopicInfo> {
    assertPartitionCount(partitions);
    const topic = await this.topicFor(name);
    return this.describe(await this.catalog.grow(topic, partitions));
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = await this.topicFor(name);
    await this.catalog.remove(topic);
    await this.cursors.dropTopic(topic.names);
  }

  listTopics(query: TopicListQuery = {}): TopicInfo[] {
    return this.listTopicNames(query).map((name) => this.describeTopic(name));
  }

  listTopicNames(query: TopicListQuery = {}): string[] {
    return pageTopicNames([...this.catalog.topics.keys()].sort(compareTopicNames), query);
  }

  describeTopic(name: string): TopicInfo {
    return this.describe(this.getTopic(name));
  }

  hasTopic(name: string): boolean {
    return this.catalog.topics.has(name);
  }

  partitionCount(topicName: string): number {
    return this.getTopic(topicName).partitions.length;
  }

  async ensureTopic(topicName: string, autoCreate: boolean): Promise<void> {
    assertTopicName(topicName);
    if (await this.catalog.lookup(topicName)) return;
    if (!autoCreate) throw topicNotFound(topicName);
    await this.catalog.create(topicName, 1, {});
  }

  private describe(topic: JsTopic): TopicInfo {
    let messageCount = 0;
    let sizeBytes = 0;
    for (const p of topic.partitions) {
      p.refreshIfStale();
      messageCount += p.end - p.start;
      sizeBytes += p.bytes;
    }
    return {
      name: topic.name,
      partitions: topic.partitions.length,
      messageCount,
      sizeBytes,
      createdAt: topic.meta.createdAt,
      retentionMs: topic.meta.retentionMs,
      retentionBytes: topic.meta.retentionBytes,
      partitionDetails: topic.partitions.map((p) => ({
        partition: p.index,
        startOffset: p.start,
        endOffset: p.end,
        sizeBytes: p.bytes,
        segmentCount: 1,
      })),
    };
  }

  /** Synchronous callers see the local copy; async ones also find topics another replica just created. */
  private getTopic(name: string): JsTopic {
    assertTopicName(name);
    const topic = this.catalog.topics.get(name);
    if (!topic) throw topicNotFound(name);
    return topic;
  }

  private async topicFor(name: string): Promise<JsTopic> {
    assertTopicName(name);
    const topic = await this.catalog.lookup(name);
    if (!topic) throw topicNotFound(name);
    return topic;
  }

  private partitionOf(topic: JsTopic, partition: number): PartitionState {
    const state = topic.partitions[partition];
    if (!Number.isInteger(partition) || !state) {
      throw new StorageError('PARTITION_NOT_FOUND', `Topic '${topic.name}' has no partition ${partition} (it has ${topic.partitions.length})`);
    }
    return state;
  }

  // ---- produce ------------------------------------------------------------------------------------

  /** Same routing and validation as the embedded Broker; resolves once a quorum stored every record. */
  produce(topicName: string, input: ProducerRecord[] | TextValues, options: ProduceOptions): Promise<ProduceResult> {
    const records = Array.isArray(input) ? input : textValueRecords(input);
    this.assertOpen();
    const { idempotency } = options;
    const work = idempotency
      ? this.ensureTopic(topicName, options.autoCreate)
          .then(() => this.topicFor(topicName))
          .then((topic) =>
          this.idempotency.run(
            topic.names,
            idempotency.key,
            idempotency.fingerprint,
            () => topic.partitions.map((part) => part.end),
            () => this.produceNow(topicName, records, options),
          ),
        )
      : this.produceNow(topicName, records, options);
    this.producing.add(work);
    const done = () => this.producing.delete(work);
    work.then(done, done);
    return work;
  }

  private async produceNow(topicName: string, records: ProducerRecord[], options: ProduceOptions): Promise<ProduceResult> {
    assertTopicName(topicName);
    if (records.length === 0) throw new StorageError('INVALID_NAME', 'A produce needs at least one message');
    if (records.length > this.config.maxBatchMessages) {
      throw new StorageError('BATCH_TOO_LARGE', `At most ${this.config.maxBatchMessages} messages per request (MAX_BATCH_MESSAGES)`);
    }
    const now = Date.now();
    const encoded: Array<{ prepared: PreparedRecord; record: EncodedRecord } | null> = new Array(records.length);
    const rejected: RejectedRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const prepared = prepareRecord(records[i], now);
      const record = encodeRecord(records[i], prepared);
      const problem = this.recordProblem(prepared, record, records.length > 1 ? i : null);
      if (problem) {
        if (!options.partial) throw problem;
        rejected.push({ index: i, code: problem.code, detail: problem.message });
        encoded[i] = null;
      } else encoded[i] = { prepared, record };
    }
    let topic = await this.catalog.lookup(topicName);
    if (!topic) {
      if (!options.autoCreate) throw topicNotFound(topicName);
      topic = (await this.catalog.create(topicName, 1, {})).topic;
    }
    if (options.partition !== undefined) this.partitionOf(topic, options.partition);
    const n = topic.partitions.length;
    const run = this.idempotency.current();
    // An idempotent run routes by its key, so a retry lands where JetStream can recognise its message ids.
    const sticky = options.partition ?? (n === 1 ? 0 : run ? parseInt(run.hash.slice(0, 8), 16) % n : topic.rotatePartition());
    const placement = new Array<number>(records.length).fill(-1);
    const offsets = new Array<number>(records.length).fill(-1);
    const groups = new Map<number, number[]>();
    let valueBytes = 0;
    for (let i = 0; i < encoded.length; i++) {
      const e = encoded[i];
      if (!e) continue;
      valueBytes += e.prepared.valueBytes;
      const p = options.partition === undefined && n > 1 && e.prepared.key ? partitionForKey(e.prepared.key, n) : sticky;
      placement[i] = p;
      let g = groups.get(p);
      if (!g) groups.set(p, (g = []));
      g.push(i);
    }
    const target = topic;
    const started = performance.now();
    try {
      await Promise.all(
        [...groups].map(async ([p, indexes]) => {
          const part = target.partitions[p];
          const ids = run ? indexes.map((i) => `${run.hash}.${p}.${i}`) : this.publisher.newIds(indexes.length);
          // A retry of an attempt that died unanswered: what it published is found in the stream, not sent again.
          const found = run?.earlier ? await this.reader.findPublished(target, part, run.earlier.from[p] ?? 0, run.earlier.at + this.publishHorizonMs(), new Set(ids)) : null;
          const missingAt = found ? indexes.map((_, k) => k).filter((k) => !found.has(ids[k])) : null;
          const missing = missingAt ? missingAt.map((k) => indexes[k]) : indexes;
          const outcome =
            missing.length === 0
              ? { seqs: [], duplicates: 0 }
              : await this.publisher.publish(
                  part,
                  missing.map((i) => encoded[i]!.record),
                  missingAt ? missingAt.map((k) => ids[k]) : ids,
                  () => (target.deleted ? topicNotFound(topicName) : this.closed ? closedError() : null),
                );
          if (run) run.duplicates += outcome.duplicates + (found?.size ?? 0);
          let last = 0;
          for (let k = 0; k < missing.length; k++) {
            offsets[missing[k]] = outcome.seqs[k] - 1;
            last = Math.max(last, outcome.seqs[k]);
          }
          if (found) for (let k = 0; k < indexes.length; k++) if (found.has(ids[k])) offsets[indexes[k]] = found.get(ids[k])!;
          part.observeEnd(last);
          this.announceEnd(part, last);
        }),
      );
    } catch (err) {
      this.observer.onWriteError();
      throw target.deleted ? topicNotFound(topicName) : err;
    }
    this.observer.onFlush({ messages: records.length - rejected.length, bytes: valueBytes, writeMs: performance.now() - started });
    return { placement, offsets, rejected, valueBytes };
  }

  /**
   * Tells every replica waiting on the partition that the stream now reaches `lastSeq` (JetStream acked it, so a
   * quorum stored it): their long polls wake one hop after ours instead of at a poll. Fire-and-forget; a notice
   * lost with a dying connection only delays another replica's wake-up to its safety refresh.
   */
  private announceEnd(part: PartitionState, lastSeq: number): void {
    if (lastSeq <= 0) return;
    try {
      this.nc.publish(noticeSubject(part.subject), String(lastSeq));
    } catch {
      // closed or reconnecting: see above
    }
  }

  /**
   * How long after its intent an attempt can still have published: its publishes are retried for at most
   * NATS_FAILOVER_TIMEOUT_MS, each waiting up to a request timeout; a generous margin covers a slow process.
   */
  private publishHorizonMs(): number {
    return this.settings.failoverTimeoutMs + REQUEST_TIMEOUT_MS + 30_000;
  }

  private recordProblem(r: PreparedRecord, encoded: EncodedRecord, index: number | null): StorageError | null {
    const which = index === null ? 'Message' : `Message #${index}`;
    if (r.valueBytes + (r.key?.length ?? 0) > this.config.maxMessageBytes) {
      return new StorageError('MESSAGE_TOO_LARGE', `${which} is ${r.valueBytes} bytes; the limit is ${this.config.maxMessageBytes} (MAX_MESSAGE_BYTES)`);
    }
    if (r.headers && (r.headers.length > MAX_HEADERS || r.headers.some(([name]) => name.length > MAX_HEADER_NAME_BYTES))) {
      return new StorageError('MESSAGE_TOO_LARGE', `${which} has headers the format cannot hold: at most ${MAX_HEADERS} headers, names of at most ${MAX_HEADER_NAME_BYTES} bytes`);
    }
    const maxPayload = this.nc.info?.max_payload ?? Number.MAX_SAFE_INTEGER;
    if (encoded.wireBytes > maxPayload) {
      return new StorageError('MESSAGE_TOO_LARGE', `${which} with its key and headers is about ${encoded.wireBytes} bytes; the NATS server's max_payload is ${maxPayload}`);
    }
    return null;
  }

  // ---- read ---------------------------------------------------------------------------------------

  /** Reads from an offset without touching any cursor. */
  async fetch(topicName: string, partition: number, offset: number, max: number, maxBytes: number): Promise<StoredRecord[]> {
    const topic = await this.topicFor(topicName);
    return this.reader.readFrom(topic, this.partitionOf(topic, partition), () => offset, max, maxBytes);
  }

  async waitForData(topicName: string, partition: number, offset: number, timeoutMs: number): Promise<boolean> {
    const part = this.partitionOf(await this.topicFor(topicName), partition);
    if (this.draining) return offset < part.end;
    return part.waitForData(offset, timeoutMs);
  }

  /** First offset whose record timestamp is at or after `timestamp` (see PartitionReader.offsetForTimestamp). */
  async offsetForTimestamp(topicName: string, partition: number, timestamp: number): Promise<number> {
    const topic = await this.topicFor(topicName);
    return this.reader.offsetForTimestamp(topic, this.partitionOf(topic, partition), timestamp);
  }

  // ---- consumers ----------------------------------------------------------------------------------

  async poll(topicName: string, consumerId: string, partition = 0): Promise<StoredRecord | null> {
    const records = await this.pollMany(topicName, consumerId, partition, 1, Number.MAX_SAFE_INTEGER);
    return records[0] ?? null;
  }

  /** Reads the cursor from the bucket's leader (not the local copy): a seek or ack on another replica counts at once. */
  async pollMany(topicName: string, consumerId: string, partition: number, max: number, maxBytes: number): Promise<StoredRecord[]> {
    assertConsumerId(consumerId);
    const topic = await this.topicFor(topicName);
    const part = this.partitionOf(topic, partition);
    const stored = await this.cursors.read(topic.names, consumerId, partition);
    return this.reader.readFrom(topic, part, () => Math.min(Math.max(stored ?? part.start, part.start), part.end), max, maxBytes);
  }

  async pollAny(topicName: string, consumerId: string, max: number, maxBytes: number): Promise<{ partition: number; records: StoredRecord[] }> {
    const topic = await this.topicFor(topicName);
    const n = topic.partitions.length;
    const first = n === 1 ? 0 : topic.rotatePartition();
    for (let k = 0; k < n; k++) {
      const p = (first + k) % n;
      const records = await this.pollMany(topicName, consumerId, p, max, maxBytes);
      if (records.length > 0) return { partition: p, records };
    }
    return { partition: first, records: [] };
  }

  async waitForConsumer(topicName: string, consumerId: string, partition: number | undefined, timeoutMs: number): Promise<boolean> {
    const topic = await this.topicFor(topicName);
    const targets = partition === undefined ? topic.partitions.map((_, p) => p) : [partition];
    const waits = targets.map((p) => {
      const part = this.partitionOf(topic, p);
      return this.draining ? Promise.resolve(false) : part.waitForData(this.cursorOffset(topic, part, consumerId), timeoutMs);
    });
    return Promise.race(waits.map((w) => w.then((grew) => (grew ? true : Promise.all(waits).then((all) => all.some(Boolean))))));
  }

  /** The committed cursor as known locally, kept inside [log start, log end]. */
  private cursorOffset(topic: JsTopic, part: PartitionState, consumerId: string): number {
    const stored = this.cursors.get(topic.names, consumerId, part.index);
    return Math.min(Math.max(stored ?? part.start, part.start), part.end);
  }

  /** Commits the cursor past `offset` (compare-and-set: never backwards); an offset never produced is a 409. */
  async ack(topicName: string, consumerId: string, offset: number, partition = 0): Promise<void> {
    this.assertOpen();
    assertConsumerId(consumerId);
    const topic = await this.topicFor(topicName);
    const part = this.partitionOf(topic, partition);
    if (Number.isSafeInteger(offset) && offset >= part.end) await this.reader.refresh(topic, part);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= part.end) {
      throw offsetOutOfRange(
        `Cannot ack offset ${offset} of '${topicName}' partition ${partition}: offsets there run from 0 to ${part.end - 1}` +
          (part.end === 0 ? ' (the partition is empty)' : ''),
      );
    }
    await this.cursors.commitForward(topic.names, consumerId, partition, offset + 1);
  }

  cursor(topicName: string, consumerId: string, partition = 0): CursorView {
    assertConsumerId(consumerId);
    const topic = this.getTopic(topicName);
    const part = this.partitionOf(topic, partition);
    part.refreshIfStale();
    const stored = this.cursors.get(topic.names, consumerId, partition);
    const offset = this.cursorOffset(topic, part, consumerId);
    return {
      consumerId,
      partition,
      offset,
      committed: stored !== undefined,
      logStartOffset: part.start,
      logEndOffset: part.end,
      lag: Math.max(0, part.end - offset),
      resetToLogStart: stored !== undefined && stored < part.start,
    };
  }

  async seek(topicName: string, consumerId: string, target: SeekTarget, partition = 0): Promise<CursorView> {
    this.assertOpen();
    assertConsumerId(consumerId);
    const topic = await this.topicFor(topicName);
    const part = this.partitionOf(topic, partition);
    await this.reader.refresh(topic, part);
    let offset: number;
    if (target === 'beginning') offset = part.start;
    else if (target === 'end') offset = part.end;
    else if (typeof target === 'object') offset = await this.offsetForTimestamp(topicName, partition, target.timestamp);
    else {
      if (!Number.isSafeInteger(target) || target < part.start || target > part.end) {
        throw offsetOutOfRange(`Cannot seek to ${target}: '${topicName}' partition ${partition} holds offsets ${part.start} to ${part.end} (the end)`);
      }
      offset = target;
    }
    await this.cursors.set(topic.names, consumerId, partition, offset);
    return this.cursor(topicName, consumerId, partition);
  }

  consumers(topicName: string): CursorView[] {
    const topic = this.getTopic(topicName);
    return this.cursors
      .all(topic.names)
      .filter((c) => c.partition < topic.partitions.length)
      .map((c) => this.cursor(topicName, c.consumerId, c.partition));
  }

  /**
   * Brings what the synchronous views of a topic show (describe, cursor, consumers, lag) up to the leaders' state
   * now: the topic's metadata, every partition's bounds (or `partition`'s) and, given a consumer, its cursors. A
   * caller about to answer a view awaits this, so it shows every write answered through any replica before.
   */
  async syncViews(topicName: string, consumerId?: string, partition?: number): Promise<void> {
    assertTopicName(topicName);
    if (consumerId !== undefined) assertConsumerId(consumerId);
    const topic = await this.catalog.lookupFresh(topicName);
    if (!topic) throw topicNotFound(topicName);
    const parts = partition === undefined ? topic.partitions : [this.partitionOf(topic, partition)];
    await Promise.all([
      ...parts.map((p) => this.reader.refresh(topic, p)),
      ...(consumerId === undefined ? [] : parts.map((p) => this.cursors.read(topic.names, consumerId, p.index))),
    ]);
  }

  // ---- lifetime -----------------------------------------------------------------------------------

  releaseWaiters(): void {
    this.draining = true;
    for (const topic of this.catalog.topics.values()) for (const p of topic.partitions) p.stopWaiting();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }

  /** Stops the watches and drains the connection (in-flight publishes get their acks first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.releaseWaiters();
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.producing]), new Promise((r) => (timer = setTimeout(r, this.settings.failoverTimeoutMs)))]);
    clearTimeout(timer);
    for (const m of this.mirrors) m.stop();
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/** Connects to any of `urls`, trying again until `deadlineMs` (NATS may start after the broker). */
async function connectWithin(urls: string[], deadlineMs: number): Promise<NatsConnection> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      // noAsyncTraces: a stack captured per request (for timeout errors) was an eighth of the CPU under load.
      return await connect({ servers: urls, name: 'mini-kafka', maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 2000, noAsyncTraces: true });
    } catch (err) {
      if (Date.now() + backoffMs(attempt) > deadline) {
        throw new StorageError('STORAGE_UNAVAILABLE', `Cannot connect to NATS at ${urls.join(',')}: ${describeNatsError(err)}`);
      }
      await sleep(backoffMs(attempt));
    }
  }
}

function closedError(): StorageError {
  return new StorageError('CLOSED', 'The broker is shutting down');
}

function assertPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new StorageError('INVALID_NAME', 'partitions must be an integer from 1 to 1024');
  }
}
