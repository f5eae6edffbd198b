// Bounds open file descriptors: every file the engine keeps open (segments, active or sealed, their
// indexes, cursor journals) is opened on demand and the least recently used idle ones are closed once more
// than `limit` are open, so open files stay under MAX_OPEN_SEGMENTS whatever the number of partitions. A
// handle in use (refs > 0: a read, a write, an fsync) is never closed underneath it; closing an idle
// writable file loses nothing, since an fsync through a handle opened later flushes the same inode.
import { open, type FileHandle } from 'node:fs/promises';

export interface CachedFile {
  readonly logPath: string;
  /** Opened read-write (an active segment, an index, a journal) rather than read-only. */
  writable: boolean;
  handle: FileHandle | null;
  opening: Promise<FileHandle> | null;
  refs: number;
  closeWhenIdle: boolean;
  onEvict(): void;
}

/** A writable file that is not a segment (an index file, a journal) kept in the same bound. */
export class CachedPath implements CachedFile {
  readonly writable = true;
  handle: FileHandle | null = null;
  opening: Promise<FileHandle> | null = null;
  refs = 0;
  closeWhenIdle = false;

  constructor(readonly logPath: string) {}

  onEvict(): void {}
}

export class HandleCache {
  private readonly lru = new Set<CachedFile>();

  constructor(private readonly limit: number) {}

  get openCount(): number {
    return this.lru.size;
  }

  async acquire(file: CachedFile): Promise<FileHandle> {
    file.refs++;
    try {
      if (file.handle) {
        this.lru.delete(file);
        this.lru.add(file);
        return file.handle;
      }
      if (!file.opening) {
        file.opening = open(file.logPath, file.writable ? 'r+' : 'r').then((h) => {
          file.handle = h;
          file.opening = null;
          this.lru.add(file);
          this.evict();
          return h;
        });
        file.opening.catch(() => (file.opening = null));
      }
      return await file.opening;
    } catch (err) {
      file.refs--;
      throw err;
    }
  }

  /** Runs `work` with the file's handle held (never closed underneath it), then lets it go. */
  async use<T>(file: CachedFile, work: (fh: FileHandle) => Promise<T>): Promise<T> {
    const fh = await this.acquire(file);
    try {
      return await work(fh);
    } finally {
      this.release(file);
    }
  }

  release(file: CachedFile): void {
    file.refs--;
    if (file.closeWhenIdle && file.refs === 0) {
      void this.close(file);
      return;
    }
    if (this.lru.size > this.limit) this.evict();
  }

  /** Closes a file's handle now (segment deleted or log closed); waits for nothing but the close. */
  async close(file: CachedFile): Promise<void> {
    if (file.opening) await file.opening.catch(() => undefined);
    const h = file.handle;
    file.handle = null;
    this.lru.delete(file);
    if (h) await h.close().catch(() => undefined);
  }

  private evict(): void {
    for (const f of this.lru) {
      if (this.lru.size <= this.limit) return;
      if (f.refs > 0 || !f.handle) continue;
      const h = f.handle;
      f.handle = null;
      this.lru.delete(f);
      f.onEvict();
      void h.close().catch(() => undefined);
    }
  }
}
