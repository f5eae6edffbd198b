// Shared helpers of the engine unit tests: temp dirs, small configs, and direct access to segment files.
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultEngineConfig, type EngineConfig } from '../../src/storage/engine-config';
import { StorageError, type StorageErrorCode } from '../../src/storage/errors';
import { HandleCache } from '../../src/storage/handle-cache';
import { PartitionLog } from '../../src/storage/log';
import { prepareRecord, readBatchHeader, type ProducerRecord, type StoredRecord } from '../../src/storage/record-batch';
import { parseSegmentFileName, segmentFileName } from '../../src/storage/segment';

export function makeTempDir(prefix = 'mk-unit-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A config with small segments and a dense index, so a few KiB of messages exercise rolls and lookups. */
export function smallConfig(dataDir: string, overrides: Partial<EngineConfig> = {}): EngineConfig {
  return { ...defaultEngineConfig(dataDir), segmentBytes: 4096, indexIntervalBytes: 256, ...overrides };
}

export function openLog(dir: string, config: EngineConfig, handles = new HandleCache(config.maxOpenSegments)): PartitionLog {
  return PartitionLog.open(dir, config, handles);
}

/** Appends values as one call (one unit of consecutive offsets); resolves with the first offset. */
export function appendValues(log: PartitionLog, values: Array<string | ProducerRecord>): Promise<number> {
  const now = Date.now();
  const prepared = values.map((v) => prepareRecord(typeof v === 'string' ? { value: v } : v, now));
  return log.append(
    prepared,
    prepared.reduce((n, r) => n + r.size, 0),
  );
}

export async function readAll(log: PartitionLog, from = log.startOffset): Promise<StoredRecord[]> {
  return log.read(from, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

export const valuesOf = (records: StoredRecord[]) => records.map((r) => r.value.toString('utf8'));
export const offsetsOf = (records: StoredRecord[]) => records.map((r) => r.offset);

export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A message whose value says where it belongs, padded so a handful of them fill a small segment. */
export const msg = (i: number, pad = 40) => `m${i}:` + 'x'.repeat(pad + (i % 7));

/** Segment base offsets present in a partition directory, ascending. */
export function segmentBases(partitionDir: string): number[] {
  return readdirSync(partitionDir)
    .map(parseSegmentFileName)
    .filter((b): b is number => b !== null)
    .sort((a, b) => a - b);
}

export function logPath(partitionDir: string, base: number): string {
  return join(partitionDir, segmentFileName(base, '.log'));
}

export function indexPath(partitionDir: string, base: number): string {
  return join(partitionDir, segmentFileName(base, '.index'));
}

export function activeLogPath(partitionDir: string): string {
  const bases = segmentBases(partitionDir);
  return logPath(partitionDir, bases[bases.length - 1]);
}

export interface BatchSpan {
  position: number;
  length: number;
  baseOffset: number;
  recordCount: number;
}

/** The batches of a .log file as they are laid out on disk (the file is assumed intact). */
export function batchesOf(path: string): BatchSpan[] {
  const data = readFileSync(path);
  const out: BatchSpan[] = [];
  let pos = 0;
  for (;;) {
    const h = readBatchHeader(data, pos);
    if (!h || pos + h.length > data.length) break;
    out.push({ position: pos, length: h.length, baseOffset: h.baseOffset, recordCount: h.recordCount });
    pos += h.length;
  }
  // An open active segment under FSYNC=always is zero-filled ahead of its data (preallocation); anything
  // else after the last whole batch is garbage.
  if (pos !== data.length && data.subarray(pos).some((b) => b !== 0)) {
    throw new Error(`${path}: ${data.length - pos} bytes after the last whole batch`);
  }
  return out;
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

export function flipByte(path: string, position: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    if (readSync(fd, b, 0, 1, position) !== 1) throw new Error(`${path} has no byte ${position}`);
    b[0] ^= 0xff;
    writeSync(fd, b, 0, 1, position);
  } finally {
    closeSync(fd);
  }
}

/** Asserts that `promise` rejects with a StorageError of the given code. */
export async function expectStorageError(promise: Promise<unknown> | (() => unknown), code: StorageErrorCode): Promise<StorageError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(StorageError);
  expect((caught as StorageError).code).toBe(code);
  return caught as StorageError;
}
