// TOPICS_FILE: topics declared in a JSON file are created at start, so a compose setup comes up ready.
// Format: [{"name": "orders", "partitions": 3}, ...] or {"topics": [...]}. Existing topics are left as they are.
import { readFileSync } from 'node:fs';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { StorageService } from '../storage/storage.service';

export interface DeclaredTopic {
  name: string;
  partitions?: number;
  retention_ms?: number;
  retention_bytes?: number;
}

export function parseTopicsFile(text: string, path: string): DeclaredTopic[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`TOPICS_FILE ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(value) ? value : (value as { topics?: unknown })?.topics;
  if (!Array.isArray(list)) throw new Error(`TOPICS_FILE ${path} must be a JSON array of topics or {"topics": [...]}`);
  return list.map((t, i) => {
    const e = t as DeclaredTopic;
    if (typeof e?.name !== 'string') throw new Error(`TOPICS_FILE ${path}: topic #${i} needs a "name"`);
    if (e.partitions !== undefined && !Number.isInteger(e.partitions)) throw new Error(`TOPICS_FILE ${path}: topic '${e.name}' partitions must be an integer`);
    for (const k of ['retention_ms', 'retention_bytes'] as const) {
      if (e[k] !== undefined && !(Number.isInteger(e[k]) && e[k]! >= 0)) throw new Error(`TOPICS_FILE ${path}: topic '${e.name}' ${k} must be a non-negative integer`);
    }
    return { name: e.name, partitions: e.partitions, retention_ms: e.retention_ms, retention_bytes: e.retention_bytes };
  });
}

@Injectable()
export class DeclaredTopics implements OnModuleInit {
  private readonly logger = new Logger('Topics');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.topicsFile) return;
    const topics = parseTopicsFile(readFileSync(this.config.topicsFile, 'utf8'), this.config.topicsFile);
    for (const t of topics) {
      const { created } = await this.storage.broker.createTopic(t.name, t.partitions ?? 1, {
        retentionMs: t.retention_ms,
        retentionBytes: t.retention_bytes,
      });
      if (created) this.logger.log(`Created declared topic '${t.name}' (${t.partitions ?? 1} partition(s))`);
    }
  }
}
