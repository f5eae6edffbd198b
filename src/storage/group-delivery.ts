// One open consumer group: hands a topic's messages to its workers under leases (receive with long polling),
// settles them (ack), makes them available again (nack, expiry), renews leases (extend) and dead-letters
// messages past max_deliveries. The state machine is consumer-group.ts; durability is group-store.ts.
//
// Concurrency: receives on one partition are serialized (a per-partition lock around fetch-and-grant), acks,
// nacks and extends are synchronous state changes. Every caller is answered once its records are durable.
import type { StorageDriver } from './storage-driver';
import {
  type AckStatus,
  decodeLeaseId,
  encodeLeaseId,
  type Entry,
  type GroupPartition,
  GroupState,
  keyIdOf,
  type LeaseChangeStatus,
} from './consumer-group';
import { deadLetterRecord, type DeadLetterReason, redrive } from './dead-letters';
import { StorageError } from './errors';
import type { GroupStore } from './group-store';
import type { ProducerRecord, StoredRecord } from './record-batch';

export interface GroupLimits {
  /** Most unsettled messages tracked per group and partition (leased, waiting or settled out of order). */
  maxUnsettled: number;
  maxLeaseMs: number;
  /** Most messages per receive. */
  maxReceive: number;
  /** A receive stops adding messages once their values reach this many bytes (it always returns one). */
  maxReceiveBytes: number;
  maxGroupsPerTopic: number;
  /** Smallest group log worth compacting. */
  minCompactBytes: number;
}

export const DEFAULT_GROUP_LIMITS: GroupLimits = {
  maxUnsettled: 10_000,
  maxLeaseMs: 12 * 3600 * 1000,
  maxReceive: 1000,
  maxReceiveBytes: 4 * 1024 * 1024,
  maxGroupsPerTopic: 1000,
  minCompactBytes: 256 * 1024,
};

export interface Delivery {
  partition: number;
  record: StoredRecord;
  leaseId: string;
  expiresAt: number;
  deliveries: number;
}

export type LeaseStatus = AckStatus | LeaseChangeStatus | 'invalid_lease';

export interface LeaseResult {
  leaseId: string;
  status: LeaseStatus;
  /** The new expiry, for extend. */
  expiresAt?: number;
}

export interface ReceiveOptions {
  max: number;
  waitMs: number;
  leaseMs: number;
  partition?: number;
}

export class ConsumerGroup {
  /** Set when a write failed: memory may be ahead of disk, so the registry reopens the group from its log. */
  failed = false;
  private readonly locks = new Map<number, Promise<void>>();
  private readonly changeWaiters = new Set<() => void>();
  private rotation = 0;

  constructor(
    readonly topic: string,
    readonly name: string,
    readonly state: GroupState,
    readonly store: GroupStore,
    private readonly broker: StorageDriver,
    private readonly limits: GroupLimits,
  ) {}

  get topicCreatedAt(): string {
    return this.state.config.topicCreatedAt;
  }

  get deadLetterTopic(): string {
    return this.state.config.deadLetterTopic ?? `${this.topic}.dlq`;
  }

  /** Appends the records of the changes made so far and resolves once they (and all before them) are durable. */
  persist(): Promise<void> {
    return this.store.append(this.state.drain()).catch((err: unknown) => {
      this.failed = true;
      throw err;
    });
  }

  // ---- receive ----------------------------------------------------------------------------------------

  /** Leases up to `max` messages; with `waitMs`, waits for some to arrive or come due (empty after the wait). */
  async receive(opts: ReceiveOptions, shutdown: { closing: boolean; signal: Promise<void> }): Promise<Delivery[]> {
    const deadline = Date.now() + opts.waitMs;
    for (;;) {
      this.assertUsable();
      const got = await this.receiveOnce(opts);
      if (got.length > 0 || shutdown.closing || Date.now() >= deadline) return got;
      await this.waitForNews(opts.partition, deadline, shutdown.signal);
    }
  }

  private async receiveOnce(opts: ReceiveOptions): Promise<Delivery[]> {
    const out: Delivery[] = [];
    const budget = { bytes: this.limits.maxReceiveBytes };
    for (const p of this.targets(opts.partition)) {
      if (out.length >= opts.max || budget.bytes <= 0) break;
      await this.withLock(p, () => this.receiveFrom(p, opts.max - out.length, opts.leaseMs, budget, out));
    }
    await this.persist();
    return out;
  }

  private async receiveFrom(p: number, max: number, leaseMs: number, budget: { bytes: number }, out: Delivery[]): Promise<void> {
    const st = this.state.partition(p);
    const log = this.broker.describeTopic(this.topic).partitionDetails[p];
    st.clampToLog(log.startOffset, log.endOffset);
    const { maxDeliveries, perKeyOrdering } = this.state.config;
    const dead = st.expire(Date.now(), maxDeliveries);
    // A dead-letter topic that cannot be written leaves the messages waiting; the next receive retries.
    if (dead.length > 0) await this.deadLetter(st, dead, 'expired').catch(() => undefined);
    const before = out.length;
    // Redeliveries first, oldest first.
    for (const offset of st.deliverable(Date.now(), max, perKeyOrdering)) {
      if (budget.bytes <= 0) break;
      const [r] = await this.broker.fetch(this.topic, p, offset, 1, Number.MAX_SAFE_INTEGER);
      // Gone from the log (retention, next clamp settles it), or acked late by its last lease holder meanwhile.
      if (!r || r.offset !== offset || !st.isPending(offset)) continue;
      this.deliver(st, r, leaseMs, budget, out);
    }
    // Then messages never handed out, while the window has room.
    while (out.length - before < max && st.room > 0 && budget.bytes > 0) {
      const records = await this.broker.fetch(this.topic, p, st.next, Math.min(max - (out.length - before), st.room), budget.bytes);
      if (records.length === 0) break;
      for (const r of records) {
        if (r.offset < st.next) continue;
        if (r.offset > st.next) st.clampToLog(r.offset, Number.MAX_SAFE_INTEGER); // retention ran meanwhile
        if (st.room <= 0 || out.length - before >= max) break;
        if (st.admit(r.offset, keyIdOf(r.key), perKeyOrdering)) this.deliver(st, r, leaseMs, budget, out);
      }
    }
  }

  private deliver(st: GroupPartition, r: StoredRecord, leaseMs: number, budget: { bytes: number }, out: Delivery[]): void {
    const e = st.grant(r.offset, Date.now(), leaseMs);
    budget.bytes -= r.value.length;
    out.push({ partition: st.partition, record: r, leaseId: encodeLeaseId(st.partition, r.offset, e.nonce), expiresAt: e.expiresAt, deliveries: e.deliveries });
  }

  /** Partitions a receive looks at: the one asked for, or all of them starting at a rotating one. */
  private targets(partition: number | undefined): number[] {
    const n = this.broker.partitionCount(this.topic);
    if (partition !== undefined) {
      if (partition >= n) throw new StorageError('PARTITION_NOT_FOUND', `Topic '${this.topic}' has no partition ${partition} (it has ${n})`);
      return [partition];
    }
    const first = this.rotation++ % n;
    return Array.from({ length: n }, (_, k) => (first + k) % n);
  }

  /** Sleeps until a target partition grows, a lease expires, a delayed message comes due, a change, or the deadline. */
  private async waitForNews(partition: number | undefined, deadline: number, shutdown: Promise<void>): Promise<void> {
    const now = Date.now();
    const targets = this.targets(partition);
    let until = deadline;
    for (const p of targets) until = Math.min(until, this.state.partition(p).nextWakeAt(now));
    const ms = until - now;
    if (ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    this.changeWaiters.add(wake);
    const waits: Array<Promise<unknown>> = [woken, shutdown];
    for (const p of targets) {
      const st = this.state.partition(p);
      // A full window waits for settlements, not for new messages (which are already there).
      if (st.room > 0) waits.push(this.broker.waitForData(this.topic, p, st.next, ms).catch(() => woken));
    }
    try {
      await Promise.race(waits);
    } finally {
      clearTimeout(timer);
      this.changeWaiters.delete(wake);
    }
  }

  /** Wakes long polls: something became available without the log growing (nack, a key or window freed). */
  private notifyChange(): void {
    for (const wake of this.changeWaiters) wake();
  }

  // ---- settle -----------------------------------------------------------------------------------------

  async ack(leaseIds: string[]): Promise<LeaseResult[]> {
    this.assertUsable();
    const { perKeyOrdering } = this.state.config;
    let wake = false;
    const results = leaseIds.map((leaseId): LeaseResult => {
      const st = this.leasePartition(leaseId);
      if (!st) return { leaseId, status: st === null ? 'invalid_lease' : 'lease_expired' };
      const lease = decodeLeaseId(leaseId)!;
      const keyId = st.entries.get(lease.offset)?.keyId;
      const wasFull = st.room <= 0;
      const status = st.ack(lease.offset, lease.nonce);
      if (status === 'acked' && ((wasFull && st.room > 0) || (perKeyOrdering && st.hasPendingKey(keyId)))) wake = true;
      return { leaseId, status };
    });
    if (wake) this.notifyChange();
    await this.persist();
    return results;
  }

  async nack(leaseIds: string[], delayMs: number): Promise<LeaseResult[]> {
    this.assertUsable();
    const now = Date.now();
    const { maxDeliveries } = this.state.config;
    const dead = new Map<number, Entry[]>();
    const results = leaseIds.map((leaseId): LeaseResult => {
      const st = this.leasePartition(leaseId);
      if (!st) return { leaseId, status: st === null ? 'invalid_lease' : 'lease_expired' };
      const lease = decodeLeaseId(leaseId)!;
      const status = st.nack(lease.offset, lease.nonce, now, delayMs, maxDeliveries);
      if (status === 'dead_lettered') {
        let list = dead.get(st.partition);
        if (!list) dead.set(st.partition, (list = []));
        list.push(st.entries.get(lease.offset)!);
      }
      return { leaseId, status };
    });
    this.notifyChange();
    for (const [p, entries] of dead) {
      await this.withLock(p, () => this.deadLetter(this.state.partition(p), entries, 'nacked'));
    }
    await this.persist();
    return results;
  }

  async extend(leaseIds: string[], leaseMs: number): Promise<LeaseResult[]> {
    this.assertUsable();
    const now = Date.now();
    const results = leaseIds.map((leaseId): LeaseResult => {
      const st = this.leasePartition(leaseId);
      if (!st) return { leaseId, status: st === null ? 'invalid_lease' : 'lease_expired' };
      const lease = decodeLeaseId(leaseId)!;
      return { leaseId, ...st.extend(lease.offset, lease.nonce, now, leaseMs) };
    });
    await this.persist();
    return results;
  }

  /** The partition state a lease id points at; null when the id is malformed, undefined when no such partition. */
  private leasePartition(leaseId: string): GroupPartition | null | undefined {
    const lease = decodeLeaseId(leaseId);
    if (!lease) return null;
    if (lease.partition >= this.broker.partitionCount(this.topic)) return undefined;
    return this.state.partition(lease.partition);
  }

  // ---- dead letters -----------------------------------------------------------------------------------

  /**
   * Writes the messages to the dead-letter topic (created when missing), then settles them. A crash between the
   * two writes may dead-letter a message twice, never lose it. On failure the messages wait to be retried.
   */
  private async deadLetter(st: GroupPartition, entries: Entry[], reason: DeadLetterReason): Promise<void> {
    const records: ProducerRecord[] = [];
    const moved: number[] = [];
    try {
      for (const e of entries) {
        const [r] = await this.broker.fetch(this.topic, st.partition, e.offset, 1, Number.MAX_SAFE_INTEGER);
        if (!r || r.offset !== e.offset) {
          st.settleDeadLettered(e.offset, false); // removed by retention meanwhile: nothing to move
          continue;
        }
        records.push(deadLetterRecord(r, { topic: this.topic, partition: st.partition, group: this.name, reason, deliveries: e.deliveries }));
        moved.push(e.offset);
      }
      const chunk = Math.max(1, this.broker.config.maxBatchMessages);
      for (let i = 0; i < records.length; i += chunk) {
        await this.broker.produce(this.deadLetterTopic, records.slice(i, i + chunk), { autoCreate: true });
        for (const offset of moved.slice(i, i + chunk)) st.settleDeadLettered(offset, true);
      }
    } catch (err) {
      for (const e of entries) st.undoDeadLettering(e.offset);
      throw err;
    }
  }

  /** Moves up to `max` of this group's dead letters back into the topic; see dead-letters.ts. */
  redrive(max: number): Promise<number> {
    this.assertUsable();
    return this.withLock(-1, () => redrive(this.broker, this.topic, this.name, this.deadLetterTopic, max));
  }

  // ---- plumbing ---------------------------------------------------------------------------------------

  private assertUsable(): void {
    if (this.failed || this.store.failed) {
      throw new StorageError('STORAGE_UNAVAILABLE', 'The consumer group could not store its state; retry', 1);
    }
  }

  private async withLock<T>(key: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mine = previous.then(() => gate);
    this.locks.set(key, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === mine) this.locks.delete(key);
    }
  }

  /** Wakes long polls (shutdown) and closes the group's log: queued writes land and are fsynced first. */
  async close(): Promise<void> {
    this.notifyChange();
    await this.store.close();
  }
}
