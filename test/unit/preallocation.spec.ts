// FSYNC=always zero-fills the active segment ahead of its data so group-commit fsyncs do not commit a new
// file size each time. The zeros must never be read, must be cut at close and roll, and a crash that leaves
// them behind must recover to exactly the written batches.
import { join } from 'node:path';
import { HandleCache } from '../../src/storage/handle-cache';
import { activeLogPath, appendValues, fileSize, makeTempDir, openLog, readAll, removeDir, segmentBases, smallConfig } from './support';

describe('preallocation under FSYNC=always', () => {
  const root = makeTempDir();
  afterAll(() => removeDir(root));

  it('writes ahead with zeros, reads only data, and trims at close', async () => {
    const dir = join(root, 'close');
    const log = openLog(dir, smallConfig(root, { segmentBytes: 64 * 1024 * 1024, fsync: 'always' }));
    for (let i = 0; i < 20; i++) await appendValues(log, [`m${i}`]);
    expect(fileSize(activeLogPath(dir))).toBeGreaterThan(log.sizeBytes + 1024 * 1024);
    expect((await readAll(log)).map((r) => r.value.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    const logical = log.sizeBytes;
    await log.close();
    expect(fileSize(activeLogPath(dir))).toBe(logical);
  });

  it('seals rolled segments at their exact size', async () => {
    const dir = join(root, 'roll');
    const log = openLog(dir, smallConfig(root, { segmentBytes: 4096, fsync: 'always' }));
    for (let i = 0; i < 100; i++) await appendValues(log, [`message ${i} `.padEnd(100, '.')]);
    const bases = segmentBases(dir);
    expect(bases.length).toBeGreaterThan(2);
    const sealed = join(dir, `${String(bases[0]).padStart(20, '0')}.log`);
    expect(fileSize(sealed)).toBeLessThanOrEqual(4096 + 200);
    await log.close();
  });

  it('recovers exactly the written batches when a crash leaves the zeros behind', async () => {
    const dir = join(root, 'crash');
    const config = smallConfig(root, { segmentBytes: 64 * 1024 * 1024, fsync: 'always' });
    const crashed = openLog(dir, config, new HandleCache(16));
    for (let i = 0; i < 50; i++) await appendValues(crashed, [`v${i}`]);
    const logical = crashed.sizeBytes;
    expect(fileSize(activeLogPath(dir))).toBeGreaterThan(logical);
    // No close: the process "dies" here, zeros and all. A new process opens the same directory.
    const recovered = openLog(dir, config, new HandleCache(16));
    expect(recovered.endOffset).toBe(50);
    expect(recovered.sizeBytes).toBe(logical);
    expect((await readAll(recovered)).map((r) => r.value.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    expect(await appendValues(recovered, ['after'])).toBe(50);
    await recovered.close();
  });
});
