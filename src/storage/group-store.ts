// One consumer group's durable state: an append-only log of state records, group-committed and compacted.
//
// File: DATA_DIR/topics/<topic>/groups/<group>.log. Record: bodyLength u32 | crc u32 (of the body) | body,
// body = type u8 | partition u32 | offset f64 | fields of the type (below). Every change of the group (a
// lease granted or extended, an ack, a nack, a config change) is a record; concurrent changes are written
// together with one write and one fsync (FSYNC=always), and a caller is answered only once its records are
// durable. A torn or corrupt tail ends the valid log and is cut at open. Once the log is several times the
// size of the live state it is rewritten as a snapshot: tmp file, fsync, rename, fsync the directory.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { GroupRecord, SettleKind } from './consumer-group';
import type { FsyncPolicy } from './engine-config';
import { StorageError, storageUnavailable } from './errors';
import { fsyncDir, writeFileAtomic } from './fs-durable';

const HEAD = 8;
const COMMON = 1 + 4 + 8;
const TYPE = { config: 1, position: 2, lease: 3, pending: 4, settle: 5 } as const;
const KIND: SettleKind[] = ['acked', 'dead-lettered'];
const NO_KEY = 0xff;

export interface GroupStoreOptions {
  fsync: FsyncPolicy;
  /** Never compact a log smaller than this. */
  minCompactBytes?: number;
}

interface Batch {
  buffers: Buffer[];
  bytes: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class GroupStore {
  private queued: Batch | null = null;
  private writing: Promise<void> | null = null;
  /** The batch being written, for barrier(). */
  private inFlight: Promise<void> | null = null;
  private handle: FileHandle | null = null;
  private dirty = false;
  private closed = false;
  /** Set after a failed write: the file was cut back to its last good size and this instance takes no more writes. */
  failed = false;
  private snapshotBytes: number;
  private readonly minCompactBytes: number;

  private constructor(
    readonly path: string,
    private readonly options: GroupStoreOptions,
    private fileBytes: number,
    /** Builds the snapshot records of the live state; called only when no record waits to be written. */
    private snapshot: () => GroupRecord[],
  ) {
    this.snapshotBytes = fileBytes;
    this.minCompactBytes = options.minCompactBytes ?? 256 * 1024;
  }

  /** Reads a group's log (creating an empty one), cuts a torn tail and returns the valid records in order. */
  static async open(path: string, options: GroupStoreOptions): Promise<{ store: GroupStore; records: GroupRecord[] }> {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      const fh = await open(path, 'w');
      await fh.sync();
      await fh.close();
      await fsyncDir(dirname(path));
      // Also the topic's directory, every time: groups/ may have just been created by a concurrent first group
      // whose own fsync of it has not finished, and this group's answers must not depend on that one.
      await fsyncDir(dirname(dirname(path)));
      data = Buffer.alloc(0);
    }
    const records: GroupRecord[] = [];
    const validEnd = decodeGroupRecords(data, records);
    if (validEnd < data.length) {
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(validEnd);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    const store = new GroupStore(path, options, validEnd, () => []);
    return { store, records };
  }

  /** Tells the store how to snapshot the live state (the group is built from the records open returned). */
  setSnapshotSource(snapshot: () => GroupRecord[]): void {
    this.snapshot = snapshot;
  }

  get sizeBytes(): number {
    return this.fileBytes;
  }

  /** Queues records for the next group commit; resolves once they (and everything queued before) are durable. */
  append(records: GroupRecord[]): Promise<void> {
    if (records.length === 0) return this.barrier();
    if (this.failed || this.closed) return Promise.reject(this.unavailable());
    const batch = (this.queued ??= newBatch());
    for (const r of records) {
      const buf = encodeGroupRecord(r);
      batch.buffers.push(buf);
      batch.bytes += buf.length;
    }
    if (!this.writing) this.writing = this.writeLoop();
    return batch.promise;
  }

  /** Resolves once everything appended so far is durable (a repeated ack answers only after the first landed). */
  barrier(): Promise<void> {
    if (this.failed) return Promise.reject(this.unavailable());
    return this.queued?.promise ?? this.inFlight ?? Promise.resolve();
  }

  private async writeLoop(): Promise<void> {
    // Let the callers of this tick queue their records too: one write and one fsync for all of them.
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.queued) {
        const batch = this.queued;
        this.queued = null;
        this.inFlight = batch.promise;
        try {
          await this.writeBatch(batch);
          batch.resolve();
        } catch (err) {
          this.failed = true;
          batch.reject(err as Error);
          // Records queued behind the failed batch were appended after it in memory: they fail with it.
          const behind = this.queued as Batch | null;
          behind?.reject(this.unavailable());
          this.queued = null;
          return;
        }
        if (!this.queued && this.fileBytes > Math.max(this.minCompactBytes, 4 * this.snapshotBytes)) {
          await this.compact().catch(() => undefined); // a failed compaction leaves the longer, valid log
        }
      }
    } finally {
      this.inFlight = null;
      this.writing = null;
    }
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const buf = batch.buffers.length === 1 ? batch.buffers[0] : Buffer.concat(batch.buffers, batch.bytes);
    try {
      this.handle ??= await open(this.path, 'r+');
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await this.handle.write(buf, done, buf.length - done, this.fileBytes + done);
        done += bytesWritten;
      }
      if (this.options.fsync === 'always') await this.handle.datasync();
      else this.dirty = true;
    } catch (err) {
      await this.handle?.truncate(this.fileBytes).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw storageUnavailable(`Could not store the consumer group's state (${code === 'ENOSPC' ? 'disk full' : code}); retry`, 5);
    }
    this.fileBytes += buf.length;
  }

  /** Rewrites the log as the snapshot of the live state. Runs only between batches, with nothing queued. */
  private async compact(): Promise<void> {
    const records = this.snapshot();
    if (records.length === 0) return;
    const data = Buffer.concat(records.map(encodeGroupRecord));
    await writeFileAtomic(this.path, data);
    await this.handle?.close();
    this.handle = null;
    this.fileBytes = data.length;
    this.snapshotBytes = data.length;
  }

  /** Replaces the whole log with `records` now (a reset after the topic was recreated); nothing may be queued. */
  async rewrite(records: GroupRecord[]): Promise<void> {
    if (this.queued || this.writing) throw new StorageError('CORRUPT_RECORD', 'group log rewrite while writes are queued');
    const previous = this.snapshot;
    this.snapshot = () => records;
    try {
      await this.compact();
    } finally {
      this.snapshot = previous;
    }
  }

  async syncIfDirty(): Promise<void> {
    if (!this.dirty || !this.handle) return;
    this.dirty = false;
    await this.handle.datasync();
  }

  /** Waits for queued writes, fsyncs and closes the file. */
  async close(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
    this.closed = true;
    if (this.handle) {
      await this.handle.datasync().catch(() => undefined);
      await this.handle.close().catch(() => undefined);
      this.handle = null;
    }
  }

  private unavailable(): StorageError {
    return storageUnavailable(this.closed ? 'The consumer group is closing; retry' : 'The consumer group could not store its state; retry', 1);
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // appenders observe it; a batch nobody awaits must not be "unhandled"
  return { buffers: [], bytes: 0, promise, resolve, reject };
}

export function encodeGroupRecord(r: GroupRecord): Buffer {
  const json = r.type === 'config' ? Buffer.from(JSON.stringify(r.config), 'utf8') : null;
  const keyId = r.type === 'lease' || r.type === 'pending' ? r.keyId : null;
  const keyBytes = keyId ? Buffer.byteLength(keyId, 'latin1') : 0;
  const extra =
    r.type === 'config'
      ? json!.length
      : r.type === 'position'
        ? 16
        : r.type === 'settle'
          ? 9
          : 8 + 8 + 4 + 1 + keyBytes;
  const bodyLength = COMMON + extra;
  const buf = Buffer.allocUnsafe(HEAD + bodyLength);
  let pos = HEAD;
  buf.writeUInt8(TYPE[r.type], pos);
  buf.writeUInt32BE(r.type === 'config' ? 0 : r.partition, pos + 1);
  buf.writeDoubleBE(r.type === 'config' ? 0 : r.type === 'position' ? r.committed : r.offset, pos + 5);
  pos += COMMON;
  switch (r.type) {
    case 'config':
      json!.copy(buf, pos);
      break;
    case 'position':
      buf.writeDoubleBE(r.next, pos);
      buf.writeDoubleBE(r.deadLettered, pos + 8);
      break;
    case 'settle':
      buf.write(r.nonce, pos, 8, 'hex');
      buf.writeUInt8(KIND.indexOf(r.kind), pos + 8);
      break;
    case 'lease':
    case 'pending':
      buf.write(r.nonce, pos, 8, 'hex');
      buf.writeDoubleBE(r.type === 'lease' ? r.expiresAt : r.notBefore, pos + 8);
      buf.writeUInt32BE(r.deliveries, pos + 16);
      buf.writeUInt8(keyId ? keyBytes : NO_KEY, pos + 20);
      if (keyId) buf.write(keyId, pos + 21, 'latin1');
      break;
  }
  buf.writeUInt32BE(bodyLength, 0);
  buf.writeUInt32BE(crc32(buf.subarray(HEAD)), 4);
  return buf;
}

/** Decodes records onto `out` and returns where the valid log ends (a torn or corrupt record ends it). */
export function decodeGroupRecords(data: Buffer, out: GroupRecord[]): number {
  let pos = 0;
  while (pos + HEAD + COMMON <= data.length) {
    const bodyLength = data.readUInt32BE(pos);
    const body = pos + HEAD;
    if (bodyLength < COMMON || body + bodyLength > data.length) break;
    if (crc32(data.subarray(body, body + bodyLength)) !== data.readUInt32BE(pos + 4)) break;
    const r = decodeBody(data.subarray(body, body + bodyLength));
    if (!r) break;
    out.push(r);
    pos = body + bodyLength;
  }
  return pos;
}

function decodeBody(b: Buffer): GroupRecord | null {
  const type = b.readUInt8(0);
  const partition = b.readUInt32BE(1);
  const offset = b.readDoubleBE(5);
  const rest = b.length - COMMON;
  switch (type) {
    case TYPE.config:
      try {
        return { type: 'config', config: JSON.parse(b.toString('utf8', COMMON)) };
      } catch {
        return null;
      }
    case TYPE.position:
      if (rest !== 16) return null;
      return { type: 'position', partition, committed: offset, next: b.readDoubleBE(COMMON), deadLettered: b.readDoubleBE(COMMON + 8) };
    case TYPE.settle: {
      const kind = KIND[b.readUInt8(COMMON + 8)];
      if (rest !== 9 || !kind) return null;
      return { type: 'settle', partition, offset, nonce: b.toString('hex', COMMON, COMMON + 8), kind };
    }
    case TYPE.lease:
    case TYPE.pending: {
      if (rest < 21) return null;
      const keyLen = b.readUInt8(COMMON + 20);
      if (rest !== 21 + (keyLen === NO_KEY ? 0 : keyLen)) return null;
      const keyId = keyLen === NO_KEY ? null : b.toString('latin1', COMMON + 21, COMMON + 21 + keyLen);
      const nonce = b.toString('hex', COMMON, COMMON + 8);
      const time = b.readDoubleBE(COMMON + 8);
      const deliveries = b.readUInt32BE(COMMON + 16);
      return type === TYPE.lease
        ? { type: 'lease', partition, offset, nonce, expiresAt: time, deliveries, keyId }
        : { type: 'pending', partition, offset, nonce, notBefore: time, deliveries, keyId };
    }
    default:
      return null;
  }
}
