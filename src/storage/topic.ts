// A topic on disk: its metadata file, one log per partition and the committed cursors of its consumers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CursorStore } from './cursor-store';
import { IdempotencyWindow } from './idempotency-window';
import type { EngineConfig } from './engine-config';
import { mkdirDurableSync, writeFileAtomicSync } from './fs-durable';
import type { HandleCache } from './handle-cache';
import { PartitionLog } from './log';
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

export class Topic {
  /** Set when the topic is being deleted: in-flight calls fail as "not found" rather than "closed". */
  deleted = false;

  private constructor(
    readonly dir: string,
    public meta: TopicMeta,
    readonly partitions: PartitionLog[],
    readonly cursors: CursorStore,
    private readonly config: EngineConfig,
    private readonly handles: HandleCache,
    private readonly observer: StorageObserver,
  ) {}

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

  /** Creates the directory layout; the metadata file is written last, atomically, and marks it complete. */
  static create(dir: string, meta: TopicMeta, config: EngineConfig, handles: HandleCache, observer: StorageObserver): Topic {
    mkdirDurableSync(dir);
    const partitions = Array.from({ length: meta.partitions }, (_, p) => PartitionLog.open(join(dir, String(p)), config, handles, observer));
    const cursors = CursorStore.open(join(dir, 'cursors.log'), config.fsync, () => undefined, handles);
    writeFileAtomicSync(join(dir, TOPIC_META_FILE), JSON.stringify(meta, null, 2) + '\n');
    return new Topic(dir, meta, partitions, cursors, config, handles, observer);
  }

  static open(dir: string, config: EngineConfig, handles: HandleCache, observer: StorageObserver): Topic {
    const meta = JSON.parse(readFileSync(join(dir, TOPIC_META_FILE), 'utf8')) as TopicMeta;
    if (!Number.isInteger(meta.partitions) || meta.partitions < 1) {
      throw new Error(`${dir}/${TOPIC_META_FILE}: invalid partition count ${meta.partitions}`);
    }
    const partitions = Array.from({ length: meta.partitions }, (_, p) => PartitionLog.open(join(dir, String(p)), config, handles, observer));
    const cursors = CursorStore.open(join(dir, 'cursors.log'), config.fsync, (p) => partitions[p]?.endOffset, handles);
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
    await Promise.all([...this.partitions.map((p) => p.close()), this.cursors.close()]);
    // After the logs: the last snapshot then covers every marker they hold.
    const window = await this.window?.catch(() => null);
    await window?.close();
  }
}
