// One segment of a partition's log: a .log file of batches plus its sparse .index, named by base offset.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { readFile, type FileHandle } from 'node:fs/promises';
import { OffsetIndex } from './offset-index';
import { batchIsIntact, readBatchHeader, type BatchHeader, BATCH_HEADER_BYTES } from './record-batch';
import { CachedPath, type CachedFile } from './handle-cache';

const OFFSET_DIGITS = 20;

export function segmentFileName(baseOffset: number, ext: '.log' | '.index'): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, '0') + ext;
}

export function parseSegmentFileName(name: string): number | null {
  const m = /^(\d{20})\.log$/.exec(name);
  return m ? Number(m[1]) : null;
}

export class Segment implements CachedFile {
  readonly logPath: string;
  readonly indexPath: string;
  handle: FileHandle | null = null;
  opening: Promise<FileHandle> | null = null;
  refs = 0;
  /** The active segment: opened read-write, and its in-memory index is the live one (kept on eviction). */
  writable = false;
  /** The .index file, for appending entries to the active segment's index through the handle cache. */
  readonly indexFile: CachedPath;
  /** Deleted by retention or topic deletion: close the handle as soon as the last reader lets go. */
  closeWhenIdle = false;
  /** Sealed segments load their index on first read, so startup stays O(segments) and memory bounded. */
  index: OffsetIndex | null = null;
  /** Bytes of valid, visible log: readers never look past it, the writer appends at it. */
  size: number;
  /** Offset one past the last record in this segment. */
  endOffset: number;
  /** Newest record time (for the active segment) or the file's mtime (sealed): drives time retention. */
  lastWriteMs: number;
  readonly createdMs: number;
  /** Bytes written since the last index entry. */
  bytesSinceIndexEntry = 0;
  maxTimestamp = 0;

  constructor(
    readonly dir: string,
    readonly baseOffset: number,
    size: number,
    endOffset: number,
    createdMs: number,
  ) {
    this.logPath = join(dir, segmentFileName(baseOffset, '.log'));
    this.indexPath = join(dir, segmentFileName(baseOffset, '.index'));
    this.indexFile = new CachedPath(this.indexPath);
    this.size = size;
    this.endOffset = endOffset;
    this.createdMs = createdMs;
    this.lastWriteMs = createdMs;
  }

  static sealedFromStat(dir: string, baseOffset: number, endOffset: number, st: Stats): Segment {
    const seg = new Segment(dir, baseOffset, st.size, endOffset, st.mtimeMs);
    seg.lastWriteMs = st.mtimeMs;
    return seg;
  }

  /**
   * Index of a sealed segment, loaded on demand. An index that disagrees with the log (missing, cut short,
   * pointing past the end or at something that is not the batch it names) is rebuilt from the log.
   */
  async loadIndex(indexIntervalBytes: number): Promise<OffsetIndex> {
    if (this.index) return this.index;
    let bytes: Buffer | null = null;
    try {
      bytes = await readFile(this.indexPath);
    } catch {
      bytes = null;
    }
    if (this.index) return this.index;
    let index: OffsetIndex | null = bytes ? OffsetIndex.decode(bytes, this.size) : null;
    // Rare path (index lost or stale): a synchronous rebuild of one segment, then it is cached again.
    const fd = openSync(this.logPath, 'r');
    try {
      if (!index || !this.entriesPointAtBatches(fd, index)) {
        index = new OffsetIndex();
        scanLog(fd, this.baseOffset, 0, this.size, indexIntervalBytes, index, 0);
        index.persisted = 0; // rewrite the whole file on the next persist
      }
    } finally {
      closeSync(fd);
    }
    this.index = index;
    return index;
  }

  /** Called when the handle cache closes this segment's file: a sealed index is dropped with it. */
  onEvict(): void {
    if (!this.writable) this.index = null;
  }

  private entriesPointAtBatches(fd: number, index: OffsetIndex): boolean {
    if (index.length === 0) return true;
    // The last entry is the one a torn or stale index gets wrong; the first catches a wholesale mismatch.
    for (const i of new Set([0, index.length - 1])) {
      const header = readHeaderAt(fd, index.positionAt(i), this.size);
      if (!header || header.baseOffset !== this.baseOffset + index.relativeOffsetAt(i)) return false;
    }
    return true;
  }
}

function readHeaderAt(fd: number, pos: number, size: number): BatchHeader | null {
  if (pos >= size) return null;
  const buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
  const n = readSync(fd, buf, 0, BATCH_HEADER_BYTES, pos);
  return readBatchHeader(buf, 0, n);
}

export interface ScanResult {
  /** Byte position where the valid log ends. */
  validEnd: number;
  /** Offset one past the last valid record. */
  nextOffset: number;
  maxTimestamp: number;
  bytesSinceIndexEntry: number;
}

/**
 * Walks batches from `from` (a batch boundary whose base offset is >= expectedOffset) to `end`, checking
 * each CRC and that offsets are dense, adding index entries every `intervalBytes`. Stops at the first
 * batch that is cut short, fails its CRC or breaks offset order: that is where the valid log ends.
 */
export function scanLog(
  fd: number,
  baseOffset: number,
  from: number,
  end: number,
  intervalBytes: number,
  index: OffsetIndex,
  bytesSinceIndexEntry: number,
  expectedOffset = baseOffset,
): ScanResult {
  const chunkBytes = 1 << 20;
  // Sized to what is there: a recovery scan of a short tail must not allocate a megabyte per partition.
  let buf: Buffer = Buffer.allocUnsafe(Math.max(BATCH_HEADER_BYTES, Math.min(chunkBytes, end - from)));
  let bufStart = from;
  let bufLen = 0;
  let pos = from;
  let nextOffset: number | null = null;
  let maxTimestamp = 0;
  for (;;) {
    if (pos + BATCH_HEADER_BYTES > bufStart + bufLen) {
      ({ buf, bufLen } = fill(fd, buf, pos, Math.max(chunkBytes, BATCH_HEADER_BYTES), end));
      bufStart = pos;
    }
    const header = readBatchHeader(buf, pos - bufStart, bufLen);
    if (!header || pos + header.length > end) break;
    if (pos + header.length > bufStart + bufLen) {
      ({ buf, bufLen } = fill(fd, buf, pos, Math.max(chunkBytes, header.length), end));
      bufStart = pos;
    }
    if (!batchIsIntact(buf.subarray(0, bufLen), pos - bufStart, header)) break;
    if (header.baseOffset !== (nextOffset ?? expectedOffset)) break;
    if (bytesSinceIndexEntry >= intervalBytes && pos > index.lastPosition && pos > 0) {
      index.append(header.baseOffset - baseOffset, pos, maxTimestamp);
      bytesSinceIndexEntry = 0;
    }
    if (header.maxTimestamp > maxTimestamp) maxTimestamp = header.maxTimestamp;
    nextOffset = header.baseOffset + header.recordCount;
    pos += header.length;
    bytesSinceIndexEntry += header.length;
  }
  return { validEnd: pos, nextOffset: nextOffset ?? expectedOffset, maxTimestamp, bytesSinceIndexEntry };
}

function fill(fd: number, buf: Buffer, pos: number, want: number, end: number): { buf: Buffer; bufLen: number } {
  const len = Math.max(0, Math.min(want, end - pos));
  if (buf.length < len) buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return { buf, bufLen: got };
}

/** Size of the file behind fd; used at recovery only. */
export function fileSize(fd: number): number {
  return fstatSync(fd).size;
}

export function truncateFile(fd: number, size: number): void {
  ftruncateSync(fd, size);
}
