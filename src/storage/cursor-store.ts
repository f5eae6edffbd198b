// Committed consumer offsets of one topic: an append-only commit log, compacted by atomic rename.
//
// Record: bodyLength u32 | crc u32 (of the body) | body = partition u32 | offset f64 | idLength u16 | id.
// Concurrent commits are group-committed like produces: one write and one fsync answer them all. The
// file is a log, not a file per consumer or per ack, and is rewritten as a snapshot once it is mostly
// superseded records, so its size follows the number of consumers, not the number of acks.
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { FsyncPolicy } from './engine-config';
import { StorageError, storageUnavailable } from './errors';
import { writeFileAtomic, writeFileAtomicSync } from './fs-durable';
import { CachedPath, HandleCache } from './handle-cache';

const RECORD_HEAD = 8;
const BODY_FIXED = 4 + 8 + 2;
const MIN_COMPACT_BYTES = 1024 * 1024;

interface PendingCommit {
  key: string;
  partition: number;
  consumerId: string;
  offset: number;
  previous: number | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface CommittedCursor {
  consumerId: string;
  partition: number;
  offset: number;
}

const keyOf = (consumerId: string, partition: number) => `${partition}\u0000${consumerId}`;

export class CursorStore {
  private readonly cursors = new Map<string, CommittedCursor>();
  /** Per cursor, the newest commit not yet durable: a no-op ack must not be answered before it lands. */
  private readonly pendingByKey = new Map<string, Promise<boolean>>();
  private queue: PendingCommit[] = [];
  private flushing = false;
  private fileBytes: number;
  private readonly file: CachedPath;
  private closing: Promise<void> | null = null;
  private dirty = false;

  private constructor(
    private readonly path: string,
    private readonly fsync: FsyncPolicy,
    fileBytes: number,
    private readonly handles: HandleCache,
  ) {
    this.fileBytes = fileBytes;
    this.file = new CachedPath(path);
  }

  /** Loads the commit log, cutting a torn or corrupt tail. Startup only: sync I/O. */
  /**
   * `logEnd(partition)` brings back cursors that point past a partition's end: after a crash under
   * FSYNC=never/interval lost the unsynced tail, new messages reuse those offsets and must not be skipped.
   */
  static open(
    path: string,
    fsync: FsyncPolicy,
    logEnd: (partition: number) => number | undefined = () => undefined,
    handles: HandleCache = new HandleCache(1),
  ): CursorStore {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      data = Buffer.alloc(0);
      const fd = openSync(path, 'w');
      fsyncSync(fd);
      closeSync(fd);
    }
    const entries: CommittedCursor[] = [];
    const validEnd = decodeCommits(data, entries);
    if (validEnd < data.length) {
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, validEnd);
      fsyncSync(fd);
      closeSync(fd);
    }
    let fileBytes = validEnd;
    const live = new Map<string, CommittedCursor>();
    for (const e of entries) live.set(keyOf(e.consumerId, e.partition), e);
    let clamped = false;
    for (const e of live.values()) {
      const end = logEnd(e.partition);
      if (end !== undefined && e.offset > end) {
        e.offset = end;
        clamped = true;
      }
    }
    if (clamped) {
      // Rewritten as a snapshot before anything is served, so the clamp itself survives another crash.
      const snapshot = encodeCommits([...live.values()]);
      writeFileAtomicSync(path, snapshot);
      fileBytes = snapshot.length;
    }
    const store = new CursorStore(path, fsync, fileBytes, handles);
    for (const [k, e] of live) store.cursors.set(k, e);
    return store;
  }

  get(consumerId: string, partition: number): number | undefined {
    return this.cursors.get(keyOf(consumerId, partition))?.offset;
  }

  /** Every committed cursor; for the topic view and for consumer listings. */
  all(): IterableIterator<CommittedCursor> {
    return this.cursors.values();
  }

  get size(): number {
    return this.cursors.size;
  }

  /**
   * Sets a cursor and resolves once the commit is durable. With `onlyForward` (an ack), a commit that would
   * move the cursor backwards is a no-op that resolves immediately: late and repeated acks are harmless.
   */
  commit(consumerId: string, partition: number, offset: number, onlyForward: boolean): Promise<boolean> {
    if (this.closing) return Promise.reject(new StorageError('CLOSED', 'The cursor store is closing'));
    const key = keyOf(consumerId, partition);
    const previous = this.cursors.get(key)?.offset;
    if (previous === offset || (onlyForward && previous !== undefined && previous > offset)) {
      // The in-memory cursor may still be on its way to disk: a retried or late ack is answered once it is durable.
      const pending = this.pendingByKey.get(key);
      return pending ? pending.then(() => false) : Promise.resolve(false);
    }
    // Visible at once so concurrent acks compare against the newest value; undone if the write fails.
    this.cursors.set(key, { consumerId, partition, offset });
    const committed = new Promise<boolean>((resolve, reject) => {
      this.queue.push({ key, partition, consumerId, offset, previous, resolve: () => resolve(true), reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flushLoop());
      }
    });
    this.pendingByKey.set(key, committed);
    const settled = () => {
      if (this.pendingByKey.get(key) === committed) this.pendingByKey.delete(key);
    };
    committed.then(settled, settled);
    return committed;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const items = this.queue;
        this.queue = [];
        await this.writeCommits(items);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeCommits(items: PendingCommit[]): Promise<void> {
    const buf = encodeCommits(items);
    try {
      await this.handles.use(this.file, async (fh) => {
        let done = 0;
        while (done < buf.length) {
          const { bytesWritten } = await fh.write(buf, done, buf.length - done, this.fileBytes + done);
          done += bytesWritten;
        }
        if (this.fsync === 'always') await fh.datasync();
        else this.dirty = true;
      });
    } catch (err) {
      for (const item of items) {
        if (this.cursors.get(item.key)?.offset === item.offset) {
          if (item.previous === undefined) this.cursors.delete(item.key);
          else this.cursors.set(item.key, { consumerId: item.consumerId, partition: item.partition, offset: item.previous });
        }
      }
      await this.handles.use(this.file, (fh) => fh.truncate(this.fileBytes)).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      const e = storageUnavailable(`Could not store the cursor (${code === 'ENOSPC' ? 'disk full' : code}); retry`, 5);
      for (const item of items) item.reject(e);
      return;
    }
    this.fileBytes += buf.length;
    for (const item of items) item.resolve();
    if (this.fileBytes > Math.max(MIN_COMPACT_BYTES, this.cursors.size * 256)) {
      await this.compact().catch(() => undefined); // a failed compaction leaves the longer, valid log
    }
  }

  /** Rewrites the log as one record per live cursor: tmp file, fsync, rename, fsync the directory. */
  private async compact(): Promise<void> {
    const live: PendingCommit[] = [];
    for (const [key, c] of this.cursors) live.push({ key, ...c, previous: undefined, resolve: noop, reject: noop });
    const snapshot = encodeCommits(live);
    await writeFileAtomic(this.path, snapshot);
    await this.handles.close(this.file); // it names the replaced file: the next write opens the snapshot
    this.fileBytes = snapshot.length;
  }

  async syncIfDirty(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.handles.use(this.file, (fh) => fh.datasync());
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.flushing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
      if (this.dirty) await this.syncIfDirty().catch(() => undefined);
      await this.handles.close(this.file);
    })();
    return this.closing;
  }
}

function noop(): void {}

function encodeCommits(items: Array<{ partition: number; consumerId: string; offset: number }>): Buffer {
  let total = 0;
  for (const it of items) total += RECORD_HEAD + BODY_FIXED + Buffer.byteLength(it.consumerId);
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const it of items) {
    const body = pos + RECORD_HEAD;
    buf.writeUInt32BE(it.partition, body);
    buf.writeDoubleBE(it.offset, body + 4);
    const idLength = buf.write(it.consumerId, body + BODY_FIXED, 'utf8');
    buf.writeUInt16BE(idLength, body + 12);
    const bodyLength = BODY_FIXED + idLength;
    buf.writeUInt32BE(bodyLength, pos);
    buf.writeUInt32BE(crc32(buf.subarray(body, body + bodyLength)), pos + 4);
    pos = body + bodyLength;
  }
  return buf;
}

/** Decodes commit records onto `out` and returns where the valid log ends. */
function decodeCommits(data: Buffer, out: CommittedCursor[]): number {
  let pos = 0;
  while (pos + RECORD_HEAD + BODY_FIXED <= data.length) {
    const bodyLength = data.readUInt32BE(pos);
    const body = pos + RECORD_HEAD;
    if (bodyLength < BODY_FIXED || body + bodyLength > data.length) break;
    if (crc32(data.subarray(body, body + bodyLength)) !== data.readUInt32BE(pos + 4)) break;
    const idLength = data.readUInt16BE(body + 12);
    if (BODY_FIXED + idLength !== bodyLength) break;
    out.push({
      partition: data.readUInt32BE(body),
      offset: data.readDoubleBE(body + 4),
      consumerId: data.toString('utf8', body + BODY_FIXED, body + bodyLength),
    });
    pos = body + bodyLength;
  }
  return pos;
}
