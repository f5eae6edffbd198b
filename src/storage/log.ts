// A partition's log: an ordered list of segments with one writer that group-commits appends.
//
// Appends queue up while a write+fsync is in flight and are then written together: one write and one
// fsync answer every produce that arrived meanwhile (CommitPacer decides when the next one starts). Readers only
// ever see bytes that are already durable (under FSYNC=always), so a message a consumer has seen and acked can
// never vanish in a crash.
import { closeSync, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EngineConfig } from './engine-config';
import { resourceExhausted, StorageError, storageUnavailable } from './errors';
import type { HandleCache } from './handle-cache';
import { OffsetIndex } from './offset-index';
import {
  batchIsIntact,
  BATCH_HEADER_BYTES,
  decodeRecords,
  encodeBatch,
  type FramedBatches,
  frameTextValues,
  setBaseOffset,
  type TextValues,
  readBatchHeader,
  type PreparedRecord,
  type StoredRecord,
} from './record-batch';
import { AppendWaiters } from './append-waiters';
import { CommitPacer } from './commit-pacer';
import { fsyncDir } from './fs-durable';
import { nullObserver, type StorageObserver } from './observer';
import { parseSegmentFileName, scanLog, Segment, segmentFileName, truncateFile } from './segment';

/** Largest physical batch a flush writes: bounds what a read of one message has to load and check. */
const MAX_PHYSICAL_BATCH_BYTES = 16 * 1024;
/**
 * Under FSYNC=always the active segment is extended with zeros ahead of the data, this much at a time: an
 * fdatasync that also has to commit a new file size costs ~10× one that only flushes overwritten blocks
 * (measured here: 2.3 ms vs 0.22 ms), so group commits then cost a data flush, not a journal commit.
 * The zeros are never read (readers stop at the logical size) and are cut at roll, close and recovery.
 */
const PREALLOCATE_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
const EMPTY = Buffer.alloc(0);
/** Recently read chunks kept per partition: consumers polling near the log end share them. */
const CHUNK_CACHE_SIZE = 8;
/** Largest single write: bounds the buffer one flush allocates. */
const MAX_FLUSH_BYTES = 16 * 1024 * 1024;
const INT32_MAX = 0x7fff_ffff;

interface PendingAppend {
  /** Records to frame at flush time (many small appends then share a batch and its CRC) ... */
  records: PreparedRecord[] | null;
  /** ... or records framed by the caller's call, before they waited (a large batch: no object per record waits). */
  framed: FramedBatches | null;
  count: number;
  bytes: number;
  resolve: (baseOffset: number) => void;
  reject: (err: Error) => void;
}

interface ReadChunk {
  segment: Segment;
  /** File position of buf[0]. */
  start: number;
  buf: Buffer;
  length: number;
}

export interface RecoveryReport {
  truncatedBytes: number;
}

/** What a partition's views need before its files are opened: known exactly after a clean shutdown. */
export interface PartitionSummary {
  startOffset: number;
  endOffset: number;
  sizeBytes: number;
  segmentCount: number;
}

export class PartitionLog {
  private segments: Segment[];
  /**
   * Set while the partition has not been opened (lazy open after a clean shutdown): its views answer from
   * this summary and the first append, read or retention pass opens the files. Nothing can change the log
   * before that, so the summary stays exact.
   */
  private unopened: PartitionSummary | null = null;
  /** A partition of a topic just created: its directory and files are made (durably) by its first append. */
  private filesPending = false;
  private readonly queue: PendingAppend[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private readonly pacer = new CommitPacer();
  /** A commit waiting for producers to come back: a timer, or an immediate (the end of this event-loop turn). */
  private lingerTimer: NodeJS.Timeout | null = null;
  private lingerImmediate: NodeJS.Immediate | null = null;
  private closing: Promise<void> | null = null;
  private dirty = false;
  /** A failed write whose truncation also failed leaves bytes past `size` to cut before the next write. */
  private needsTruncate = false;
  private readonly chunks: ReadChunk[] = [];
  /** Physical end of the active segment's file (data plus preallocated zeros). */
  private preallocatedTo = 0;
  private preallocateFailedAt = 0;
  private readonly waiters = new AppendWaiters();
  private draining = false;

  private constructor(
    readonly dir: string,
    private readonly config: EngineConfig,
    private readonly handles: HandleCache,
    segments: Segment[],
    public recovery: RecoveryReport,
    private readonly observer: StorageObserver,
  ) {
    this.segments = segments;
    if (segments.length > 0) this.active.writable = true;
  }

  /** Opens (or creates) the log in `dir`, recovering the active segment's tail. Startup only: sync I/O. */
  static open(dir: string, config: EngineConfig, handles: HandleCache, observer: StorageObserver = nullObserver): PartitionLog {
    const { segments, truncatedBytes, filesPending } = loadSegments(dir, config);
    const log = new PartitionLog(dir, config, handles, segments, { truncatedBytes }, observer);
    log.filesPending = filesPending;
    return log;
  }

  /**
   * A partition left by a clean shutdown, described by its summary and opened on first use (an append, a
   * read, retention with sealed segments to check): start-up then reads nothing of it.
   */
  static lazy(dir: string, config: EngineConfig, handles: HandleCache, observer: StorageObserver, summary: PartitionSummary): PartitionLog {
    const log = new PartitionLog(dir, config, handles, [], { truncatedBytes: 0 }, observer);
    log.unopened = { ...summary };
    return log;
  }

  /**
   * A partition of a topic being created: empty, with no file yet. Its first append creates the directory
   * and the first segment's files and fsyncs both directories before writing, so topic creation costs no
   * fsync per partition. A start that finds no segment file (never written) treats it the same way.
   */
  static created(dir: string, config: EngineConfig, handles: HandleCache, observer: StorageObserver): PartitionLog {
    const seg = new Segment(dir, 0, 0, 0, Date.now());
    seg.index = new OffsetIndex();
    const log = new PartitionLog(dir, config, handles, [seg], { truncatedBytes: 0 }, observer);
    log.filesPending = true;
    return log;
  }

  /** The first append's files: directory, empty .log and .index, then both directory entries made durable. */
  private async createFiles(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const path of [this.active.logPath, this.active.indexPath]) await (await open(path, 'a')).close();
    await fsyncDir(this.dir);
    await fsyncDir(dirname(this.dir));
    this.filesPending = false;
  }

  /** False while a lazily opened partition has not been touched (no file of it read). */
  get opened(): boolean {
    return this.unopened === null;
  }

  /** Opens a lazy partition's files now (the same recovery as at start: the active segment's tail). */
  private openNow(): Segment[] {
    if (this.unopened) {
      let loaded: ReturnType<typeof loadSegments>;
      try {
        loaded = loadSegments(this.dir, this.config);
      } catch (err) {
        throw resourceExhausted(err) ?? err;
      }
      this.segments = loaded.segments;
      this.recovery = { truncatedBytes: loaded.truncatedBytes };
      this.filesPending = loaded.filesPending;
      this.segments[this.segments.length - 1].writable = true;
      this.unopened = null;
    }
    return this.segments;
  }

  get active(): Segment {
    const segments = this.openNow();
    return segments[segments.length - 1];
  }

  /** First offset still stored (retention moves it forward). */
  get startOffset(): number {
    return this.unopened ? this.unopened.startOffset : this.segments[0].baseOffset;
  }

  /** Offset the next appended record will get; everything below it is readable. */
  get endOffset(): number {
    return this.unopened ? this.unopened.endOffset : this.active.endOffset;
  }

  get segmentCount(): number {
    return this.unopened ? this.unopened.segmentCount : this.segments.length;
  }

  get sizeBytes(): number {
    if (this.unopened) return this.unopened.sizeBytes;
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  summary(): PartitionSummary {
    return { startOffset: this.startOffset, endOffset: this.endOffset, sizeBytes: this.sizeBytes, segmentCount: this.segmentCount };
  }

  /**
   * Queues records for the next group commit; resolves with the first record's offset once the batch is
   * written (and fsynced under FSYNC=always). Records of one call get consecutive offsets.
   */
  append(records: PreparedRecord[], bytes: number): Promise<number> {
    return this.enqueue(records, null, records.length, bytes);
  }

  /**
   * Text values (no key, headers or producer timestamp) framed now into their own physical batches, so what
   * waits for the writer is one buffer rather than an object per record. Same answer as append().
   */
  appendText(values: TextValues, timestamp: number): Promise<number> {
    const framed = frameTextValues(values, timestamp, MAX_PHYSICAL_BATCH_BYTES);
    return this.enqueue(null, framed, framed.records, framed.buf.length);
  }

  private enqueue(records: PreparedRecord[] | null, framed: FramedBatches | null, count: number, bytes: number): Promise<number> {
    if (this.closing) return Promise.reject(new StorageError('CLOSED', 'The log is closing'));
    if (this.unopened) {
      try {
        this.openNow();
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    if (this.queuedBytes > 0 && this.queuedBytes + bytes > this.config.maxInFlightBytes) {
      return Promise.reject(
        new StorageError('BACK_PRESSURE', 'Too many bytes waiting to be written to this partition; retry shortly', 1),
      );
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ records, framed, count, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.scheduleFlush();
    });
  }

  /**
   * Starts the next group commit now, at the end of this event-loop turn, or after a short wait for the
   * producers the last commit answered (see CommitPacer); never while one is in flight (one writer).
   */
  private scheduleFlush(): void {
    if (this.flushing || this.queue.length === 0) return;
    const wait = this.queuedBytes >= MAX_FLUSH_BYTES ? 0 : this.pacer.delay(this.queue.length, performance.now());
    if (wait === 0) {
      this.cancelLinger();
      this.flushing = true;
      void this.flushLoop();
    } else if (!this.lingerTimer && !this.lingerImmediate) {
      const expire = () => {
        this.lingerTimer = null;
        this.lingerImmediate = null;
        this.pacer.reset();
        this.scheduleFlush();
      };
      if (wait < 1) this.lingerImmediate = setImmediate(expire);
      else this.lingerTimer = setTimeout(expire, Math.ceil(wait));
    }
  }

  private cancelLinger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.lingerImmediate) clearImmediate(this.lingerImmediate);
    this.lingerTimer = null;
    this.lingerImmediate = null;
  }

  private async flushLoop(): Promise<void> {
    try {
      let take = 0;
      let bytes = 0;
      while (take < this.queue.length && (take === 0 || bytes + this.queue[take].bytes <= MAX_FLUSH_BYTES)) {
        bytes += this.queue[take].bytes;
        take++;
      }
      const items = this.queue.splice(0, take);
      this.queuedBytes -= bytes;
      await this.writeAppends(items);
    } finally {
      this.flushing = false;
      this.scheduleFlush();
    }
  }

  private async writeAppends(items: PendingAppend[]): Promise<void> {
    // Consecutive record appends share physical batches; framed appends keep theirs.
    const parts: Array<{ records: PreparedRecord[]; cuts: number[] } | FramedBatches> = [];
    let total = 0;
    let count = 0;
    for (let i = 0; i < items.length; ) {
      const framed = items[i].framed;
      if (framed) {
        parts.push(framed);
        total += framed.buf.length;
        count += framed.records;
        i++;
        continue;
      }
      let j = i + 1;
      while (j < items.length && !items[j].framed) j++;
      const records: PreparedRecord[] = j === i + 1 ? items[i].records! : items.slice(i, j).flatMap((x) => x.records!);
      const cuts = planBatches(records);
      for (let b = 0; b < cuts.length - 1; b++) {
        total += BATCH_HEADER_BYTES;
        for (let r = cuts[b]; r < cuts[b + 1]; r++) total += records[r].size;
      }
      parts.push({ records, cuts });
      count += records.length;
      i = j;
    }
    const now = Date.now();
    try {
      if (this.filesPending) await this.createFiles();
      if (this.needsTruncate) await this.truncateActiveTail();
      if (this.shouldRoll(total, now)) await this.roll();
    } catch (err) {
      this.pacer.reset();
      return rejectAll(items, writeFailure(err));
    }
    const seg = this.active;
    const index = seg.index!;
    const undo = { indexLength: index.length, sinceEntry: seg.bytesSinceIndexEntry, maxTimestamp: seg.maxTimestamp };
    // One framed append alone is written from its own buffer: no copy.
    const single = parts.length === 1 && 'buf' in parts[0] ? parts[0].buf : null;
    const buf = single ?? Buffer.allocUnsafe(total);
    let pos = 0;
    let offset = seg.endOffset;
    const indexBatch = (filePos: number): void => {
      if (seg.bytesSinceIndexEntry >= this.config.indexIntervalBytes && filePos > index.lastPosition) {
        index.append(offset - seg.baseOffset, filePos, seg.maxTimestamp);
        seg.bytesSinceIndexEntry = 0;
      }
    };
    for (const part of parts) {
      if ('buf' in part) {
        for (let b = 0; b < part.counts.length; b++) {
          indexBatch(seg.size + pos + part.starts[b]);
          setBaseOffset(part.buf, part.starts[b], offset);
          if (part.timestamp > seg.maxTimestamp) seg.maxTimestamp = part.timestamp;
          seg.bytesSinceIndexEntry += part.starts[b + 1] - part.starts[b];
          offset += part.counts[b];
        }
        if (!single) part.buf.copy(buf, pos);
        pos += part.buf.length;
        continue;
      }
      const { records, cuts } = part;
      for (let b = 0; b < cuts.length - 1; b++) {
        indexBatch(seg.size + pos);
        const end = encodeBatch(records, cuts[b], cuts[b + 1], offset, buf, pos);
        for (let i = cuts[b]; i < cuts[b + 1]; i++) if (records[i].timestamp > seg.maxTimestamp) seg.maxTimestamp = records[i].timestamp;
        seg.bytesSinceIndexEntry += end - pos;
        offset += cuts[b + 1] - cuts[b];
        pos = end;
      }
    }
    let fh: FileHandle | null = null;
    const started = performance.now();
    try {
      fh = await this.handles.acquire(seg);
      if (this.config.fsync === 'always') await this.preallocate(fh, seg, seg.size + total);
      await writeFully(fh, buf, seg.size);
      if (this.config.fsync === 'always') await fh.datasync();
      else this.dirty = true;
    } catch (err) {
      index.truncateTo(undo.indexLength);
      seg.bytesSinceIndexEntry = undo.sinceEntry;
      seg.maxTimestamp = undo.maxTimestamp;
      this.needsTruncate = true;
      this.observer.onWriteError();
      await this.truncateActiveTail().catch(() => undefined);
      this.pacer.reset();
      return rejectAll(items, writeFailure(err));
    } finally {
      if (fh) this.handles.release(seg);
    }
    seg.size += total;
    seg.endOffset = offset;
    seg.lastWriteMs = now;
    const writeMs = performance.now() - started;
    this.pacer.committed(items.length, this.queue.length, writeMs, started + writeMs);
    let base = offset - count;
    for (const item of items) {
      item.resolve(base);
      base += item.count;
    }
    this.waiters.notify(offset);
    this.observer.onFlush({ messages: count, bytes: total, writeMs });
    // After answering: the index is a cache of the log and never delays a produce.
    await this.persistIndexTail(seg);
  }

  /**
   * Long poll: resolves true as soon as a record at `offset` is readable, false after `timeoutMs` or when
   * the log closes. Answers at once when the record is already there.
   */
  waitForData(offset: number, timeoutMs: number): Promise<boolean> {
    if (offset < this.endOffset) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.closing || this.draining) return Promise.resolve(false);
    return this.waiters.wait(offset, timeoutMs);
  }

  /** Shutdown has begun: answer every long poll now and stop holding new ones. */
  stopWaiting(): void {
    this.draining = true;
    this.waiters.releaseAll();
  }

  /** Zero-fills the file ahead of `needEnd` (and fsyncs that once), so the following data fsyncs stay cheap. */
  private async preallocate(fh: FileHandle, seg: Segment, needEnd: number): Promise<void> {
    if (needEnd <= this.preallocatedTo) return;
    // After a failure (disk nearly full) just append: retry preallocating later, never block the write on it.
    if (this.preallocateFailedAt && Date.now() - this.preallocateFailedAt < 5000) return;
    const from = Math.max(this.preallocatedTo, seg.size);
    const target = needEnd + PREALLOCATE_BYTES;
    try {
      for (let pos = from; pos < target; pos += ZEROS.length) {
        const n = Math.min(ZEROS.length, target - pos);
        await writeFully(fh, n === ZEROS.length ? ZEROS : ZEROS.subarray(0, n), pos);
      }
      await fh.datasync();
      this.preallocatedTo = target;
      this.preallocateFailedAt = 0;
    } catch {
      this.preallocateFailedAt = Date.now();
      // Give the space back: the data write that follows must not find the disk filled with our zeros.
      await fh.truncate(Math.max(seg.size, this.preallocatedTo)).catch(() => undefined);
    }
  }

  /** Cuts preallocated zeros off the active segment (roll, close): sealed files hold exactly their batches. */
  private async trimPreallocation(fh: FileHandle, seg: Segment): Promise<void> {
    if (this.preallocatedTo > seg.size) await fh.truncate(seg.size);
    this.preallocatedTo = 0;
  }

  private shouldRoll(incomingBytes: number, now: number): boolean {
    const seg = this.active;
    if (seg.size === 0) return false;
    if (seg.size + incomingBytes > this.config.segmentBytes) return true;
    return this.config.segmentMs > 0 && now - seg.createdMs >= this.config.segmentMs;
  }

  /** Seals the active segment (durable, index complete) and starts a new one at the log end. */
  private async roll(): Promise<void> {
    const old = this.active;
    const fh = await this.handles.acquire(old);
    try {
      await this.trimPreallocation(fh, old);
      await fh.datasync();
    } finally {
      this.handles.release(old);
    }
    await this.rewriteIndex(old, true);
    await this.handles.close(old.indexFile);
    const base = old.endOffset;
    const logPath = join(this.dir, segmentFileName(base, '.log'));
    const indexPath = join(this.dir, segmentFileName(base, '.index'));
    await (await open(logPath, 'w')).close();
    await (await open(indexPath, 'w')).close();
    await fsyncDir(this.dir);
    const seg = new Segment(this.dir, base, 0, base, Date.now());
    seg.index = new OffsetIndex();
    seg.writable = true;
    old.writable = false;
    old.lastWriteMs = Date.now();
    this.segments.push(seg);
  }

  private async truncateActiveTail(): Promise<void> {
    const seg = this.active;
    const fh = await this.handles.acquire(seg);
    try {
      await fh.truncate(seg.size);
      this.preallocatedTo = seg.size;
      this.needsTruncate = false;
    } finally {
      this.handles.release(seg);
    }
  }

  /** The index is a cache of the log: written after each flush, fsynced only when a segment is sealed. */
  private async persistIndexTail(seg: Segment): Promise<void> {
    const tail = seg.index!.takeUnpersisted();
    if (!tail) return;
    try {
      await this.handles.use(seg.indexFile, (fh) => writeFully(fh, tail.bytes, tail.filePosition));
    } catch {
      // A missing index entry costs a longer scan at recovery, never data: recovery rebuilds it.
    }
  }

  private async rewriteIndex(seg: Segment, sync: boolean): Promise<void> {
    const index = seg.index;
    if (!index) return;
    const fh = await open(seg.indexPath, 'w');
    try {
      await writeFully(fh, index.encode(), 0);
      if (sync) await fh.datasync();
      index.persisted = index.length;
    } finally {
      await fh.close();
    }
  }

  /** FSYNC=interval: make everything written so far durable. */
  async syncIfDirty(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const seg = this.active;
    const fh = await this.handles.acquire(seg);
    try {
      await fh.datasync();
    } catch (err) {
      this.dirty = true;
      throw err;
    } finally {
      this.handles.release(seg);
    }
  }

  /**
   * Up to `maxRecords` records from `offset` on (clamped to the log start), stopping once `maxBytes` of
   * values have been collected (at least one record is always returned when one exists).
   */
  async read(offset: number, maxRecords: number, maxBytes: number): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    let next = Math.max(offset, this.startOffset);
    let bytes = 0;
    while (out.length < maxRecords && next < this.endOffset && bytes < maxBytes) {
      const seg = this.segmentFor(next);
      const before = out.length;
      // maxRecords caps out.length as a whole: readSegment compares it against everything collected so far.
      bytes += await this.readSegment(seg, next, maxRecords, maxBytes - bytes, out);
      if (out.length === before) {
        if (seg.endOffset <= next || seg === this.active) break;
        next = seg.endOffset;
      } else next = out[out.length - 1].offset + 1;
    }
    return out;
  }

  /**
   * First offset whose record timestamp is >= t (the log end when none): per segment, the index's
   * timestamp column picks where to start and a short scan finds the record.
   */
  async offsetForTimestamp(t: number): Promise<number> {
    for (const seg of [...this.openNow()]) {
      if (seg.size === 0) continue;
      const index = seg.index ?? (await seg.loadIndex(this.config.indexIntervalBytes));
      const from = index.lookupTime(t);
      const entry = index.floorPositionEntry(from);
      let offset = seg.baseOffset + (entry < 0 ? 0 : index.relativeOffsetAt(entry));
      while (offset < seg.endOffset) {
        const records = await this.read(offset, 500, 4 * 1024 * 1024);
        if (records.length === 0) break;
        for (const r of records) {
          if (r.offset >= seg.endOffset) break;
          if (r.timestamp >= t) return r.offset;
        }
        offset = records[records.length - 1].offset + 1;
      }
    }
    return this.endOffset;
  }

  private segmentFor(offset: number): Segment {
    const segs = this.openNow();
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segs[mid].baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo];
  }

  /** Appends records from `offset` on until `out` holds `maxRecords` or `maxBytes` more value bytes; returns those bytes. */
  private async readSegment(seg: Segment, offset: number, maxRecords: number, maxBytes: number, out: StoredRecord[]): Promise<number> {
    const index = seg.index ?? (await seg.loadIndex(this.config.indexIntervalBytes));
    // An index entry that does not name the batch at its position (a damaged index) costs a walk from the
    // entry before it, never a wrong or refused read; from the segment start, a mismatch is real corruption.
    for (let entry = index.floorEntry(offset - seg.baseOffset); ; entry--) {
      try {
        return await this.readSegmentFrom(seg, index, entry, offset, maxRecords, maxBytes, out);
      } catch (err) {
        if (!(err instanceof IndexEntryMismatch)) throw err;
      }
    }
  }

  private async readSegmentFrom(
    seg: Segment,
    index: OffsetIndex,
    entry: number,
    offset: number,
    maxRecords: number,
    maxBytes: number,
    out: StoredRecord[],
  ): Promise<number> {
    const limit = seg.size;
    const start = entry < 0 ? 0 : index.positionAt(entry);
    let pos = start;
    // Offsets are dense, so every batch walked must start where the previous one ended: the CRC does not
    // cover the base offset, and a damaged one must not hand out records under the wrong offsets.
    let expectedOffset = seg.baseOffset + (entry < 0 ? 0 : index.relativeOffsetAt(entry));
    const invalid = () => (pos === start && entry >= 0 ? new IndexEntryMismatch() : corrupt(seg, pos));
    // Read about what the answer needs: records average size × count (from this segment's own figures),
    // capped by max_bytes; a single-message poll reads one physical batch's worth.
    const records = Math.max(1, seg.endOffset - seg.baseOffset);
    const average = seg.size > 0 ? seg.size / records : 256;
    const estimate = maxRecords === 1 ? MAX_PHYSICAL_BATCH_BYTES : Math.ceil(Math.min(maxRecords * average * 1.1, maxBytes * 1.1)) + 4096;
    const want = Math.min(Math.max(estimate, MAX_PHYSICAL_BATCH_BYTES), 8 * 1024 * 1024);
    let chunk = this.cachedChunk(seg, pos) ?? (await this.readChunk(seg, pos, Math.min(want, limit - pos)));
    let bytes = 0;
    while (pos < limit && out.length < maxRecords && bytes < maxBytes) {
      let rel = pos - chunk.start;
      let header = readBatchHeader(chunk.buf, rel, chunk.length);
      if (!header || rel + header.length > chunk.length) {
        // The batch runs past what was read: read again from its start, all of it.
        const need = Math.min(Math.max(want, header ? header.length : BATCH_HEADER_BYTES), limit - pos);
        if (rel === 0 && chunk.length >= need) throw invalid();
        chunk = await this.readChunk(seg, pos, need);
        rel = 0;
        header = readBatchHeader(chunk.buf, 0, chunk.length);
        // When the old chunk ended inside this batch's header, its length is only known now: read all of it.
        if (header && header.length > chunk.length && chunk.length < limit - pos) {
          chunk = await this.readChunk(seg, pos, Math.min(header.length, limit - pos));
        }
        if (!header || header.length > chunk.length) throw invalid();
      }
      if (header.baseOffset !== expectedOffset) throw invalid();
      expectedOffset += header.recordCount;
      if (header.baseOffset + header.recordCount > offset) {
        if (!batchIsIntact(chunk.buf.subarray(0, chunk.length), rel, header)) throw corrupt(seg, pos);
        const before = out.length;
        decodeRecords(chunk.buf, rel, header, offset, maxRecords - out.length, out);
        for (let i = before; i < out.length; i++) bytes += out[i].value.length;
      }
      pos += header.length;
    }
    this.rememberChunk(chunk);
    return bytes;
  }

  private cachedChunk(seg: Segment, pos: number): ReadChunk | null {
    for (const c of this.chunks) {
      if (c.segment === seg && pos >= c.start && pos + BATCH_HEADER_BYTES <= c.start + c.length) return c;
    }
    return null;
  }

  /** Small chunks only (polls near the log end), so the cache stays a few hundred KiB per partition. */
  private rememberChunk(chunk: ReadChunk): void {
    if (chunk.length > 4 * MAX_PHYSICAL_BATCH_BYTES || this.chunks.includes(chunk)) return;
    this.chunks.unshift(chunk);
    if (this.chunks.length > CHUNK_CACHE_SIZE) this.chunks.pop();
  }

  private async readChunk(seg: Segment, pos: number, length: number): Promise<ReadChunk> {
    const buf = Buffer.allocUnsafe(Math.max(length, 0));
    const fh = await this.handles.acquire(seg);
    try {
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return { segment: seg, start: pos, buf, length: got };
    } catch (err) {
      throw storageUnavailable(`Read failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    } finally {
      this.handles.release(seg);
    }
  }

  /**
   * Deletes whole sealed segments past the retention limits; the active segment is never deleted.
   * Returns how many were removed. Readers already holding a segment finish on the unlinked file.
   */
  async enforceRetention(now: number, limits: { retentionMs: number; retentionBytes: number } = this.config): Promise<number> {
    const { retentionMs, retentionBytes } = limits;
    // Only sealed segments are ever deleted: an unopened partition with none has nothing to check.
    if (this.unopened && this.unopened.segmentCount <= 1) return 0;
    this.openNow();
    let total = this.sizeBytes;
    let removed = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      const tooOld = retentionMs > 0 && now - oldest.lastWriteMs > retentionMs;
      const tooBig = retentionBytes > 0 && total - oldest.size >= retentionBytes;
      if (!tooOld && !tooBig) break;
      this.segments.shift();
      total -= oldest.size;
      removed++;
      oldest.closeWhenIdle = true;
      if (oldest.refs === 0) await this.handles.close(oldest);
      await rm(oldest.logPath, { force: true });
      await rm(oldest.indexPath, { force: true });
    }
    return removed;
  }

  /** Waits for queued appends, makes everything durable and releases the files. */
  close(): Promise<void> {
    this.waiters.releaseAll();
    // Never opened: its files are as the last clean shutdown left them, durable and trimmed.
    if (this.unopened) this.closing ??= Promise.resolve();
    this.closing ??= (async () => {
      while (this.flushing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
      if (this.filesPending) return; // never written: no file to sync (a start creates them)
      const seg = this.active;
      try {
        const fh = await this.handles.acquire(seg);
        try {
          await this.trimPreallocation(fh, seg);
          await fh.datasync();
        } finally {
          this.handles.release(seg);
        }
        await this.rewriteIndex(seg, true);
      } finally {
        await this.handles.close(seg.indexFile);
        for (const s of this.segments) await this.handles.close(s);
      }
    })();
    return this.closing;
  }
}

/** Cut points splitting records into physical batches of bounded size and an int32 timestamp span. */
function planBatches(records: PreparedRecord[]): number[] {
  const cuts = [0];
  let bytes = BATCH_HEADER_BYTES;
  let first = records[0].timestamp;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const start = cuts[cuts.length - 1];
    if (i > start && (bytes + r.size > MAX_PHYSICAL_BATCH_BYTES || Math.abs(r.timestamp - first) > INT32_MAX)) {
      cuts.push(i);
      bytes = BATCH_HEADER_BYTES;
      first = r.timestamp;
    }
    bytes += r.size;
  }
  cuts.push(records.length);
  return cuts;
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

function rejectAll(items: PendingAppend[], err: Error): void {
  for (const item of items) item.reject(err);
}

function writeFailure(err: unknown): StorageError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'the disk is full' : `the write failed (${code ?? String(err)})`;
  return storageUnavailable(`Storage unavailable: ${why}; nothing from this request was stored`, 5);
}

/** Raised inside a read when the batch at an index entry's position is not the one the entry names. */
class IndexEntryMismatch extends Error {}

function corrupt(seg: Segment, pos: number): StorageError {
  return new StorageError(
    'CORRUPT_RECORD',
    `Corrupt batch at byte ${pos} of segment ${segmentFileName(seg.baseOffset, '.log')}; seek past it to continue`,
  );
}

/** Lists a partition's segments and recovers the active one's tail: what opening a partition reads. */
function loadSegments(dir: string, config: EngineConfig): { segments: Segment[]; truncatedBytes: number; filesPending: boolean } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    names = [];
  }
  const bases = names
    .map(parseSegmentFileName)
    .filter((b): b is number => b !== null)
    .sort((a, b) => a - b);
  for (const name of names) {
    // Leftovers of an interrupted roll or rewrite; the .log files are the truth.
    if (name.endsWith('.tmp') || (name.endsWith('.index') && !names.includes(name.replace(/\.index$/, '.log')))) {
      rmSync(join(dir, name), { force: true });
    }
  }
  if (bases.length === 0) {
    // Never written (files come with the first append, which makes them durable): an empty log, no I/O now.
    const seg = new Segment(dir, 0, 0, 0, Date.now());
    seg.index = new OffsetIndex();
    return { segments: [seg], truncatedBytes: 0, filesPending: true };
  }
  const segments: Segment[] = [];
  for (let i = 0; i < bases.length - 1; i++) {
    const st = statSync(join(dir, segmentFileName(bases[i], '.log')));
    segments.push(Segment.sealedFromStat(dir, bases[i], bases[i + 1], st));
  }
  const { segment, truncatedBytes } = recoverActiveSegment(dir, bases[bases.length - 1], config.indexIntervalBytes);
  segments.push(segment);
  return { segments, truncatedBytes, filesPending: false };
}

/**
 * Recovers the active segment: trusts the index up to its last entry that points at the batch it names,
 * scans only from there, truncates a torn or corrupt tail and rewrites the index to match.
 */
function recoverActiveSegment(dir: string, base: number, intervalBytes: number): { segment: Segment; truncatedBytes: number } {
  const logPath = join(dir, segmentFileName(base, '.log'));
  const indexPath = join(dir, segmentFileName(base, '.index'));
  const fd = openSync(logPath, 'r+');
  try {
    let st = fstatSync(fd);
    const size = st.size;
    let index: OffsetIndex;
    let onDisk: Buffer | null = null;
    try {
      // One stat instead of open/read/close for the usual empty index of a short active segment.
      const indexSize = statSync(indexPath, { throwIfNoEntry: false })?.size;
      onDisk = indexSize === 0 ? EMPTY : indexSize === undefined ? null : readFileSync(indexPath);
      index = onDisk && onDisk.length > 0 ? OffsetIndex.decode(onDisk, size) : new OffsetIndex();
    } catch {
      index = new OffsetIndex();
    }
    let k = index.length - 1;
    const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
    for (; k >= 0; k--) {
      const n = readAt(fd, header, index.positionAt(k));
      const h = readBatchHeader(header, 0, n);
      if (h && h.baseOffset === base + index.relativeOffsetAt(k)) break;
    }
    index.truncateTo(k + 1);
    const from = k >= 0 ? index.positionAt(k) : 0;
    const expected = base + (k >= 0 ? index.relativeOffsetAt(k) : 0);
    const scan = scanLog(fd, base, from, size, intervalBytes, index, 0, expected);
    if (scan.validEnd < size) {
      truncateFile(fd, scan.validEnd);
      fsyncSync(fd);
      st = fstatSync(fd);
    }
    // Rewritten only when recovery changed it: a clean partition's start is reads only.
    const encoded = index.encode();
    if (!onDisk || !encoded.equals(onDisk)) writeFileSync(indexPath, encoded);
    index.persisted = index.length;
    const seg = new Segment(dir, base, scan.validEnd, scan.nextOffset, st.birthtimeMs || st.mtimeMs);
    seg.index = index;
    seg.bytesSinceIndexEntry = scan.bytesSinceIndexEntry;
    seg.maxTimestamp = Math.max(scan.maxTimestamp, k >= 0 ? index.maxTimestampBeforeAt(k) : 0);
    seg.lastWriteMs = st.mtimeMs;
    return { segment: seg, truncatedBytes: size - scan.validEnd };
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, buf: Buffer, pos: number): number {
  return readSync(fd, buf, 0, buf.length, pos);
}
