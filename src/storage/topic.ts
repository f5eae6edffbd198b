// A topic on disk: its metadata file, one log per partition and the committed cursors of its consumers.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CursorStore } from './cursor-store';
import type { EngineConfig } from './engine-config';
import { writeFileAtomicSync } from './fs-durable';
import type { HandleCache } from './handle-cache';
import { PartitionLog } from './log';

export const TOPIC_META_FILE = 'topic.json';

export interface TopicMeta {
  name: string;
  partitions: number;
  createdAt: string;
}

export class Topic {
  /** Set when the topic is being deleted: in-flight calls fail as "not found" rather than "closed". */
  deleted = false;

  private constructor(
    readonly dir: string,
    readonly meta: TopicMeta,
    readonly partitions: PartitionLog[],
    readonly cursors: CursorStore,
  ) {}

  get name(): string {
    return this.meta.name;
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, TOPIC_META_FILE));
  }

  /** Creates the directory layout; the metadata file is written last, atomically, and marks it complete. */
  static create(dir: string, meta: TopicMeta, config: EngineConfig, handles: HandleCache): Topic {
    mkdirSync(dir, { recursive: true });
    const partitions = Array.from({ length: meta.partitions }, (_, p) => PartitionLog.open(join(dir, String(p)), config, handles));
    const cursors = CursorStore.open(join(dir, 'cursors.log'), config.fsync);
    writeFileAtomicSync(join(dir, TOPIC_META_FILE), JSON.stringify(meta, null, 2) + '\n');
    return new Topic(dir, meta, partitions, cursors);
  }

  static open(dir: string, config: EngineConfig, handles: HandleCache): Topic {
    const meta = JSON.parse(readFileSync(join(dir, TOPIC_META_FILE), 'utf8')) as TopicMeta;
    if (!Number.isInteger(meta.partitions) || meta.partitions < 1) {
      throw new Error(`${dir}/${TOPIC_META_FILE}: invalid partition count ${meta.partitions}`);
    }
    const partitions = Array.from({ length: meta.partitions }, (_, p) => PartitionLog.open(join(dir, String(p)), config, handles));
    const cursors = CursorStore.open(join(dir, 'cursors.log'), config.fsync);
    return new Topic(dir, meta, partitions, cursors);
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
  }
}
