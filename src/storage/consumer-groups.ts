// The consumer groups of every topic: each opened lazily from its log (DATA_DIR/topics/<topic>/groups/<group>.log),
// reset when its topic was deleted and created again, fsynced and closed on shutdown.
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from './storage-driver';
import { DEFAULT_GROUP_CONFIG, type GroupConfig, GroupState, keyIdOf, type StoredGroupConfig } from './consumer-group';
import { invalidName, StorageError } from './errors';
import { ConsumerGroup, DEFAULT_GROUP_LIMITS, type Delivery, type GroupLimits, type LeaseResult } from './group-delivery';
import { GroupStore } from './group-store';
import { assertTopicName } from './names';

const GROUP_NAME = /^[A-Za-z0-9._:@-]{1,255}$/;
export const GROUP_NAME_RULE = '1-255 characters from [A-Za-z0-9._:@-]';
/** Upper bound of a receive's wait, whatever the caller asks (the HTTP layer bounds it by MAX_WAIT_MS first). */
const MAX_WAIT_MS = 300_000;
const MAX_DELIVERIES_LIMIT = 1000;

/** Group names follow the consumer id rule; they become file names, so nothing else gets through. */
export function assertGroupName(name: string): void {
  if (typeof name !== 'string' || !GROUP_NAME.test(name)) throw invalidName('group name', String(name), GROUP_NAME_RULE);
}

export const groupNotFound = (topic: string, group: string) =>
  new StorageError('GROUP_NOT_FOUND', `Consumer group '${group}' of topic '${topic}' does not exist`);

export type GroupConfigChanges = Partial<GroupConfig>;

export interface GroupPartitionView {
  partition: number;
  /** Lowest unsettled offset: everything below it is acked or dead-lettered. */
  committedOffset: number;
  endOffset: number;
  /** Messages from the committed offset to the log end not yet settled. */
  lag: number;
  inFlight: number;
  /** Messages waiting for redelivery (nacked, expired, delayed or held back behind their key). */
  pending: number;
  deadLettered: number;
}

export interface GroupView {
  topic: string;
  group: string;
  config: GroupConfig & { deadLetterTopic: string };
  createdAt: string;
  partitions: GroupPartitionView[];
}

export interface ReceiveRequest {
  max?: number;
  waitMs?: number;
  leaseMs?: number;
  partition?: number;
}

export class GroupRegistry {
  readonly limits: GroupLimits;
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly opening = new Map<string, Promise<ConsumerGroup>>();
  private readonly shutdown: { closing: boolean; signal: Promise<void> };
  private releaseWaits!: () => void;
  private readonly timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly broker: StorageDriver,
    limits: Partial<GroupLimits> = {},
  ) {
    this.limits = { ...DEFAULT_GROUP_LIMITS, ...limits };
    this.shutdown = { closing: false, signal: new Promise<void>((resolve) => (this.releaseWaits = resolve)) };
    if (broker.config.fsync === 'interval') {
      this.timer = setInterval(() => {
        for (const g of this.groups.values()) void g.store.syncIfDirty().catch(() => undefined);
      }, broker.config.fsyncIntervalMs);
      this.timer.unref();
    }
  }

  // ---- configuration and introspection ----------------------------------------------------------------

  /** Creates the group or changes its settings; durable on return. */
  async configure(topic: string, name: string, given: GroupConfigChanges): Promise<{ created: boolean; view: GroupView }> {
    const changes = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as GroupConfigChanges;
    assertTopicName(topic);
    assertGroupName(name);
    this.checkConfig(topic, { ...DEFAULT_GROUP_CONFIG, ...changes }, false);
    const existed = this.groups.has(this.key(topic, name)) || (await fileExists(this.path(topic, name)));
    const g = await this.group(topic, name, true);
    const config: StoredGroupConfig = { ...g.state.config, ...changes };
    this.checkConfig(topic, config, true);
    g.state.setConfig(config);
    await g.persist();
    return { created: !existed, view: this.view(g) };
  }

  async describe(topic: string, name: string): Promise<GroupView> {
    return this.view(await this.group(topic, name, false));
  }

  /** Every group of a topic (those with a log under the topic's directory). */
  async list(topic: string): Promise<GroupView[]> {
    assertTopicName(topic);
    this.topicCreatedAt(topic);
    let files: string[] = [];
    try {
      files = await readdir(this.groupsDir(topic));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const views: GroupView[] = [];
    for (const file of files.sort()) {
      const name = file.endsWith('.log') ? file.slice(0, -4) : '';
      if (!GROUP_NAME.test(name)) continue;
      try {
        views.push(await this.describe(topic, name));
      } catch (err) {
        if (!(err instanceof StorageError && err.code === 'GROUP_NOT_FOUND')) throw err;
      }
    }
    return views;
  }

  // ---- delivery ---------------------------------------------------------------------------------------

  /** Leases messages to a worker; creates the group with default settings on first use. */
  async receive(topic: string, name: string, req: ReceiveRequest): Promise<Delivery[]> {
    const max = req.max ?? 10;
    const waitMs = req.waitMs ?? 0;
    checkInt('max', max, 1, this.limits.maxReceive);
    checkInt('wait_ms', waitMs, 0, MAX_WAIT_MS);
    if (req.leaseMs !== undefined) checkInt('lease_ms', req.leaseMs, 1, this.limits.maxLeaseMs);
    if (req.partition !== undefined) checkInt('partition', req.partition, 0, 1023);
    const g = await this.group(topic, name, true);
    const leaseMs = req.leaseMs ?? g.state.config.leaseMs;
    return g.receive({ max, waitMs: this.shutdown.closing ? 0 : waitMs, leaseMs, partition: req.partition }, this.shutdown);
  }

  async ack(topic: string, name: string, leaseIds: string[]): Promise<LeaseResult[]> {
    return (await this.group(topic, name, false)).ack(leaseIds);
  }

  async nack(topic: string, name: string, leaseIds: string[], delayMs = 0): Promise<LeaseResult[]> {
    checkInt('delay_ms', delayMs, 0, this.limits.maxLeaseMs);
    return (await this.group(topic, name, false)).nack(leaseIds, delayMs);
  }

  async extend(topic: string, name: string, leaseIds: string[], leaseMs: number): Promise<LeaseResult[]> {
    checkInt('lease_ms', leaseMs, 1, this.limits.maxLeaseMs);
    return (await this.group(topic, name, false)).extend(leaseIds, leaseMs);
  }

  /** Moves up to `max` of the group's dead letters back into the topic; answers how many and from where. */
  async redrive(topic: string, name: string, max: number): Promise<{ redriven: number; deadLetterTopic: string }> {
    checkInt('max', max, 1, 100_000);
    const g = await this.group(topic, name, false);
    return { redriven: await g.redrive(max), deadLetterTopic: g.deadLetterTopic };
  }

  // ---- lifetime -----------------------------------------------------------------------------------------

  /** Shutdown begins: waiting receives answer now with what they have (usually nothing). */
  beginShutdown(): void {
    this.shutdown.closing = true;
    this.releaseWaits();
  }

  /** Lets queued writes land, fsyncs and closes every group's log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.beginShutdown();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.opening.values()]);
    await Promise.all([...this.groups.values()].map((g) => g.close()));
    this.groups.clear();
  }

  // ---- opening ----------------------------------------------------------------------------------------

  private key(topic: string, name: string): string {
    return `${topic}/${name}`;
  }

  private groupsDir(topic: string): string {
    return join(this.broker.config.dataDir, 'topics', topic, 'groups');
  }

  private path(topic: string, name: string): string {
    return join(this.groupsDir(topic), `${name}.log`);
  }

  /** The topic's creation time; a topic that is gone takes its open groups with it. */
  private topicCreatedAt(topic: string): string {
    try {
      return this.broker.describeTopic(topic).createdAt;
    } catch (err) {
      if (err instanceof StorageError && err.code === 'TOPIC_NOT_FOUND') {
        for (const [key, g] of this.groups) {
          if (g.topic !== topic) continue;
          this.groups.delete(key);
          void g.close().catch(() => undefined);
        }
      }
      throw err;
    }
  }

  private async group(topic: string, name: string, create: boolean): Promise<ConsumerGroup> {
    assertTopicName(topic);
    assertGroupName(name);
    if (this.closed) throw new StorageError('CLOSED', 'The broker is shutting down');
    const createdAt = this.topicCreatedAt(topic);
    const key = this.key(topic, name);
    const existing = this.groups.get(key);
    if (existing && !existing.failed && existing.topicCreatedAt === createdAt) return existing;
    let pending = this.opening.get(key);
    if (!pending) {
      const opened = (async () => {
        if (existing) {
          // A failed write (memory ahead of disk) or a recreated topic: start over from the log.
          this.groups.delete(key);
          await existing.close().catch(() => undefined);
        }
        const g = await this.open(topic, name, createdAt, create);
        this.groups.set(key, g);
        return g;
      })();
      const clear = () => {
        if (this.opening.get(key) === opened) this.opening.delete(key);
      };
      opened.then(clear, clear);
      this.opening.set(key, opened);
      pending = opened;
    }
    try {
      return await pending;
    } catch (err) {
      // Joined an open that did not create the group, but this caller may: try again.
      if (create && err instanceof StorageError && err.code === 'GROUP_NOT_FOUND') return this.group(topic, name, true);
      throw err;
    }
  }

  private async open(topic: string, name: string, topicCreatedAt: string, create: boolean): Promise<ConsumerGroup> {
    const path = this.path(topic, name);
    if (!(await fileExists(path))) {
      if (!create) throw groupNotFound(topic, name);
      await this.checkRoomForGroup(topic);
    }
    const { store, records } = await GroupStore.open(path, { fsync: this.broker.config.fsync, minCompactBytes: this.limits.minCompactBytes });
    try {
      let state: GroupState | null = null;
      for (const r of records) {
        if (!state && r.type !== 'config') continue;
        state ??= new GroupState((r as { config: StoredGroupConfig }).config, this.limits.maxUnsettled);
        state.apply(r);
      }
      if (!state) {
        if (!create) throw groupNotFound(topic, name);
        const config: StoredGroupConfig = { ...DEFAULT_GROUP_CONFIG, createdAt: new Date().toISOString(), topicCreatedAt };
        this.checkConfig(topic, config, true);
        state = new GroupState(config, this.limits.maxUnsettled);
        state.setConfig(config);
      } else if (state.config.topicCreatedAt !== topicCreatedAt) {
        // The topic was deleted and created again: same settings, positions start over.
        state = new GroupState({ ...state.config, topicCreatedAt }, this.limits.maxUnsettled);
        await store.rewrite(state.snapshot());
      }
      const s = state;
      store.setSnapshotSource(() => s.snapshot());
      const g = new ConsumerGroup(topic, name, s, store, this.broker, this.limits);
      await this.recover(g);
      await g.persist();
      return g;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** After replay: keeps each window inside its log and looks up the keys of messages whose records were lost. */
  private async recover(g: ConsumerGroup): Promise<void> {
    const info = this.broker.describeTopic(g.topic);
    for (const st of g.state.knownPartitions) {
      const log = info.partitionDetails[st.partition];
      if (!log) continue;
      st.clampToLog(log.startOffset, log.endOffset);
      for (const offset of st.fillGaps()) {
        const [r] = await this.broker.fetch(g.topic, st.partition, offset, 1, 1);
        st.setKey(offset, r && r.offset === offset ? keyIdOf(r.key) : null);
      }
    }
  }

  private async checkRoomForGroup(topic: string): Promise<void> {
    let count = 0;
    try {
      count = (await readdir(this.groupsDir(topic))).filter((f) => f.endsWith('.log')).length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (count >= this.limits.maxGroupsPerTopic) {
      throw new StorageError('TOO_MANY_GROUPS', `Topic '${topic}' already has ${count} consumer groups (the limit is ${this.limits.maxGroupsPerTopic})`);
    }
  }

  private checkConfig(topic: string, c: GroupConfig, resolved: boolean): void {
    checkInt('max_deliveries', c.maxDeliveries, 0, MAX_DELIVERIES_LIMIT);
    checkInt('lease_ms', c.leaseMs, 1, this.limits.maxLeaseMs);
    if (typeof c.perKeyOrdering !== 'boolean') throw new StorageError('INVALID_NAME', 'per_key_ordering must be a boolean');
    if (c.deadLetterTopic !== null && c.deadLetterTopic !== undefined) {
      assertTopicName(c.deadLetterTopic);
      if (c.deadLetterTopic === topic) throw new StorageError('INVALID_NAME', 'dead_letter_topic must not be the topic itself');
    } else if (resolved && c.maxDeliveries > 0) {
      try {
        assertTopicName(`${topic}.dlq`);
      } catch {
        throw new StorageError('INVALID_NAME', `'${topic}.dlq' is too long for a topic name: give the group a dead_letter_topic`);
      }
    }
  }

  private view(g: ConsumerGroup): GroupView {
    const info = this.broker.describeTopic(g.topic);
    const now = Date.now();
    const { createdAt, topicCreatedAt: _t, ...config } = g.state.config;
    return {
      topic: g.topic,
      group: g.name,
      config: { ...config, deadLetterTopic: g.deadLetterTopic },
      createdAt,
      partitions: info.partitionDetails.map((log) => {
        const st = g.state.partition(log.partition);
        st.clampToLog(log.startOffset, log.endOffset);
        return {
          partition: log.partition,
          committedOffset: st.committed,
          endOffset: log.endOffset,
          lag: Math.max(0, log.endOffset - st.committed - st.settled.size),
          inFlight: st.liveLeases(now),
          pending: st.pendingCount,
          deadLettered: st.deadLettered,
        };
      }),
    };
  }
}

function checkInt(what: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new StorageError('INVALID_NAME', `${what} must be an integer from ${min} to ${max}`);
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
