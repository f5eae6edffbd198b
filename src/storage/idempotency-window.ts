// A topic's Idempotency-Key window: which keys produced within IDEMPOTENCY_WINDOW_MS, with which request
// fingerprint, and where their records went. The truth is the producer markers inside the log (see
// producer-marker.ts); this is their index, rebuilt at open from a snapshot plus the log written after it,
// so recovery reads only a few seconds of log, never all of it.
//
// Invariant: every marker in the log at an offset below a snapshot's `scannedTo` is in that snapshot. It
// holds because a snapshot is written before the topic's first idempotent append (so no marker predates
// every snapshot) and later snapshots are built on a fresh turn of the event loop, after every append
// already counted in a partition's end offset has registered its marker (registration runs in the
// append's own continuation, a microtask).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './fs-durable';
import type { PartitionLog } from './log';
import { decodeMarker, type ProducerMarker } from './producer-marker';

export const IDEMPOTENCY_SNAPSHOT_FILE = 'idempotency.snapshot.json';
/** How long new markers may wait before a snapshot covers them: bounds the log read at the next open. */
const SNAPSHOT_DELAY_MS = 2000;
const SCAN_RECORDS = 5000;
const SCAN_BYTES = 16 * 1024 * 1024;

/** One partition's share of a request: `count` records from `base`. */
export interface RequestPart {
  base: number;
  count: number;
  indexes: number[] | null;
}

export interface WindowEntry {
  fingerprint: Buffer;
  createdAt: number;
  routedOver: number;
  /** Partitions the request touched; the entry is complete once each has its part. */
  parts: number;
  stored: Map<number, RequestPart>;
}

interface Snapshot {
  version: 1;
  scannedTo: number[];
  entries: Array<[string, { f: string; c: number; r: number; n: number; s: Array<[number, number, number, number[] | null]> }]>;
}

export class IdempotencyWindow {
  private readonly entries = new Map<string, WindowEntry>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private snapshotTimer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly partitions: PartitionLog[],
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  /** Loads the snapshot and replays the markers written after it; the first open writes the first snapshot. */
  static async open(dir: string, partitions: PartitionLog[], windowMs: number, maxKeys: number, now = Date.now()): Promise<IdempotencyWindow> {
    const window = new IdempotencyWindow(dir, partitions, windowMs, maxKeys);
    let snapshot: Snapshot | null = null;
    try {
      snapshot = JSON.parse(await readFile(window.path, 'utf8')) as Snapshot;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!snapshot) {
      // Before any marker exists: from here on every marker lies at or after these offsets.
      await window.writeSnapshot();
      return window;
    }
    for (const [key, e] of snapshot.entries) {
      if (e.c + windowMs <= now) continue;
      const stored = new Map<number, RequestPart>();
      for (const [p, base, count, indexes] of e.s) stored.set(p, { base, count, indexes });
      window.entries.set(key, { fingerprint: Buffer.from(e.f, 'hex'), createdAt: e.c, routedOver: e.r, parts: e.n, stored });
    }
    for (let p = 0; p < partitions.length; p++) {
      const log = partitions[p];
      // Past the log end: FSYNC=never/interval lost a tail after the snapshot; its parts are gone with it.
      if ((snapshot.scannedTo[p] ?? 0) > log.endOffset) window.forgetFrom(p, log.endOffset);
      await window.replay(p, Math.min(snapshot.scannedTo[p] ?? 0, log.endOffset), now);
    }
    return window;
  }

  private get path(): string {
    return join(this.dir, IDEMPOTENCY_SNAPSHOT_FILE);
  }

  private async replay(partition: number, from: number, now: number): Promise<void> {
    const log = this.partitions[partition];
    for (let offset = Math.max(from, log.startOffset); offset < log.endOffset; ) {
      const records = await log.read(offset, SCAN_RECORDS, SCAN_BYTES);
      if (records.length === 0) break;
      for (const r of records) {
        const marker = r.marker ? decodeMarker(r.marker) : null;
        if (marker && marker.createdAt + this.windowMs > now) this.register(marker, r.offset - marker.count + 1);
      }
      offset = records[records.length - 1].offset + 1;
    }
  }

  private forgetFrom(partition: number, end: number): void {
    for (const entry of this.entries.values()) {
      const part = entry.stored.get(partition);
      if (part && part.base + part.count > end) entry.stored.delete(partition);
    }
  }

  /** The live entry for `key`, if any. */
  lookup(key: string, now = Date.now()): WindowEntry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.createdAt + this.windowMs <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The request currently running under `key`, if any (a concurrent duplicate waits for it). */
  running(key: string): Promise<unknown> | undefined {
    return this.inFlight.get(key);
  }

  track<T>(key: string, work: Promise<T>): Promise<T> {
    this.inFlight.set(key, work);
    const clear = () => {
      if (this.inFlight.get(key) === work) this.inFlight.delete(key);
    };
    work.then(clear, clear);
    return work;
  }

  /** Records a durable run (its marker is on the record at base + count - 1). */
  register(marker: ProducerMarker, base: number): void {
    let entry = this.entries.get(marker.key);
    if (!entry || !entry.fingerprint.equals(marker.fingerprint)) {
      entry = { fingerprint: marker.fingerprint, createdAt: marker.createdAt, routedOver: marker.routedOver, parts: marker.parts, stored: new Map() };
      this.entries.delete(marker.key);
      this.entries.set(marker.key, entry);
    }
    entry.stored.set(marker.partition, { base, count: marker.count, indexes: marker.indexes });
    // Bounded: the oldest keys go first (a Map iterates in insertion order).
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.maxKeys) break;
      this.entries.delete(k);
    }
    this.dirty = true;
    this.scheduleSnapshot();
  }

  private scheduleSnapshot(): void {
    if (this.snapshotTimer || this.closed) return;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      void this.writeSnapshot().catch(() => undefined);
    }, SNAPSHOT_DELAY_MS);
    this.snapshotTimer.unref();
  }

  /** Built synchronously on a timer or at close (never inside an append's continuation), written atomically. */
  private writeSnapshot(now = Date.now()): Promise<void> {
    this.dirty = false;
    const snapshot: Snapshot = { version: 1, scannedTo: this.partitions.map((p) => p.endOffset), entries: [] };
    for (const [key, e] of this.entries) {
      if (e.createdAt + this.windowMs <= now) continue;
      snapshot.entries.push([
        key,
        { f: e.fingerprint.toString('hex'), c: e.createdAt, r: e.routedOver, n: e.parts, s: [...e.stored].map(([p, s]) => [p, s.base, s.count, s.indexes]) },
      ]);
    }
    const data = JSON.stringify(snapshot);
    const next = this.writing.then(() => writeFileAtomic(this.path, data));
    this.writing = next.catch(() => {
      this.dirty = true; // the markers are still in the log: a later snapshot (or the next open's replay) covers them
    });
    return next;
  }

  /** Called after the topic's logs have flushed: a last snapshot spares the next open its replay. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    await this.writing;
    // A fresh turn, so appends that finished just now have registered their markers (see the invariant).
    await new Promise((resolve) => setImmediate(resolve));
    if (this.dirty) await this.writeSnapshot().catch(() => undefined);
  }
}
