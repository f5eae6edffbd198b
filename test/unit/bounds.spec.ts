// Bounds the engine keeps under load: queued bytes per partition (back-pressure instead of an unbounded
// queue), open file descriptors, and segments rolled by age as well as size.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/storage/broker';
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

  it('keeps open files under maxOpenSegments whatever the number of partitions: active segments, indexes and cursor journals included', async () => {
    const openFds = () => readdirSync('/proc/self/fd').length;
    const before = openFds();
    // FSYNC=interval: the same files and handles as always, without 500 fsyncs on a shared CI disk.
    const broker = Broker.open(smallConfig(join(root, 'many'), { maxOpenSegments: 16, indexIntervalBytes: 64, fsync: 'interval' }));
    for (let t = 0; t < 60; t++) {
      await broker.createTopic(`t${t}`, 4);
      for (let p = 0; p < 4; p++) {
        // Enough bytes for index entries, so every partition has an index tail to append as well.
        await broker.produce(`t${t}`, [{ value: 'a'.repeat(100) }, { value: 'b'.repeat(100) }], { autoCreate: false, partition: p });
        await broker.ack(`t${t}`, 'c', 1, p);
      }
      expect(openFds() - before).toBeLessThanOrEqual(16 + 4);
    }
    expect(broker.openFileCount).toBeLessThanOrEqual(16);
    // Every partition still reads and takes appends after its files were closed and reopened.
    for (let t = 0; t < 60; t += 7) {
      for (let p = 0; p < 4; p++) {
        expect((await broker.fetch(`t${t}`, p, 0, 10, 1 << 20)).map((r) => r.value.length)).toEqual([100, 100]);
        expect(broker.cursor(`t${t}`, 'c', p).offset).toBe(2);
        await broker.produce(`t${t}`, [{ value: 'c' }], { autoCreate: false, partition: p });
      }
    }
    await broker.close();
    const reopened = Broker.open(smallConfig(join(root, 'many'), { maxOpenSegments: 16 }));
    expect(reopened.describeTopic('t7').messageCount).toBe(12);
    expect(reopened.cursor('t7', 'c', 3).offset).toBe(2);
    await reopened.close();
  }, 60_000);

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
