// Recovery at open: torn and corrupt tails of the active segment, lost or damaged indexes, corrupt sealed data.
import { appendFileSync, copyFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineConfig } from '../../src/storage/engine-config';
import { StorageError } from '../../src/storage/errors';
import type { PartitionLog } from '../../src/storage/log';
import { INDEX_ENTRY_BYTES, OffsetIndex } from '../../src/storage/offset-index';
import { BATCH_HEADER_BYTES, readBatchHeader } from '../../src/storage/record-batch';
import {
  activeLogPath,
  appendValues,
  batchesOf,
  expectStorageError,
  fileSize,
  flipByte,
  indexPath,
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
  type BatchSpan,
} from './support';

/** Byte positions inside a batch that hit every header field and the records. */
function interestingPositions(batch: BatchSpan): number[] {
  const inHeader = [0, 7, 8, 11, 12, 13, 16, 17, 19, 22, 23, 30, 31, 38];
  const inBody = [BATCH_HEADER_BYTES, BATCH_HEADER_BYTES + 5, Math.floor((BATCH_HEADER_BYTES + batch.length) / 2), batch.length - 1];
  return [...new Set([...inHeader, ...inBody])].filter((p) => p < batch.length);
}

describe('recovery', () => {
  let root: string;
  let dir: string;
  let config: EngineConfig;
  const logs: PartitionLog[] = [];
  const reopen = () => {
    const log = openLog(dir, config);
    logs.push(log);
    return log;
  };

  beforeEach(() => {
    root = makeTempDir();
    dir = join(root, 'p0');
    // No fsync per append: every scenario closes (which syncs) before it damages files and reopens.
    config = smallConfig(root, { segmentBytes: 2048, indexIntervalBytes: 128, fsync: 'never' });
  });

  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
    removeDir(root);
  });

  /** Writes `count` messages in calls of 1-3 (so batches differ in size), closes, and returns the values. */
  async function writeAndClose(count: number, perCall = (i: number) => (i % 3) + 1): Promise<string[]> {
    const log = openLog(dir, config);
    const values: string[] = [];
    for (let call = 0; values.length < count; call++) {
      const batch = range(values.length, Math.min(values.length + perCall(call), count)).map((i) => msg(i));
      await appendValues(log, batch);
      values.push(...batch);
    }
    await log.close();
    return values;
  }

  /** Every offset reads back its own value, one at a time and in runs. */
  async function expectReadsCorrect(log: PartitionLog, values: string[]): Promise<void> {
    expect(log.endOffset).toBe(values.length);
    const all = await readAll(log);
    expect(offsetsOf(all)).toEqual(range(0, values.length));
    expect(valuesOf(all)).toEqual(values);
    for (let from = 0; from < values.length; from++) {
      const one = await log.read(from, 1, Number.MAX_SAFE_INTEGER);
      expect(offsetsOf(one)).toEqual([from]);
      expect(valuesOf(one)).toEqual([values[from]]);
    }
    for (let from = 0; from < values.length; from += 5) {
      expect(valuesOf(await log.read(from, 9, Number.MAX_SAFE_INTEGER))).toEqual(values.slice(from, from + 9));
    }
  }

  /** Every entry of an .index file names the batch that really starts at its position. */
  function expectIndexFileMatchesLog(base: number): void {
    const data = readFileSync(logPath(dir, base));
    const bytes = readFileSync(indexPath(dir, base));
    expect(bytes.length % INDEX_ENTRY_BYTES).toBe(0);
    const index = OffsetIndex.decode(bytes, data.length);
    expect(index.length).toBe(bytes.length / INDEX_ENTRY_BYTES);
    for (let i = 0; i < index.length; i++) {
      const header = readBatchHeader(data, index.positionAt(i));
      expect(header?.baseOffset).toBe(base + index.relativeOffsetAt(i));
    }
  }

  async function expectAppendsContinue(log: PartitionLog, values: string[]): Promise<void> {
    const more = ['after-a', 'after-b', 'after-c'];
    expect(await appendValues(log, more.slice(0, 2))).toBe(values.length);
    expect(await appendValues(log, more.slice(2))).toBe(values.length + 2);
    values.push(...more);
    await expectReadsCorrect(log, values);
  }

  describe('torn tail of the active segment', () => {
    it('drops a batch cut anywhere in its header or records, keeps the rest, and appends densely after', async () => {
      // The last call writes 3 records in one batch: all three vanish together.
      const written = await writeAndClose(61, (call) => (call === 29 ? 3 : 2));
      const active = activeLogPath(dir);
      const batches = batchesOf(active);
      const last = batches[batches.length - 1];
      expect(last.recordCount).toBe(3);
      const pristine = readFileSync(active);
      const cuts = [1, 12, BATCH_HEADER_BYTES - 1, BATCH_HEADER_BYTES, BATCH_HEADER_BYTES + 10, last.length - 1];
      for (const cut of cuts) {
        writeFileSync(active, pristine);
        truncateSync(active, last.position + cut);
        const log = reopen();
        expect(log.recovery.truncatedBytes).toBe(cut);
        expect(fileSize(active)).toBe(last.position);
        const survivors = written.slice(0, last.baseOffset);
        await expectReadsCorrect(log, survivors);
        await expectAppendsContinue(log, survivors);
        await log.close();
        logs.pop();
        // The repaired log is itself a valid log: reopening finds nothing more to cut.
        const again = reopen();
        expect(again.recovery.truncatedBytes).toBe(0);
        await expectReadsCorrect(again, survivors);
        await again.close();
        logs.pop();
      }
    });

    it('recovers a log cut at its very start, and one cut exactly at a batch boundary', async () => {
      const written = await writeAndClose(40);
      const active = activeLogPath(dir);
      const base = segmentBases(dir).at(-1)!;
      const batches = batchesOf(active);
      const pristine = readFileSync(active);

      truncateSync(active, batches[2].position);
      let log = reopen();
      expect(log.recovery.truncatedBytes).toBe(0);
      await expectReadsCorrect(log, written.slice(0, batches[2].baseOffset));
      await log.close();
      logs.pop();

      writeFileSync(active, pristine);
      truncateSync(active, 0);
      log = reopen();
      expect(log.endOffset).toBe(base);
      const survivors = written.slice(0, base);
      await expectReadsCorrect(log, survivors);
      await expectAppendsContinue(log, survivors);
    });
  });

  describe('corrupt tail of the active segment', () => {
    it('truncates a last batch with a flipped byte anywhere in it', async () => {
      const written = await writeAndClose(50);
      const active = activeLogPath(dir);
      const batches = batchesOf(active);
      const last = batches[batches.length - 1];
      const pristine = readFileSync(active);
      for (const p of interestingPositions(last)) {
        writeFileSync(active, pristine);
        flipByte(active, last.position + p);
        const log = reopen();
        expect({ p, truncated: log.recovery.truncatedBytes }).toEqual({ p, truncated: last.length });
        expect(fileSize(active)).toBe(last.position);
        const survivors = written.slice(0, last.baseOffset);
        await expectReadsCorrect(log, survivors);
        await expectAppendsContinue(log, survivors);
        await log.close();
        logs.pop();
      }
    });

    it('truncates garbage appended after the last batch', async () => {
      const written = await writeAndClose(30);
      const active = activeLogPath(dir);
      const size = fileSize(active);
      const pristine = readFileSync(active);
      const lastBatch = batchesOf(active).at(-1)!;
      const plausibleHeader = Buffer.from(pristine.subarray(lastBatch.position, lastBatch.position + BATCH_HEADER_BYTES));
      plausibleHeader.writeUInt32BE(1 << 20, 8); // claims far more bytes than follow
      let seed = 7;
      const random = Buffer.from(range(0, 777).map(() => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
      const garbages = [
        Buffer.alloc(3, 0xff),
        Buffer.alloc(100, 0),
        random,
        plausibleHeader,
        // A whole, CRC-valid batch that repeats offsets already in the log.
        pristine.subarray(lastBatch.position, lastBatch.position + lastBatch.length),
      ];
      for (const garbage of garbages) {
        writeFileSync(active, pristine);
        appendFileSync(active, garbage);
        const log = reopen();
        expect(log.recovery.truncatedBytes).toBe(garbage.length);
        expect(fileSize(active)).toBe(size);
        const copy = [...written];
        await expectReadsCorrect(log, copy);
        await expectAppendsContinue(log, copy);
        await log.close();
        logs.pop();
      }
    });
  });

  describe('index files', () => {
    type Damage = (path: string) => void;
    /** Damage the cheap checks at load notice (first and last entry): the index is rebuilt from the log. */
    const wholeIndexDamages: Array<[string, Damage]> = [
      ['missing', (p) => rmSync(p)],
      ['empty', (p) => writeFileSync(p, Buffer.alloc(0))],
      ['random garbage', (p) => writeFileSync(p, Buffer.from(range(0, 333).map((i) => (i * 73 + 19) & 0xff)))],
      ['torn mid-entry', (p) => truncateSync(p, Math.max(0, fileSize(p) - INDEX_ENTRY_BYTES / 2))],
      [
        'stale: every offset one too high',
        (p) => {
          const buf = readFileSync(p);
          for (let i = 0; i < buf.length; i += INDEX_ENTRY_BYTES) buf.writeUInt32BE(buf.readUInt32BE(i) + 1, i);
          writeFileSync(p, buf);
        },
      ],
      [
        'stale: positions off by a few bytes',
        (p) => {
          const buf = readFileSync(p);
          for (let i = 0; i < buf.length; i += INDEX_ENTRY_BYTES) buf.writeUInt32BE(buf.readUInt32BE(i + 4) + 3, i + 4);
          writeFileSync(p, buf);
        },
      ],
    ];
    /** One plausible but wrong entry in the middle: reads that land on it walk from the entry before it. */
    const entryDamages: Array<[string, Damage]> = [
      [
        'one entry in the middle names the wrong offset',
        (p) => {
          const buf = readFileSync(p);
          const n = buf.length / INDEX_ENTRY_BYTES;
          expect(n).toBeGreaterThanOrEqual(3);
          const i = Math.floor(n / 2) * INDEX_ENTRY_BYTES;
          // Still between its neighbours, so the entry looks plausible; it claims an earlier offset.
          buf.writeUInt32BE(buf.readUInt32BE(i) - 1, i);
          writeFileSync(p, buf);
        },
      ],
      [
        'one entry in the middle points at the wrong batch',
        (p) => {
          const buf = readFileSync(p);
          const n = buf.length / INDEX_ENTRY_BYTES;
          const i = Math.floor(n / 2) * INDEX_ENTRY_BYTES;
          const log = readFileSync(p.replace(/\.index$/, '.log'));
          const pos = buf.readUInt32BE(i + 4);
          const header = readBatchHeader(log, pos)!;
          // The next batch's position: a real batch boundary, but not the batch the entry names.
          const nextPos = pos + header.length;
          if (i + INDEX_ENTRY_BYTES < buf.length) expect(nextPos).toBeLessThan(buf.readUInt32BE(i + INDEX_ENTRY_BYTES + 4));
          buf.writeUInt32BE(nextPos, i + 4);
          writeFileSync(p, buf);
        },
      ],
    ];

    async function damageActiveIndexAndReopen(damage: Damage): Promise<{ log: PartitionLog; written: string[]; base: number }> {
      const written = await writeAndClose(36, () => 1);
      const base = segmentBases(dir).at(-1)!;
      expect(fileSize(indexPath(dir, base))).toBeGreaterThanOrEqual(3 * INDEX_ENTRY_BYTES);
      damage(indexPath(dir, base));
      const log = reopen();
      expect(log.recovery.truncatedBytes).toBe(0);
      return { log, written, base };
    }

    it.each(wholeIndexDamages)('rebuilds a %s index of the active segment at open', async (_, damage) => {
      const { log, written, base } = await damageActiveIndexAndReopen(damage);
      await expectReadsCorrect(log, written);
      expectIndexFileMatchesLog(base);
      await expectAppendsContinue(log, written);
    });

    it.each(entryDamages)('reads correctly through an active segment index with %s', async (_, damage) => {
      const { log, written } = await damageActiveIndexAndReopen(damage);
      await expectReadsCorrect(log, written);
      await expectAppendsContinue(log, written);
    });

    it.each([...wholeIndexDamages, ...entryDamages])('reads correctly through a %s index of a sealed segment', async (_, damage) => {
      const written = await writeAndClose(120, () => 1);
      const bases = segmentBases(dir);
      expect(bases.length).toBeGreaterThanOrEqual(3);
      for (const base of bases.slice(0, -1)) expect(fileSize(indexPath(dir, base))).toBeGreaterThanOrEqual(3 * INDEX_ENTRY_BYTES);
      for (const base of bases.slice(0, -1)) damage(indexPath(dir, base));
      const log = reopen();
      await expectReadsCorrect(log, written);
    });
  });

  describe('corruption in a sealed segment', () => {
    it('rejects a read of the damaged batch with CORRUPT_RECORD and still serves the other segments', async () => {
      const written = await writeAndClose(150, () => 1);
      const bases = segmentBases(dir);
      expect(bases.length).toBeGreaterThanOrEqual(4);
      const victimBase = bases[1];
      const victim = logPath(dir, victimBase);
      const batches = batchesOf(victim);
      const target = batches[Math.floor(batches.length / 2)];
      const pristine = readFileSync(victim);
      for (const p of interestingPositions(target)) {
        writeFileSync(victim, pristine);
        flipByte(victim, target.position + p);
        const log = reopen();
        // Sealed segments are not scanned at open: nothing is truncated, the damage shows on read.
        expect(log.recovery.truncatedBytes).toBe(0);
        expect(log.endOffset).toBe(written.length);
        const outcome = await log.read(target.baseOffset, 1, Number.MAX_SAFE_INTEGER).then((r) => offsetsOf(r), (e: StorageError) => e.code);
        expect({ p, outcome }).toEqual({ p, outcome: "CORRUPT_RECORD" });
        const err = await expectStorageError(log.read(target.baseOffset, 1, Number.MAX_SAFE_INTEGER), "CORRUPT_RECORD");
        expect(err.message).toContain(`byte ${target.position}`);
        await expectStorageError(log.read(target.baseOffset, 50, Number.MAX_SAFE_INTEGER), 'CORRUPT_RECORD');
        // Batches before it in the same segment, and every other segment, read fine.
        for (const b of batches.filter((x) => x.position < target.position)) {
          expect(valuesOf(await log.read(b.baseOffset, 1, Number.MAX_SAFE_INTEGER))).toEqual([written[b.baseOffset]]);
        }
        const others = [
          ...range(0, victimBase),
          ...range(bases[2], written.length),
        ];
        for (const offset of others) {
          const got = await log.read(offset, 1, Number.MAX_SAFE_INTEGER);
          expect({ p, offsets: offsetsOf(got), values: valuesOf(got) }).toEqual({ p, offsets: [offset], values: [written[offset]] });
        }
        // A read that starts before the damage never hands out records with wrong offsets or values.
        const fromSegmentStart = await log.read(victimBase, 500, Number.MAX_SAFE_INTEGER).catch((e: unknown) => e);
        if (fromSegmentStart instanceof StorageError) expect(fromSegmentStart.code).toBe('CORRUPT_RECORD');
        else {
          const got = fromSegmentStart as Awaited<ReturnType<PartitionLog['read']>>;
          expect(offsetsOf(got)).toEqual(range(victimBase, victimBase + got.length));
          expect(valuesOf(got)).toEqual(written.slice(victimBase, victimBase + got.length));
          expect(victimBase + got.length).toBeLessThanOrEqual(target.baseOffset);
        }
        await log.close();
        logs.pop();
      }
    });
  });
});
