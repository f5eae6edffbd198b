// The clean-shutdown marker (Kafka's .kafka_cleanshutdown): written last by a close that synced every log,
// it lets the next start skip recovery and open partitions on first use, from the summary it carries.
//
// DATA_DIR/.clean-shutdown holds, per topic, its metadata and per partition [start, end, bytes, segments].
// It is removed (and the removal fsynced) at start before anything is served, so a crash of that run finds
// no marker and recovers every partition's tail as before. A marker that cannot be read is no marker.
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './fs-durable';
import type { PartitionSummary } from './log';
import type { TopicMeta, TopicSummary } from './topic';

export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
const VERSION = 1;

type PartitionTuple = [start: number, end: number, bytes: number, segments: number];

interface MarkerFile {
  version: number;
  closedAt: string;
  topics: Record<string, { meta: TopicMeta; partitions: PartitionTuple[] }>;
}

/** Writes the marker with every topic's summary: tmp file, fsync, rename, fsync DATA_DIR. */
export async function writeCleanShutdown(dataDir: string, topics: TopicSummary[]): Promise<void> {
  const file: MarkerFile = { version: VERSION, closedAt: new Date().toISOString(), topics: {} };
  for (const t of topics) {
    file.topics[t.meta.name] = { meta: t.meta, partitions: t.partitions.map((p) => [p.startOffset, p.endOffset, p.sizeBytes, p.segmentCount]) };
  }
  await writeFileAtomic(join(dataDir, CLEAN_SHUTDOWN_FILE), JSON.stringify(file));
}

/**
 * Reads and removes the marker: the topic summaries it carries after a clean shutdown, or null (no marker,
 * or one that does not parse: then every partition is recovered, as after a crash). Startup only: sync I/O.
 */
export function takeCleanShutdown(dataDir: string): Map<string, TopicSummary> | null {
  const path = join(dataDir, CLEAN_SHUTDOWN_FILE);
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // Gone for good before the first request: a crash from here on must not be mistaken for a clean stop.
  unlinkSync(path);
  const fd = openSync(dataDir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return parseMarker(raw);
}

function parseMarker(raw: string): Map<string, TopicSummary> | null {
  let file: MarkerFile;
  try {
    file = JSON.parse(raw) as MarkerFile;
  } catch {
    return null;
  }
  if (file?.version !== VERSION || typeof file.topics !== 'object' || file.topics === null) return null;
  const out = new Map<string, TopicSummary>();
  for (const [name, t] of Object.entries(file.topics)) {
    const meta = t?.meta;
    if (!meta || meta.name !== name || !Number.isInteger(meta.partitions) || meta.partitions < 1) return null;
    if (!Array.isArray(t.partitions) || t.partitions.length !== meta.partitions) return null;
    const partitions: PartitionSummary[] = [];
    for (const p of t.partitions) {
      if (!Array.isArray(p) || p.length !== 4 || !p.every((n) => Number.isSafeInteger(n) && n >= 0) || p[1] < p[0] || p[3] < 1) return null;
      partitions.push({ startOffset: p[0], endOffset: p[1], sizeBytes: p[2], segmentCount: p[3] });
    }
    out.set(name, { meta, partitions });
  }
  return out;
}
