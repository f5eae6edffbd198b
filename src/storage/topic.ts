// A topic on disk: its metadata file, one log per partition and the committed cursors of its consumers.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CursorStore } from './cursor-store';
import { IdempotencyWindow } from './idempotency-window';
import type { EngineConfig } from './engine-config';
import { fsyncDir, writeFileAtomicSync } from './fs-durable';
import type { HandleCache } from './handle-cache';
import { PartitionLog, type PartitionSummary } from './log';
import type { StorageObserver } from './observer';

export const TOPIC_META_FILE = 'topic.json';

export interface TopicMeta {
  name: string;
  partitions: number;
  createdAt: string;
  /** Per-topic retention overrides (TOPICS_FILE or create); the broker-wide settings apply when absent. */
  retentionMs?: number;
  retentionBytes?: number;
}

/** A topic as a clean shutdown left it: enough to serve its views without opening any of its files. */
export interface TopicSummary {
  meta: TopicMeta;
  partitions: PartitionSummary[];
}

const CURSORS_FILE = 'cursors.log';

export class Topic {
  /** Set when the topic is being deleted: in-flight calls fail as "not found" rather than "closed". */
  deleted = false;

  private constructor(
    readonly dir: string,
    public meta: TopicMeta,
    readonly partitions: PartitionLog[],
    private cursorStore: CursorStore | null,
    private readonly config: EngineConfig,
    private readonly handles: HandleCache,
    private readonly observer: StorageObserver,
    /** Log ends at the last clean shutdown, for a cursor journal opened later (lazy topics only). */
    private readonly cleanEnds: number[] = [],
  ) {}

  /**
   * Committed cursors, loaded on first use for a topic left by a clean shutdown. Its cursors are then all
   * within the log ends of that shutdown (acks and seeks never pass the end, and close synced both), so the
   * clamp against those ends is the one a crash start applies at once.
   */
  get cursors(): CursorStore {
    this.cursorStore ??= CursorStore.open(join(this.dir, CURSORS_FILE), this.config.fsync, (p) => this.cleanEnds[p], this.handles);
    return this.cursorStore;
  }

  /** The cursor journal when it was opened (an unopened one has nothing to flush or close). */
  get openCursors(): CursorStore | null {
    return this.cursorStore;
  }

  private window: Promise<IdempotencyWindow> | null = null;

  /** Opened on first use (most topics never see an Idempotency-Key), so start-up never reads a log for it. */
  idempotencyWindow(): Promise<IdempotencyWindow> {
    if (!this.window) {
      const opening = IdempotencyWindow.open(this.dir, this.partitions, this.config.idempotencyWindowMs, this.config.idempotencyMaxKeys);
      // A failed open (a read error) is retried by the next request rather than remembered.
      opening.catch(() => {
        if (this.window === opening) this.window = null;
      });
      this.window = opening;
    }
    return this.window;
  }

  /** Round-robin start for unkeyed produces and whole-topic polls. */
  private nextPartition = 0;

  rotatePartition(): number {
    const p = this.nextPartition % this.partitions.length;
    this.nextPartition = p + 1;
    return p;
  }

  /** Partitions can grow, never shrink: existing keys may move, existing offsets never do. */
  growPartitions(count: number): void {
    if (count <= this.partitions.length) return;
    for (let p = this.partitions.length; p < count; p++) {
      this.partitions.push(PartitionLog.open(join(this.dir, String(p)), this.config, this.handles, this.observer));
    }
    this.meta = { ...this.meta, partitions: count };
    writeFileAtomicSync(join(this.dir, TOPIC_META_FILE), JSON.stringify(this.meta, null, 2) + '\n');
  }

  get name(): string {
    return this.meta.name;
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, TOPIC_META_FILE));
  }

  /**
   * Creates the topic with async I/O (the request path) and three fsyncs whatever its partition count: the
   * topics directory (the new topic directory; shared with concurrent creates through `syncTopicsDir`), and
   * topic.json written last by tmp + fsync + rename + fsync of the topic directory (which also holds the empty
   * cursors.log). Partition directories and segment files come with each partition's first append, which
   * makes them durable before it writes. topic.json marks the topic complete: a crash before it leaves a
   * directory that the next start deletes, and a retry of the create completes it.
   */
  static async create(
    dir: string,
    meta: TopicMeta,
    config: EngineConfig,
    handles: HandleCache,
    observer: StorageObserver,
    syncTopicsDir: () => Promise<void>,
  ): Promise<Topic> {
    await mkdir(dir, { recursive: true });
    const metaPath = join(dir, TOPIC_META_FILE);
    const tmp = `${metaPath}.tmp`;
    await Promise.all([writeFile(join(dir, CURSORS_FILE), '', { flag: 'a' }), writeSynced(tmp, JSON.stringify(meta, null, 2) + '\n'), syncTopicsDir()]);
    await rename(tmp, metaPath);
    await fsyncDir(dir);
    const partitions = Array.from({ length: meta.partitions }, (_, p) => PartitionLog.created(join(dir, String(p)), config, handles, observer));
    // The cursor journal (empty, durable) is read on first use: no sync I/O on the create's path.
    return new Topic(dir, meta, partitions, null, config, handles, observer);
  }

  /** A topic left by a clean shutdown: nothing of it is read until it is used. */
  static lazy(dir: string, summary: TopicSummary, config: EngineConfig, handles: HandleCache, observer: StorageObserver): Topic {
    const partitions = Array.from({ length: summary.meta.partitions }, (_, p) => {
      const pdir = join(dir, String(p));
      const s = summary.partitions[p];
      // A partition the summary does not describe (never expected) is opened at once, the way a crash start does.
      return s ? PartitionLog.lazy(pdir, config, handles, observer, s) : PartitionLog.open(pdir, config, handles, observer);
    });
    const ends = summary.partitions.map((s) => s.endOffset);
    return new Topic(dir, summary.meta, partitions, null, config, handles, observer, ends);
  }

  summary(): TopicSummary {
    return { meta: this.meta, partitions: this.partitions.map((p) => p.summary()) };
  }

  static open(dir: string, config: EngineConfig, handles: HandleCache, observer: StorageObserver): Topic {
    const meta = JSON.parse(readFileSync(join(dir, TOPIC_META_FILE), 'utf8')) as TopicMeta;
    if (!Number.isInteger(meta.partitions) || meta.partitions < 1) {
      throw new Error(`${dir}/${TOPIC_META_FILE}: invalid partition count ${meta.partitions}`);
    }
    const partitions = Array.from({ length: meta.partitions }, (_, p) => PartitionLog.open(join(dir, String(p)), config, handles, observer));
    const cursors = CursorStore.open(join(dir, CURSORS_FILE), config.fsync, (p) => partitions[p]?.endOffset, handles);
    return new Topic(dir, meta, partitions, cursors, config, handles, observer);
  }

  get messageCount(): number {
    let n = 0;
    for (const p of this.partitions) n += p.endOffset - p.startOffset;
    return n;
  }

  get sizeBytes(): number {
    let n = 0;
    for (const p of this.partitions) n += p.sizeBytes;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.partitions.map((p) => p.close()), this.cursorStore?.close()]);
    // After the logs: the last snapshot then covers every marker they hold.
    const window = await this.window?.catch(() => null);
    await window?.close();
  }
}

/** Writes a new file and fsyncs it (its directory entry is the caller's to make durable). */
async function writeSynced(path: string, data: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
