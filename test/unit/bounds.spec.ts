// Bounds the engine keeps under load: queued bytes per partition (back-pressure instead of an unbounded
// queue), open file descriptors, and segments rolled by age as well as size.
import { join } from 'node:path';
import { StorageError } from '../../src/storage/errors';
import { HandleCache } from '../../src/storage/handle-cache';
import { appendValues, makeTempDir, openLog, readAll, removeDir, segmentBases, smallConfig } from './support';

describe('engine bounds', () => {
  const root = makeTempDir();
  afterAll(() => removeDir(root));

  it('answers BACK_PRESSURE (retry after 1 s) once a partition has maxInFlightBytes queued, and stores every accepted append', async () => {
    const log = openLog(join(root, 'bp'), smallConfig(root, { maxInFlightBytes: 64 * 1024, segmentBytes: 64 * 1024 * 1024 }));
    const value = 'x'.repeat(1000);
    const results = await Promise.allSettled(Array.from({ length: 500 }, () => appendValues(log, [value])));
    const accepted = results.filter((r) => r.status === 'fulfilled') as Array<PromiseFulfilledResult<number>>;
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(StorageError);
      expect((r.reason as StorageError).code).toBe('BACK_PRESSURE');
      expect((r.reason as StorageError).retryAfterSeconds).toBe(1);
    }
    // About 64 KiB of ~1 KiB records fit in the queue; the rest were refused rather than buffered.
    expect(accepted.length).toBeLessThan(100);
    const offsets = accepted.map((r) => r.value).sort((a, b) => a - b);
    expect(offsets).toEqual(offsets.map((_, i) => i));
    expect((await readAll(log)).length).toBe(accepted.length);
    // Once the queue drained, appends are accepted again.
    expect(await appendValues(log, ['after'])).toBe(accepted.length);
    await log.close();
  });

  it('keeps at most maxOpenSegments idle segment files open while reading many segments', async () => {
    const handles = new HandleCache(8);
    const log = openLog(join(root, 'fds'), smallConfig(root, { segmentBytes: 4096, maxOpenSegments: 8, fsync: 'never' }), handles);
    for (let i = 0; i < 300; i++) await appendValues(log, [`message ${i} `.padEnd(200, '.')]);
    expect(log.segmentCount).toBeGreaterThan(12);
    expect((await readAll(log)).length).toBe(300);
    expect(handles.openCount).toBeLessThanOrEqual(8);
    await log.close();
  });

  it('rolls the active segment by age (SEGMENT_MS) as well as by size', async () => {
    const dir = join(root, 'age');
    const log = openLog(dir, smallConfig(root, { segmentBytes: 64 * 1024 * 1024, segmentMs: 50, fsync: 'never' }));
    await appendValues(log, ['first']);
    await new Promise((r) => setTimeout(r, 80));
    await appendValues(log, ['second']);
    expect(segmentBases(dir)).toEqual([0, 1]);
    expect((await readAll(log)).map((r) => r.value.toString())).toEqual(['first', 'second']);
    await log.close();
  });
});
