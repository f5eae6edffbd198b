// Bounds open file descriptors: segment files are opened on demand and the least recently used idle ones
// are closed once more than `limit` are open. A handle in use by a read (refs > 0) or by the writer
// (pinned) is never closed underneath it.
import { open, type FileHandle } from 'node:fs/promises';

export interface CachedFile {
  readonly logPath: string;
  handle: FileHandle | null;
  opening: Promise<FileHandle> | null;
  refs: number;
  pinned: boolean;
  closeWhenIdle: boolean;
  onEvict(): void;
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
        file.opening = open(file.logPath, file.pinned ? 'r+' : 'r').then((h) => {
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
      if (f.refs > 0 || f.pinned || !f.handle) continue;
      const h = f.handle;
      f.handle = null;
      this.lru.delete(f);
      f.onEvict();
      void h.close().catch(() => undefined);
    }
  }
}
