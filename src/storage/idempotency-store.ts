// Idempotent produce: a retried request with the same Idempotency-Key (per topic, within a window) gets the
// original answer instead of writing twice. Kept in memory and in an append-only file, so the window
// survives a restart; expired entries are dropped when the file is rewritten at open.
//
// Record: bodyLength u32 | crc u32 | expiresAt f64 | keyLength u16 | key | answer (UTF-8 JSON).
import { readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { FsyncPolicy } from './engine-config';
import { writeFileAtomicSync } from './fs-durable';

const HEAD = 8;

export interface IdempotentAnswer {
  status: number;
  body: unknown;
}

interface Entry {
  expiresAt: number;
  answer: IdempotentAnswer;
}

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<IdempotentAnswer>>();
  private handle: FileHandle | null = null;
  private size: number;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly fsync: FsyncPolicy,
    private readonly windowMs: number,
    private readonly maxEntries: number,
    size: number,
  ) {
    this.size = size;
  }

  /** Loads unexpired entries and rewrites the file without the expired ones. Startup only: sync I/O. */
  static open(path: string, fsync: FsyncPolicy, windowMs: number, maxEntries: number, now = Date.now()): IdempotencyStore {
    let data: Buffer = Buffer.alloc(0);
    try {
      data = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const live: Array<[string, Entry]> = [];
    for (let pos = 0; pos + HEAD + 10 <= data.length; ) {
      const bodyLength = data.readUInt32BE(pos);
      const body = pos + HEAD;
      if (body + bodyLength > data.length || crc32(data.subarray(body, body + bodyLength)) !== data.readUInt32BE(pos + 4)) break;
      const expiresAt = data.readDoubleBE(body);
      const keyLength = data.readUInt16BE(body + 8);
      const key = data.toString('utf8', body + 10, body + 10 + keyLength);
      const answer = JSON.parse(data.toString('utf8', body + 10 + keyLength, body + bodyLength)) as IdempotentAnswer;
      if (expiresAt > now) live.push([key, { expiresAt, answer }]);
      pos = body + bodyLength;
    }
    const snapshot = Buffer.concat(live.map(([k, e]) => encode(k, e)));
    writeFileAtomicSync(path, snapshot);
    const store = new IdempotencyStore(path, fsync, windowMs, maxEntries, snapshot.length);
    for (const [k, e] of live) store.entries.set(k, e);
    return store;
  }

  /**
   * Runs `produce` once per key within the window: a repeat (or a concurrent duplicate) answers the
   * original result, with `replayed: true`. The answer is durable before it is returned.
   */
  async run(key: string, produce: () => Promise<IdempotentAnswer>, now = Date.now()): Promise<IdempotentAnswer & { replayed: boolean }> {
    const known = this.entries.get(key);
    if (known && known.expiresAt > now) return { ...known.answer, replayed: true };
    const pending = this.inFlight.get(key);
    if (pending) return { ...(await pending), replayed: true };
    const work = (async () => {
      const answer = await produce();
      const entry = { expiresAt: Date.now() + this.windowMs, answer };
      this.remember(key, entry);
      await this.append(encode(key, entry));
      return answer;
    })();
    this.inFlight.set(key, work);
    try {
      return { ...(await work), replayed: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    // Bounded: the oldest keys go first (Map keeps insertion order).
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
  }

  private append(record: Buffer): Promise<void> {
    const next = this.writing.then(async () => {
      this.handle ??= await open(this.path, 'r+');
      await this.handle.write(record, 0, record.length, this.size);
      this.size += record.length;
      if (this.fsync === 'always') await this.handle.datasync();
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.handle?.close();
    this.handle = null;
  }
}

function encode(key: string, entry: Entry): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const answer = Buffer.from(JSON.stringify(entry.answer), 'utf8');
  const bodyLength = 10 + keyBytes.length + answer.length;
  const buf = Buffer.allocUnsafe(HEAD + bodyLength);
  buf.writeUInt32BE(bodyLength, 0);
  buf.writeDoubleBE(entry.expiresAt, HEAD);
  buf.writeUInt16BE(keyBytes.length, HEAD + 8);
  keyBytes.copy(buf, HEAD + 10);
  answer.copy(buf, HEAD + 10 + keyBytes.length);
  buf.writeUInt32BE(crc32(buf.subarray(HEAD)), 4);
  return buf;
}
