// A consumer group's delivery state for one partition (SQS / Pub/Sub style leases): which offsets are leased,
// waiting for (re)delivery or settled, and the committed position, the lowest unsettled offset.
//
// Pure state, no I/O. Every change pushes the records that make it durable onto an outbox; replaying those
// records (group-store.ts) rebuilds the same state. The last record about an offset describes it completely
// (LEASE, PENDING or SETTLE), so replaying a suffix of the log over a snapshot is harmless.
//
// Window: offsets in [committed, next) are each in exactly one of `entries` (leased / pending / being
// dead-lettered) or `settled`; below `committed` everything is settled; from `next` on nothing was handed out
// yet. The window is bounded (maxUnsettled), which bounds memory and the snapshot whatever the log's size.
// Longer than the house limit on purpose: one state machine, its invariants kept and checked in one place.
import { createHash, randomFillSync } from 'node:crypto';
import { StorageError } from './errors';

export type EntryState = 'leased' | 'pending' | 'dead-lettering';

export interface Entry {
  offset: number;
  state: EntryState;
  /** The current lease's nonce, or the last one's while pending: a late ack is accepted until redelivery. */
  nonce: string;
  expiresAt: number;
  /** How many times the message was handed out. */
  deliveries: number;
  /** A nacked message is not redelivered before this time (ms since the epoch). */
  notBefore: number;
  /** Hash of the message key (per-key ordering), null for unkeyed messages, undefined until known. */
  keyId: string | null | undefined;
}

export type SettleKind = 'acked' | 'dead-lettered';

export type GroupRecord =
  | { type: 'config'; config: StoredGroupConfig }
  | { type: 'position'; partition: number; committed: number; next: number; deadLettered: number }
  | { type: 'lease'; partition: number; offset: number; nonce: string; expiresAt: number; deliveries: number; keyId: string | null }
  | { type: 'pending'; partition: number; offset: number; nonce: string; notBefore: number; deliveries: number; keyId: string | null }
  | { type: 'settle'; partition: number; offset: number; nonce: string; kind: SettleKind };

export interface GroupConfig {
  /** Deliveries before a message is dead-lettered; 0 = unlimited. */
  maxDeliveries: number;
  perKeyOrdering: boolean;
  /** null = `{topic}.dlq`. */
  deadLetterTopic: string | null;
  /** Lease length when a receive does not give one. */
  leaseMs: number;
}

export interface StoredGroupConfig extends GroupConfig {
  createdAt: string;
  /** The topic's creation time when the group was made: a deleted-and-recreated topic resets the group. */
  topicCreatedAt: string;
}

export const DEFAULT_GROUP_CONFIG: GroupConfig = { maxDeliveries: 5, perKeyOrdering: false, deadLetterTopic: null, leaseMs: 30_000 };

export type AckStatus = 'acked' | 'already_acked' | 'lease_expired';
export type LeaseChangeStatus = 'ok' | 'dead_lettered' | 'lease_expired';

export const NO_NONCE = '0000000000000000';
/** Settled offsets remembered below the committed position, per group partition. */
const RECENTLY_SETTLED = 4096;

/** A nonce per lease: 8 random bytes in hex, drawn from a refilled pool (one syscall per 512 leases). */
const noncePool = Buffer.alloc(4096);
let noncePos = noncePool.length;
export function newNonce(): string {
  if (noncePos + 8 > noncePool.length) {
    randomFillSync(noncePool);
    noncePos = 0;
  }
  const nonce = noncePool.toString('hex', noncePos, noncePos + 8);
  noncePos += 8;
  return nonce === NO_NONCE ? newNonce() : nonce;
}

/** Per-key ordering compares keys by a fixed-size hash: records stay small; a collision only over-blocks. */
export function keyIdOf(key: Buffer | null): string | null {
  return key ? createHash('sha256').update(key).digest('base64').slice(0, 16) : null;
}

// Lease id: base64url of version u8 | partition u32 | offset u64 | nonce 8 bytes. Opaque to clients; it says
// which message it is for, and the nonce tells this delivery from any redelivery of the same message.
const LEASE_ID_BYTES = 21;

export function encodeLeaseId(partition: number, offset: number, nonce: string): string {
  const b = Buffer.allocUnsafe(LEASE_ID_BYTES);
  b.writeUInt8(1, 0);
  b.writeUInt32BE(partition, 1);
  b.writeBigUInt64BE(BigInt(offset), 5);
  b.write(nonce, 13, 8, 'hex');
  return b.toString('base64url');
}

export function decodeLeaseId(id: string): { partition: number; offset: number; nonce: string } | null {
  if (typeof id !== 'string' || id.length !== 28 || !/^[A-Za-z0-9_-]+$/.test(id)) return null;
  const b = Buffer.from(id, 'base64url');
  if (b.length !== LEASE_ID_BYTES || b[0] !== 1) return null;
  const offset = b.readBigUInt64BE(5);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { partition: b.readUInt32BE(1), offset: Number(offset), nonce: b.toString('hex', 13, 21) };
}

export class GroupPartition {
  committed = 0;
  next = 0;
  /** Messages this group moved to its dead-letter topic from this partition. */
  deadLettered = 0;
  readonly entries = new Map<number, Entry>();
  /** Settled offsets above `committed`, with the nonce of the lease that settled them (NO_NONCE: dead-lettered). */
  readonly settled = new Map<number, string>();
  /** The same for the latest offsets the committed position passed (bounded, memory only): a stale lease gets told. */
  private readonly recentlySettled = new Map<number, string>();
  /** Offsets of pending entries, ascending: redelivery goes oldest first. */
  private pending: number[] = [];
  /** Keys with a message leased or being dead-lettered, and keys with a message waiting (per-key ordering). */
  private readonly busyKeys = new Map<string, number>();
  private readonly pendingKeys = new Map<string, number>();
  private leased = 0;
  /** No lease expires before this: lets the expiry sweep skip its scan. */
  private earliestExpiry = Infinity;

  constructor(
    readonly partition: number,
    private readonly maxUnsettled: number,
    private readonly outbox: GroupRecord[],
  ) {}

  /** Room left in the window for messages not yet handed out. */
  get room(): number {
    return this.maxUnsettled - (this.next - this.committed);
  }

  get inFlight(): number {
    return this.leased;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  // ---- transitions ------------------------------------------------------------------------------------

  /** Takes the message at `next` into the window; false when per-key ordering holds it back behind its key. */
  admit(offset: number, keyId: string | null, perKey: boolean): boolean {
    assert(offset === this.next && this.room > 0, `admit ${offset} at next ${this.next}, room ${this.room}`);
    this.next = offset + 1;
    const blocked = perKey && keyId !== null && (this.busyKeys.has(keyId) || this.pendingKeys.has(keyId));
    const e: Entry = { offset, state: 'pending', nonce: NO_NONCE, expiresAt: 0, deliveries: 0, notBefore: 0, keyId };
    this.entries.set(offset, e);
    this.addPending(e);
    // A held-back message is recorded with its key so a restart knows what it waits for.
    if (blocked) this.outbox.push(this.pendingRecord(e));
    return !blocked;
  }

  /** Pending offsets that may be handed out now, oldest first, at most `max`. */
  deliverable(now: number, max: number, perKey: boolean): number[] {
    const out: number[] = [];
    const seenKeys = perKey ? new Set<string>() : null;
    for (const offset of this.pending) {
      if (out.length >= max) break;
      const e = this.entries.get(offset)!;
      let blocked = e.notBefore > now;
      if (seenKeys && e.keyId) {
        // An older message of the same key waits (delayed) or is in flight: this one waits behind it.
        blocked ||= this.busyKeys.has(e.keyId) || seenKeys.has(e.keyId);
        seenKeys.add(e.keyId);
      }
      if (!blocked) out.push(offset);
    }
    return out;
  }

  isPending(offset: number): boolean {
    return this.entries.get(offset)?.state === 'pending';
  }

  grant(offset: number, now: number, leaseMs: number): Entry {
    const e = this.entries.get(offset);
    assert(e?.state === 'pending', `grant of ${offset} in state ${e?.state}`);
    this.removePending(e);
    e.deliveries++;
    e.nonce = newNonce();
    e.notBefore = 0;
    this.setLeased(e, now + leaseMs);
    this.outbox.push(this.leaseRecord(e));
    return e;
  }

  /**
   * Expired leases go back to pending, or to the dead-letter topic once they used up maxDeliveries (as do
   * pending messages over the limit whose dead-lettering failed before). Returns the entries to dead-letter.
   */
  expire(now: number, maxDeliveries: number): Entry[] {
    const dead: Entry[] = [];
    if (now >= this.earliestExpiry) {
      let earliest = Infinity;
      for (const e of this.entries.values()) {
        if (e.state !== 'leased') continue;
        if (e.expiresAt > now) {
          earliest = Math.min(earliest, e.expiresAt);
          continue;
        }
        if (maxDeliveries > 0 && e.deliveries >= maxDeliveries) {
          this.setState(e, 'dead-lettering');
          dead.push(e);
        } else {
          this.unsetLeased(e);
          this.addPending(e);
        }
      }
      this.earliestExpiry = earliest;
    }
    if (maxDeliveries > 0) {
      // Rare: a dead-lettering that failed, or max_deliveries lowered. Collected first, then moved.
      const over = this.pending.filter((offset) => this.entries.get(offset)!.deliveries >= maxDeliveries);
      for (const offset of over) {
        const e = this.entries.get(offset)!;
        this.removePending(e);
        this.setBusy(e);
        e.state = 'dead-lettering';
        dead.push(e);
      }
    }
    return dead.sort((a, b) => a.offset - b.offset);
  }

  ack(offset: number, nonce: string): AckStatus {
    if (nonce === NO_NONCE) return 'lease_expired';
    if (offset < this.committed) {
      // Older than what is remembered: assume a retried ack (acks are idempotent).
      const by = this.recentlySettled.get(offset);
      return by === undefined || by === nonce ? 'already_acked' : 'lease_expired';
    }
    const settledBy = this.settled.get(offset);
    if (settledBy !== undefined) return settledBy === nonce ? 'already_acked' : 'lease_expired';
    const e = this.entries.get(offset);
    // A lease past its expiry may still ack as long as the message was not handed to anyone else.
    if (!e || nonce === NO_NONCE || e.nonce !== nonce || e.state === 'dead-lettering') return 'lease_expired';
    this.settle(e, nonce, 'acked');
    return 'acked';
  }

  /** Makes a leased message available again after `delayMs`; 'dead_lettered' means the caller must move it. */
  nack(offset: number, nonce: string, now: number, delayMs: number, maxDeliveries: number): LeaseChangeStatus {
    const e = this.entries.get(offset);
    if (!e || nonce === NO_NONCE || e.nonce !== nonce || e.state === 'dead-lettering') return 'lease_expired';
    if (maxDeliveries > 0 && e.deliveries >= maxDeliveries) {
      if (e.state === 'pending') {
        this.removePending(e);
        this.setBusy(e);
      }
      this.setState(e, 'dead-lettering');
      return 'dead_lettered';
    }
    if (e.state === 'leased') {
      this.unsetLeased(e);
      this.addPending(e);
    }
    e.notBefore = delayMs > 0 ? now + delayMs : 0;
    this.outbox.push(this.pendingRecord(e));
    return 'ok';
  }

  /** Renews a live lease to `now + leaseMs`; a lease that already expired cannot be extended. */
  extend(offset: number, nonce: string, now: number, leaseMs: number): { status: LeaseChangeStatus; expiresAt?: number } {
    const e = this.entries.get(offset);
    if (!e || e.nonce !== nonce || e.state !== 'leased' || e.expiresAt <= now) return { status: 'lease_expired' };
    e.expiresAt = now + leaseMs;
    this.outbox.push(this.leaseRecord(e));
    return { status: 'ok', expiresAt: e.expiresAt };
  }

  /** The message is in the dead-letter topic (`moved`) or gone from the log (retention): settled either way. */
  settleDeadLettered(offset: number, moved: boolean): void {
    const e = this.entries.get(offset);
    if (e?.state !== 'dead-lettering') return; // forgotten meanwhile (retention removed it from the log)
    this.settle(e, NO_NONCE, moved ? 'dead-lettered' : 'acked');
  }

  /** Dead-lettering failed (the DLQ topic is unwritable): the message waits in pending to be retried. */
  undoDeadLettering(offset: number): void {
    const e = this.entries.get(offset);
    if (e?.state !== 'dead-lettering') return;
    this.unsetBusy(e);
    this.addPending(e);
  }

  /**
   * Keeps the window inside the log: retention may delete messages the group never settled (they are skipped),
   * and an unsynced log (FSYNC=never) may come back shorter after a crash (its lost offsets are forgotten).
   */
  clampToLog(startOffset: number, endOffset: number): void {
    if (this.next > endOffset) {
      for (const offset of [...this.entries.keys()]) if (offset >= endOffset) this.forget(offset);
      for (const offset of [...this.settled.keys()]) if (offset >= endOffset) this.settled.delete(offset);
      for (const offset of [...this.recentlySettled.keys()]) if (offset >= endOffset) this.recentlySettled.delete(offset);
      this.next = endOffset;
      this.committed = Math.min(this.committed, endOffset);
    }
    if (this.committed < startOffset) {
      for (const offset of [...this.entries.keys()]) if (offset < startOffset) this.forget(offset);
      for (const offset of [...this.settled.keys()]) if (offset < startOffset) this.settled.delete(offset);
      this.committed = startOffset;
      this.next = Math.max(this.next, startOffset);
      this.advanceCommitted();
    }
  }

  /** Offsets in the window with no state (records lost under FSYNC=never): pending, keys to be looked up. */
  fillGaps(): number[] {
    const gaps: number[] = [];
    for (let offset = this.committed; offset < this.next; offset++) {
      if (this.entries.has(offset) || this.settled.has(offset)) continue;
      const e: Entry = { offset, state: 'pending', nonce: NO_NONCE, expiresAt: 0, deliveries: 0, notBefore: 0, keyId: undefined };
      this.entries.set(offset, e);
      this.addPending(e);
      gaps.push(offset);
    }
    return gaps;
  }

  setKey(offset: number, keyId: string | null): void {
    const e = this.entries.get(offset);
    if (!e || e.keyId !== undefined) return;
    e.keyId = keyId;
    if (keyId && e.state === 'pending') increment(this.pendingKeys, keyId);
  }

  /** Whether a waiting message of this key became free to go (per-key ordering): wake waiting receivers. */
  hasPendingKey(keyId: string | null | undefined): boolean {
    return !!keyId && this.pendingKeys.has(keyId);
  }

  /** When the next lease expires or delayed message comes due (for long polls); Infinity when none. */
  nextWakeAt(now: number): number {
    let wake = this.earliestExpiry;
    for (const offset of this.pending) {
      const e = this.entries.get(offset)!;
      if (e.notBefore > now) wake = Math.min(wake, e.notBefore);
    }
    return Math.max(wake, now);
  }

  /** Leases not yet expired (an expired one is counted out before the sweep hands its message out again). */
  liveLeases(now: number): number {
    if (now < this.earliestExpiry) return this.leased;
    let n = 0;
    for (const e of this.entries.values()) if (e.state === 'leased' && e.expiresAt > now) n++;
    return n;
  }

  // ---- replay and snapshot ----------------------------------------------------------------------------

  apply(r: GroupRecord): void {
    if (r.type === 'position') {
      for (const offset of [...this.entries.keys()]) this.forget(offset);
      this.settled.clear();
      this.recentlySettled.clear();
      this.committed = r.committed;
      this.next = Math.max(r.next, r.committed);
      this.deadLettered = r.deadLettered;
      return;
    }
    if (r.type === 'config') return;
    if (r.offset < this.committed || this.settled.has(r.offset)) return;
    this.next = Math.max(this.next, r.offset + 1);
    let e = this.entries.get(r.offset);
    if (r.type === 'settle') {
      if (e) this.settle(e, r.nonce, r.kind, false);
      else {
        this.settled.set(r.offset, r.nonce);
        if (r.kind === 'dead-lettered') this.deadLettered++;
        this.advanceCommitted();
      }
      return;
    }
    if (e) this.forget(r.offset);
    e = { offset: r.offset, state: 'pending', nonce: r.nonce, expiresAt: 0, deliveries: r.deliveries, notBefore: 0, keyId: r.keyId };
    this.entries.set(r.offset, e);
    if (r.type === 'lease') this.setLeased(e, r.expiresAt);
    else {
      e.notBefore = r.notBefore;
      this.addPending(e);
    }
  }

  snapshot(out: GroupRecord[]): void {
    out.push({ type: 'position', partition: this.partition, committed: this.committed, next: this.next, deadLettered: this.deadLettered });
    for (const e of this.entries.values()) {
      // Being dead-lettered is not durable: after a restart the message is retried from pending.
      out.push(e.state === 'leased' ? this.leaseRecord(e) : this.pendingRecord(e));
    }
    for (const [offset, nonce] of this.settled) out.push({ type: 'settle', partition: this.partition, offset, nonce, kind: 'acked' });
  }

  /** Checks the window's invariants (tests and debugging): every offset in it has exactly one state. */
  checkInvariants(): void {
    assert(this.committed <= this.next, 'committed <= next');
    assert(this.next - this.committed <= this.maxUnsettled, 'window bounded');
    assert(!this.settled.has(this.committed), 'committed is the lowest unsettled offset');
    for (let o = this.committed; o < this.next; o++) assert(this.entries.has(o) !== this.settled.has(o), `offset ${o} has one state`);
    assert(this.entries.size + this.settled.size === this.next - this.committed, 'no state outside the window');
    let leased = 0;
    for (const e of this.entries.values()) if (e.state === 'leased') leased++;
    assert(leased === this.leased, 'lease count');
    assert(this.pending.length === [...this.entries.values()].filter((e) => e.state === 'pending').length, 'pending list');
  }

  // ---- internals --------------------------------------------------------------------------------------

  private settle(e: Entry, nonce: string, kind: SettleKind, record = true): void {
    if (e.state === 'leased') this.unsetLeased(e, false);
    else if (e.state === 'pending') this.removePending(e);
    else this.unsetBusy(e);
    this.entries.delete(e.offset);
    this.settled.set(e.offset, nonce);
    if (kind === 'dead-lettered') this.deadLettered++;
    if (record) this.outbox.push({ type: 'settle', partition: this.partition, offset: e.offset, nonce, kind });
    this.advanceCommitted();
  }

  private advanceCommitted(): void {
    while (this.committed < this.next && this.settled.has(this.committed)) {
      this.recentlySettled.set(this.committed, this.settled.get(this.committed)!);
      if (this.recentlySettled.size > RECENTLY_SETTLED) this.recentlySettled.delete(this.recentlySettled.keys().next().value!);
      this.settled.delete(this.committed);
      this.committed++;
    }
  }

  private forget(offset: number): void {
    const e = this.entries.get(offset);
    if (!e) return;
    if (e.state === 'leased') this.unsetLeased(e, false);
    else if (e.state === 'pending') this.removePending(e);
    else this.unsetBusy(e);
    this.entries.delete(offset);
  }

  private setState(e: Entry, state: EntryState): void {
    // leased <-> dead-lettering keep the key busy; only the lease count changes.
    if (e.state === 'leased' && state === 'dead-lettering') this.leased--;
    e.state = state;
  }

  private setLeased(e: Entry, expiresAt: number): void {
    e.state = 'leased';
    e.expiresAt = expiresAt;
    this.leased++;
    this.setBusy(e);
    if (expiresAt < this.earliestExpiry) this.earliestExpiry = expiresAt;
  }

  /** Ends a lease; `toPending` callers put the entry in the pending list right after. */
  private unsetLeased(e: Entry, toPending = true): void {
    this.leased--;
    this.unsetBusy(e);
    if (toPending) e.state = 'pending';
  }

  private setBusy(e: Entry): void {
    if (e.keyId) increment(this.busyKeys, e.keyId);
  }

  private unsetBusy(e: Entry): void {
    if (e.keyId) decrement(this.busyKeys, e.keyId);
  }

  private addPending(e: Entry): void {
    e.state = 'pending';
    insertSorted(this.pending, e.offset);
    if (e.keyId) increment(this.pendingKeys, e.keyId);
  }

  private removePending(e: Entry): void {
    const i = lowerBound(this.pending, e.offset);
    assert(this.pending[i] === e.offset, `pending list lacks ${e.offset}`);
    this.pending.splice(i, 1);
    if (e.keyId) decrement(this.pendingKeys, e.keyId);
  }

  private leaseRecord(e: Entry): GroupRecord {
    return { type: 'lease', partition: this.partition, offset: e.offset, nonce: e.nonce, expiresAt: e.expiresAt, deliveries: e.deliveries, keyId: e.keyId ?? null };
  }

  private pendingRecord(e: Entry): GroupRecord {
    return { type: 'pending', partition: this.partition, offset: e.offset, nonce: e.nonce, notBefore: e.notBefore, deliveries: e.deliveries, keyId: e.keyId ?? null };
  }
}

/** A whole group: its configuration and one GroupPartition per partition, sharing one outbox of records. */
export class GroupState {
  readonly outbox: GroupRecord[] = [];
  private readonly partitions: GroupPartition[] = [];

  constructor(
    public config: StoredGroupConfig,
    readonly maxUnsettled: number,
  ) {}

  partition(p: number): GroupPartition {
    let st = this.partitions[p];
    if (!st) {
      for (let i = this.partitions.length; i <= p; i++) this.partitions[i] ??= new GroupPartition(i, this.maxUnsettled, this.outbox);
      st = this.partitions[p];
    }
    return st;
  }

  /** Partitions with state so far (a partition the group never touched has none). */
  get knownPartitions(): GroupPartition[] {
    return this.partitions.filter(Boolean);
  }

  setConfig(config: StoredGroupConfig): void {
    this.config = config;
    this.outbox.push({ type: 'config', config });
  }

  apply(r: GroupRecord): void {
    if (r.type === 'config') this.config = r.config;
    else this.partition(r.partition).apply(r);
  }

  snapshot(): GroupRecord[] {
    const out: GroupRecord[] = [{ type: 'config', config: this.config }];
    for (const p of this.knownPartitions) p.snapshot(out);
    return out;
  }

  drain(): GroupRecord[] {
    return this.outbox.splice(0);
  }
}

function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new StorageError('CORRUPT_RECORD', `Consumer group invariant broken: ${what}`);
}

function increment(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function decrement(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(a: number[], x: number): void {
  // Most inserts are new offsets at the end; redeliveries land in the middle.
  if (a.length === 0 || a[a.length - 1] < x) a.push(x);
  else a.splice(lowerBound(a, x), 0, x);
}
