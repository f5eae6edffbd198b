// PartitionLog: appends and reads at any offset, segment rolls, group commit under concurrency, restart.
import { join } from 'node:path';
import { HandleCache } from '../../src/storage/handle-cache';
import { BATCH_HEADER_BYTES } from '../../src/storage/record-batch';
import type { PartitionLog } from '../../src/storage/log';
import {
  appendValues,
  batchesOf,
  logPath,
  makeTempDir,
  msg,
  offsetsOf,
  openLog,
  range,
  readAll,
  removeDir,
  segmentBases,
  smallConfig,
  valuesOf,
} from './support';

describe('PartitionLog', () => {
  let root: string;
  let dir: string;
  const logs: PartitionLog[] = [];
  const track = (log: PartitionLog) => (logs.push(log), log);

  beforeEach(() => {
    root = makeTempDir();
    dir = join(root, 'p0');
  });

  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
    removeDir(root);
  });

  it('starts empty at offset 0', async () => {
    const log = track(openLog(dir, smallConfig(root)));
    expect(log.startOffset).toBe(0);
    expect(log.endOffset).toBe(0);
    expect(await readAll(log)).toEqual([]);
    expect(await log.read(5, 10, 1000)).toEqual([]);
  });

  it('gives dense offsets from 0, one unit per call, and reads back at any offset', async () => {
    const log = track(openLog(dir, smallConfig(root, { segmentBytes: 1 << 20 })));
    const expected: string[] = [];
    for (let call = 0; call < 30; call++) {
      const values = range(0, (call % 4) + 1).map((j) => msg(expected.length + j));
      expect(await appendValues(log, values)).toBe(expected.length);
      expected.push(...values);
    }
    expect(log.endOffset).toBe(expected.length);
    const all = await readAll(log);
    expect(offsetsOf(all)).toEqual(range(0, expected.length));
    expect(valuesOf(all)).toEqual(expected);
    for (let from = 0; from < expected.length; from++) {
      const one = await log.read(from, 1, Number.MAX_SAFE_INTEGER);
      expect(offsetsOf(one)).toEqual([from]);
      expect(valuesOf(one)).toEqual([expected[from]]);
      const three = await log.read(from, 3, Number.MAX_SAFE_INTEGER);
      expect(valuesOf(three)).toEqual(expected.slice(from, from + 3));
    }
    expect(await log.read(expected.length, 10, 1000)).toEqual([]);
  });

  it('stops at maxBytes (at batch granularity) but always returns at least one record', async () => {
    const log = track(openLog(dir, smallConfig(root)));
    for (const v of ['aaaa', 'bbbb', 'cccc', 'dddd']) await appendValues(log, [v]);
    expect(valuesOf(await log.read(0, 100, 1))).toEqual(['aaaa']);
    expect(valuesOf(await log.read(1, 100, 8))).toEqual(['bbbb', 'cccc']);
    expect(valuesOf(await log.read(1, 100, 9))).toEqual(['bbbb', 'cccc', 'dddd']);
  });

  it('returns maxRecords records when a read spans several segments', async () => {
    const log = track(openLog(dir, smallConfig(root, { segmentBytes: 1024, fsync: 'never' })));
    const expected = range(0, 200).map((i) => msg(i));
    for (const v of expected) await appendValues(log, [v]);
    expect(log.segmentCount).toBeGreaterThan(8);
    for (const max of [2, 10, 25, 60, 150]) {
      for (let from = 0; from < 200; from += 13) {
        const got = await log.read(from, max, Number.MAX_SAFE_INTEGER);
        expect(offsetsOf(got)).toEqual(range(from, Math.min(from + max, 200)));
      }
    }
  });

  it('reads a large batch whose header starts just before the end of the previous read chunk', async () => {
    const log = track(openLog(dir, smallConfig(root, { segmentBytes: 1 << 20 })));
    // A 64 KiB read chunk (maxBytes below 64 KiB) ends 20 bytes into the second batch's header.
    const first = 'a'.repeat(64 * 1024 - 20 - BATCH_HEADER_BYTES - 23);
    const second = 'b'.repeat(100_000);
    await appendValues(log, ['small']);
    await appendValues(log, [first]);
    await appendValues(log, [second]);
    await appendValues(log, ['tail']);
    expect(batchesOf(logPath(dir, 0)).map((b) => b.length)).toEqual([
      BATCH_HEADER_BYTES + 23 + 5,
      64 * 1024 - 20,
      BATCH_HEADER_BYTES + 23 + 100_000,
      BATCH_HEADER_BYTES + 23 + 4,
    ]);
    // Compared in short form (first character and length) so a failure does not print 160 KB of values.
    const short = (values: string[]) => values.map((v) => `${v[0]}x${v.length}`);
    const read = async (from: number, max: number, maxBytes: number) => short(valuesOf(await log.read(from, max, maxBytes)));
    expect(await read(1, 2, 64 * 1024 - 1)).toEqual(short([first, second]));
    expect(await read(1, 3, 64 * 1024 - 1)).toEqual(short([first, second]));
    expect(await read(0, 4, Number.MAX_SAFE_INTEGER)).toEqual(short(['small', first, second, 'tail']));
    expect(await read(2, 1, 1)).toEqual(short([second]));
  });

  it('rolls segments by size and reads across them from any offset', async () => {
    const config = smallConfig(root, { segmentBytes: 4096, indexIntervalBytes: 128, fsync: 'never' });
    const log = track(openLog(dir, config));
    const expected: string[] = [];
    for (let i = 0; i < 400; i++) {
      const values = i % 3 === 0 ? [msg(expected.length), msg(expected.length + 1)] : [msg(expected.length)];
      await appendValues(log, values);
      expected.push(...values);
    }
    const bases = segmentBases(dir);
    expect(bases.length).toBeGreaterThan(5);
    expect(log.segmentCount).toBe(bases.length);
    // Every segment is within its size bound and starts where the previous one ended.
    let next = 0;
    for (const base of bases) {
      expect(base).toBe(next);
      const batches = batchesOf(logPath(dir, base));
      expect(batches.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(4096);
      for (const b of batches) {
        expect(b.baseOffset).toBe(next);
        next += b.recordCount;
      }
    }
    expect(next).toBe(expected.length);
    expect(valuesOf(await readAll(log))).toEqual(expected);
    for (let from = 0; from < expected.length; from += 7) {
      const got = await log.read(from, 25, Number.MAX_SAFE_INTEGER);
      expect(offsetsOf(got)).toEqual(range(from, Math.min(from + 25, expected.length)));
      expect(valuesOf(got)).toEqual(expected.slice(from, from + 25));
    }
    // Reads at each segment boundary and just before it.
    for (const base of bases.slice(1)) {
      expect(valuesOf(await log.read(base - 1, 2, Number.MAX_SAFE_INTEGER))).toEqual(expected.slice(base - 1, base + 1));
    }
  });

  it('reads sealed segments correctly with few file handles allowed', async () => {
    const config = smallConfig(root, { maxOpenSegments: 2, fsync: 'never' });
    const handles = new HandleCache(2);
    const log = track(openLog(dir, config, handles));
    const expected = range(0, 500).map((i) => msg(i));
    for (const v of expected) await appendValues(log, [v]);
    expect(log.segmentCount).toBeGreaterThan(4);
    const reads = range(0, 50).map((k) => log.read((k * 37) % 500, 5, Number.MAX_SAFE_INTEGER));
    const results = await Promise.all(reads);
    results.forEach((got, k) => {
      const from = (k * 37) % 500;
      expect(valuesOf(got)).toEqual(expected.slice(from, from + 5));
    });
    expect(handles.openCount).toBeLessThanOrEqual(2);
  });

  it('gives thousands of concurrent appends unique, dense offsets and stores each value at its offset', async () => {
    const log = track(openLog(dir, smallConfig(root, { segmentBytes: 16 * 1024, indexIntervalBytes: 512 })));
    const results: Array<{ base: number; values: string[] }> = [];
    // Waves of concurrent calls: each wave is group-committed, and the waves roll segments between them.
    for (let wave = 0; wave < 4; wave++) {
      const calls = range(wave * 1000, (wave + 1) * 1000).map((i) => {
        const values = i % 5 === 0 ? [`c${i}.a`, `c${i}.b`, `c${i}.c`] : [`c${i}`];
        return appendValues(log, values).then((base) => ({ base, values }));
      });
      results.push(...(await Promise.all(calls)));
    }
    const total = results.reduce((t, r) => t + r.values.length, 0);
    expect(log.endOffset).toBe(total);
    const taken = new Array<string | undefined>(total);
    for (const { base, values } of results) {
      values.forEach((v, j) => {
        expect(taken[base + j]).toBeUndefined();
        taken[base + j] = v;
      });
    }
    expect(taken.every((v) => v !== undefined)).toBe(true);
    const all = await readAll(log);
    expect(offsetsOf(all)).toEqual(range(0, total));
    expect(valuesOf(all)).toEqual(taken);
    expect(log.segmentCount).toBeGreaterThan(1);
  });

  it('keeps everything across close and reopen, and keeps appending densely', async () => {
    const config = smallConfig(root);
    const first = openLog(dir, config);
    const expected = range(0, 300).map((i) => msg(i));
    for (let i = 0; i < expected.length; i += 3) await appendValues(first, expected.slice(i, i + 3));
    const segments = first.segmentCount;
    await first.close();

    const second = track(openLog(dir, config));
    expect(second.recovery.truncatedBytes).toBe(0);
    expect(second.segmentCount).toBe(segments);
    expect(second.endOffset).toBe(300);
    expect(valuesOf(await readAll(second))).toEqual(expected);
    expect(valuesOf(await second.read(123, 4, Number.MAX_SAFE_INTEGER))).toEqual(expected.slice(123, 127));
    expect(await appendValues(second, ['after-1', 'after-2'])).toBe(300);
    expect(valuesOf(await second.read(298, 10, Number.MAX_SAFE_INTEGER))).toEqual([expected[298], expected[299], 'after-1', 'after-2']);
  });

  it('refuses appends once closing', async () => {
    const log = openLog(dir, smallConfig(root));
    const pending = appendValues(log, ['queued before close']);
    const closed = log.close();
    await expect(appendValues(log, ['late'])).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await pending).toBe(0);
    await closed;
    const reopened = track(openLog(dir, smallConfig(root)));
    expect(valuesOf(await readAll(reopened))).toEqual(['queued before close']);
  });
});
