// A segment's sparse index: every few KiB of log, (relative offset, byte position, max timestamp before it).
//
// Entry on disk: relativeOffset u32 | position u32 | maxTimestampBefore f64, big-endian, 16 bytes.
// The timestamp column answers "first message at or after time T" with the same binary search as offsets.
// The index is a cache of the log: it is never fsynced on the hot path and is rebuilt when it disagrees.

export const INDEX_ENTRY_BYTES = 16;

export class OffsetIndex {
  private rel: Uint32Array;
  private pos: Uint32Array;
  private ts: Float64Array;
  private n = 0;
  /** Entries [0, persisted) are already in the .index file. */
  persisted = 0;

  constructor(capacity = 64) {
    this.rel = new Uint32Array(capacity);
    this.pos = new Uint32Array(capacity);
    this.ts = new Float64Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  get lastPosition(): number {
    return this.n === 0 ? 0 : this.pos[this.n - 1];
  }

  relativeOffsetAt(i: number): number {
    return this.rel[i];
  }

  positionAt(i: number): number {
    return this.pos[i];
  }

  /** Index of the entry at byte position `position` (or the last one before it); -1 when none. */
  floorPositionEntry(position: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pos[mid] <= position) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  maxTimestampBeforeAt(i: number): number {
    return this.ts[i];
  }

  append(relativeOffset: number, position: number, maxTimestampBefore: number): void {
    // Invariant: entries strictly increase in both offset and position, so binary search is valid.
    if (this.n > 0 && (relativeOffset <= this.rel[this.n - 1] || position <= this.pos[this.n - 1])) {
      throw new Error(`index entries must increase: ${relativeOffset}@${position} after ${this.rel[this.n - 1]}@${this.pos[this.n - 1]}`);
    }
    if (this.n === this.rel.length) this.grow();
    this.rel[this.n] = relativeOffset;
    this.pos[this.n] = position;
    this.ts[this.n] = maxTimestampBefore;
    this.n++;
  }

  /** Drops entries from index i on (used when the log tail is truncated). */
  truncateTo(i: number): void {
    this.n = Math.min(this.n, i);
    this.persisted = Math.min(this.persisted, this.n);
  }

  /** Byte position of the last indexed batch whose base offset is <= relativeOffset (0 when none). */
  lookup(relativeOffset: number): number {
    const i = this.floorEntry(relativeOffset);
    return i < 0 ? 0 : this.pos[i];
  }

  /** Index of the last entry whose relative offset is <= relativeOffset (-1 when none). */
  floorEntry(relativeOffset: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rel[mid] <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Position from which a scan finds the first record with timestamp >= t: the entry before the first
   * whose "max timestamp before" already reaches t.
   */
  lookupTime(t: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let first = this.n;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid] >= t) {
        first = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return first === 0 ? 0 : this.pos[first - 1];
  }

  /** Entries not yet written to the .index file, encoded; marks them persisted. */
  takeUnpersisted(): { bytes: Buffer; filePosition: number } | null {
    if (this.persisted >= this.n) return null;
    const from = this.persisted;
    const bytes = this.encode(from, this.n);
    this.persisted = this.n;
    return { bytes, filePosition: from * INDEX_ENTRY_BYTES };
  }

  encode(from = 0, to = this.n): Buffer {
    const buf = Buffer.allocUnsafe((to - from) * INDEX_ENTRY_BYTES);
    for (let i = from, p = 0; i < to; i++, p += INDEX_ENTRY_BYTES) {
      buf.writeUInt32BE(this.rel[i], p);
      buf.writeUInt32BE(this.pos[i], p + 4);
      buf.writeDoubleBE(this.ts[i], p + 8);
    }
    return buf;
  }

  /**
   * Reads an .index file, keeping the longest prefix that is plausible for a log of `logSize` bytes
   * (increasing, inside the log). Whether the entries point at real batches is the caller's check.
   */
  static decode(buf: Buffer, logSize: number): OffsetIndex {
    const count = Math.floor(buf.length / INDEX_ENTRY_BYTES);
    const index = new OffsetIndex(Math.max(64, count));
    for (let i = 0, p = 0; i < count; i++, p += INDEX_ENTRY_BYTES) {
      const rel = buf.readUInt32BE(p);
      const pos = buf.readUInt32BE(p + 4);
      const ts = buf.readDoubleBE(p + 8);
      const ok =
        pos < logSize && Number.isFinite(ts) && (index.n === 0 || (rel > index.rel[index.n - 1] && pos > index.pos[index.n - 1]));
      if (!ok) break;
      index.append(rel, pos, ts);
    }
    index.persisted = index.n;
    return index;
  }

  private grow(): void {
    const cap = this.rel.length * 2;
    const rel = new Uint32Array(cap);
    const pos = new Uint32Array(cap);
    const ts = new Float64Array(cap);
    rel.set(this.rel);
    pos.set(this.pos);
    ts.set(this.ts);
    this.rel = rel;
    this.pos = pos;
    this.ts = ts;
  }
}
