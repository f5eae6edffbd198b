// The group-commit policy: concurrent appends share one write and one fsync, steady producers are not split
// into cohorts that take turns, a lone producer is written at once; and the pacer's rules on their own.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { CommitPacer, MAX_LINGER_MS } from '../../src/storage/commit-pacer';
import { HandleCache } from '../../src/storage/handle-cache';
import { PartitionLog } from '../../src/storage/log';
import type { FlushObservation } from '../../src/storage/observer';
import { appendValues, makeTempDir, offsetsOf, range, readAll, removeDir, smallConfig } from './support';

describe('group commit', () => {
  let root: string;
  let log: PartitionLog;
  let commits: FlushObservation[];
  let datasync: jest.SpyInstance;

  beforeEach(async () => {
    root = makeTempDir();
    commits = [];
    const config = smallConfig(root, { segmentBytes: 64 << 20, fsync: 'always' });
    log = PartitionLog.open(join(root, 'p0'), config, new HandleCache(config.maxOpenSegments), {
      onFlush: (o) => commits.push(o),
      onWriteError: () => undefined,
    });
    // Every fdatasync of the engine goes through a FileHandle: count them all (data and preallocation).
    const probe = await open(join(root, 'probe'), 'w');
    datasync = jest.spyOn(Object.getPrototypeOf(probe) as { datasync(): Promise<void> }, 'datasync');
    await probe.close();
  });

  afterEach(async () => {
    await log.close();
    datasync.mockRestore();
    removeDir(root);
  });

  it('answers 1,000 concurrent appends with a handful of writes and fsyncs, not one each', async () => {
    const bases = await Promise.all(range(0, 1000).map((i) => appendValues(log, [`m${i}`])));
    expect(new Set(bases).size).toBe(1000);
    expect(commits.reduce((n, c) => n + c.messages, 0)).toBe(1000);
    // One commit per append would be 1,000 of each; the first append is written alone, the rest together.
    expect(commits.length).toBeLessThanOrEqual(10);
    expect(datasync.mock.calls.length).toBeLessThanOrEqual(20);
    expect(offsetsOf(await readAll(log))).toEqual(range(0, 1000));
  });

  it('keeps steady producers in shared commits: 16 producers, each waiting for its answer before the next', async () => {
    // Each producer sends its next message a moment (one event-loop turn) after its answer, as over HTTP.
    const turn = () => new Promise((r) => setImmediate(r));
    const producer = async (p: number) => {
      for (let i = 0; i < 20; i++) {
        await appendValues(log, [`p${p}-${i}`]);
        await turn();
      }
    };
    await Promise.all(range(0, 16).map(producer));
    expect(commits.reduce((n, c) => n + c.messages, 0)).toBe(320);
    // Flushing every append alone gives 1 message per commit (320 commits and fsyncs).
    expect(320 / commits.length).toBeGreaterThanOrEqual(4);
    expect(datasync.mock.calls.length).toBeLessThan(320 / 2);
  });

  it('writes a lone producer’s append at once: one commit per append, each answered after its own fsync', async () => {
    for (let i = 0; i < 20; i++) {
      const before = datasync.mock.calls.length;
      expect(await appendValues(log, [`solo-${i}`])).toBe(i);
      expect(datasync.mock.calls.length).toBeGreaterThan(before);
    }
    expect(commits.map((c) => c.messages)).toEqual(range(0, 20).map(() => 1));
  });
});

describe('CommitPacer', () => {
  it('starts at once when nothing is expected (an idle partition, a lone producer)', () => {
    const pacer = new CommitPacer();
    expect(pacer.delay(1, 0)).toBe(0);
    pacer.committed(1, 0, 4, 100);
    expect(pacer.delay(1, 100.01)).toBe(0);
  });

  it('waits for the producers the last commit answered, for at most half a commit', () => {
    const pacer = new CommitPacer();
    pacer.committed(10, 6, 4, 100); // 10 answered, 6 waiting: 16 producers
    expect(pacer.delay(6, 100.1)).toBeGreaterThan(0);
    expect(pacer.delay(6, 100.1)).toBeLessThanOrEqual(2);
    expect(pacer.delay(15, 101)).toBeGreaterThan(0);
    expect(pacer.delay(16, 100.1)).toBe(0); // all back: start now
    expect(pacer.delay(6, 102.01)).toBe(0); // waited half a commit: start with whoever is there
  });

  it('never waits longer than MAX_LINGER_MS, however slow the disk', () => {
    const pacer = new CommitPacer();
    pacer.committed(64, 0, 500, 1000);
    expect(pacer.delay(1, 1000)).toBeLessThanOrEqual(MAX_LINGER_MS);
    expect(pacer.delay(1, 1000 + MAX_LINGER_MS)).toBe(0);
  });

  it('expects nobody after a failed commit or an expired wait', () => {
    const pacer = new CommitPacer();
    pacer.committed(8, 8, 10, 0);
    expect(pacer.delay(1, 0.5)).toBeGreaterThan(0);
    pacer.reset();
    expect(pacer.delay(1, 0.5)).toBe(0);
  });
});
