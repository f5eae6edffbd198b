// Start-up that does not grow with partitions: a clean close writes the clean-shutdown marker, and the next
// start opens no partition until it is used; without the marker (a crash) every tail is recovered and
// cursors are clamped before anything is served, exactly as before.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/storage/broker';
import { CLEAN_SHUTDOWN_FILE } from '../../src/storage/clean-shutdown';
import { readBatchHeader } from '../../src/storage/record-batch';
import { makeTempDir, removeDir, smallConfig } from './support';

describe('clean-shutdown marker and lazy open', () => {
  const root = makeTempDir('mk-clean-');
  afterAll(() => removeDir(root));
  let n = 0;
  const freshConfig = () => smallConfig(join(root, `d${n++}`), { segmentBytes: 1024 * 1024 });

  /** 5 topics × 3 partitions, messages in each, a consumer's cursor on each partition; closed cleanly. */
  async function fill(config: ReturnType<typeof smallConfig>): Promise<void> {
    const broker = Broker.open(config);
    for (let t = 0; t < 5; t++) {
      await broker.createTopic(`t${t}`, 3);
      for (let p = 0; p < 3; p++) {
        await broker.produce(`t${t}`, [{ value: `m-${p}-a` }, { value: `m-${p}-b` }, { value: `m-${p}-c` }], { autoCreate: false, partition: p });
        await broker.ack(`t${t}`, 'c', 1, p);
      }
    }
    await broker.close();
  }

  it('after a clean close, a restart opens no partition: views come from the marker, which is gone before serving', async () => {
    const config = freshConfig();
    await fill(config);
    const markerPath = join(config.dataDir, CLEAN_SHUTDOWN_FILE);
    expect(existsSync(markerPath)).toBe(true);

    const broker = Broker.open(config);
    try {
      expect(broker.startedClean).toBe(true);
      expect(existsSync(markerPath)).toBe(false); // a crash of this run must not pass for a clean stop
      expect(broker.partitionStats()).toEqual({ total: 15, opened: 0 });
      const listed = broker.listTopics();
      expect(listed.map((t) => [t.name, t.partitions, t.messageCount])).toEqual([0, 1, 2, 3, 4].map((t) => [`t${t}`, 3, 9]));
      expect(listed[2].partitionDetails[1]).toMatchObject({ startOffset: 0, endOffset: 3, segmentCount: 1 });
      expect(listed[2].partitionDetails[1].sizeBytes).toBeGreaterThan(0);
      expect(broker.cursor('t2', 'c', 1)).toMatchObject({ offset: 2, logEndOffset: 3, lag: 1 });
      expect(broker.partitionStats().opened).toBe(0);

      // First use opens that partition only; reads and appends are what they were before the restart.
      expect((await broker.fetch('t2', 1, 0, 10, 1 << 20)).map((r) => r.value.toString())).toEqual(['m-1-a', 'm-1-b', 'm-1-c']);
      expect(broker.partitionStats().opened).toBe(1);
      const r = await broker.produce('t3', [{ value: 'later' }], { autoCreate: false, partition: 2 });
      expect(r.offsets).toEqual([3]);
      expect(broker.partitionStats().opened).toBe(2);
      expect((await broker.poll('t3', 'c', 2))?.offset).toBe(2);
    } finally {
      await broker.close();
    }
    // Closed again: partitions never opened keep their summary, opened ones are summarised afresh.
    const again = Broker.open(config);
    try {
      expect(again.startedClean).toBe(true);
      expect(again.describeTopic('t3').partitionDetails[2].endOffset).toBe(4);
      expect(again.describeTopic('t0').messageCount).toBe(9);
      expect((await again.fetch('t3', 2, 3, 10, 1 << 20))[0].value.toString()).toBe('later');
    } finally {
      await again.close();
    }
  });

  it('a clean restart reads no partition file: deleting every segment after the close goes unnoticed until first use', async () => {
    const config = freshConfig();
    await fill(config);
    // Proof that start-up read nothing of the partitions: their files are gone and the start does not care.
    const saved = new Map<string, Buffer>();
    for (let t = 0; t < 5; t++) {
      for (let p = 0; p < 3; p++) {
        const dir = join(config.dataDir, 'topics', `t${t}`, String(p));
        for (const f of readdirSync(dir)) {
          saved.set(join(dir, f), readFileSync(join(dir, f)));
          rmSync(join(dir, f));
        }
      }
    }
    const broker = Broker.open(config);
    try {
      expect(broker.listTopics().reduce((s, t) => s + t.messageCount, 0)).toBe(45);
      expect(broker.partitionStats().opened).toBe(0);
    } finally {
      for (const [path, data] of saved) writeFileSync(path, data);
    }
    expect((await broker.fetch('t4', 0, 0, 10, 1 << 20)).length).toBe(3);
    await broker.close();
  });

  it('without the marker (a crash after a clean start), every partition tail is recovered at start: a torn tail is cut', async () => {
    const config = freshConfig();
    await fill(config);
    const crashed = Broker.open(config); // clean start, marker removed
    await crashed.produce('t1', [{ value: 'acked-before-crash' }], { autoCreate: false, partition: 0 });
    // The crash: no close, and half a batch written after the last acknowledged one.
    const logPath = join(config.dataDir, 'topics', 't1', '0', '00000000000000000000.log');
    const data = readFileSync(logPath);
    appendFileSync(logPath, data.subarray(0, Math.floor(readBatchHeader(data, 0)!.length / 2)));

    const broker = Broker.open(config);
    try {
      expect(broker.startedClean).toBe(false);
      expect(broker.partitionStats()).toEqual({ total: 15, opened: 15 });
      expect(broker.describeTopic('t1').partitionDetails[0].endOffset).toBe(4);
      const r = await broker.produce('t1', [{ value: 'after' }], { autoCreate: false, partition: 0 });
      expect(r.offsets).toEqual([4]);
      expect((await broker.fetch('t1', 0, 3, 10, 1 << 20)).map((m) => m.value.toString())).toEqual(['acked-before-crash', 'after']);
    } finally {
      await broker.close();
    }
  });

  it('without the marker, cursors past a lost tail are clamped to the log end before anything is served', async () => {
    const config = { ...freshConfig(), fsync: 'never' as const };
    await fill(config);
    const crashed = Broker.open(config);
    await crashed.ack('t0', 'c', 2, 0); // cursor 3 = the log end
    await crashed.close();
    rmSync(join(config.dataDir, CLEAN_SHUTDOWN_FILE)); // as a crash would leave it
    const logPath = join(config.dataDir, 'topics', 't0', '0', '00000000000000000000.log');
    truncateSync(logPath, 0); // the unsynced log lost (its one batch held offsets 0-2)

    const broker = Broker.open(config);
    try {
      expect(broker.cursor('t0', 'c', 0)).toMatchObject({ offset: 0, logEndOffset: 0 });
    } finally {
      await broker.close();
    }
  });

  it('a marker that does not parse counts as no marker: full recovery', async () => {
    const config = freshConfig();
    await fill(config);
    writeFileSync(join(config.dataDir, CLEAN_SHUTDOWN_FILE), '{"version":1,"topics":{"t0":{"meta":');
    const broker = Broker.open(config);
    try {
      expect(broker.startedClean).toBe(false);
      expect(broker.partitionStats().opened).toBe(15);
      expect(existsSync(join(config.dataDir, CLEAN_SHUTDOWN_FILE))).toBe(false);
      expect(broker.describeTopic('t0').messageCount).toBe(9);
    } finally {
      await broker.close();
    }
  });

  it('a created topic is complete on disk when createTopic resolves (a crash right after keeps it); a dir without topic.json is removed', async () => {
    const config = freshConfig();
    const broker = Broker.open(config);
    await broker.createTopic('fresh', 4);
    const dir = join(config.dataDir, 'topics', 'fresh');
    expect(JSON.parse(readFileSync(join(dir, 'topic.json'), 'utf8'))).toMatchObject({ name: 'fresh', partitions: 4 });
    expect(existsSync(join(dir, 'topic.json.tmp'))).toBe(false);
    // Partition files come with the first append (which makes them durable before writing), not with the create.
    expect(readdirSync(dir).sort()).toEqual(['cursors.log', 'topic.json']);
    await broker.produce('fresh', [{ value: 'x' }], { autoCreate: false, partition: 3 });
    expect(readdirSync(join(dir, '3')).sort()).toEqual(['00000000000000000000.index', '00000000000000000000.log']);
    expect((await broker.fetch('fresh', 1, 0, 10, 1 << 20)).length).toBe(0); // a partition without files reads empty
    // No close: the next start finds no marker and recovers.
    // A create cut before its topic.json: partition files but no metadata.
    mkdirSync(join(config.dataDir, 'topics', 'half', '0'), { recursive: true });
    writeFileSync(join(config.dataDir, 'topics', 'half', '0', '00000000000000000000.log'), '');
    const again = Broker.open(config);
    try {
      expect(again.describeTopic('fresh')).toMatchObject({ partitions: 4, messageCount: 1 });
      // A start writes nothing for partitions never written; their first append creates their files.
      expect(existsSync(join(dir, '0'))).toBe(false);
      expect((await again.produce('fresh', [{ value: 'y' }], { autoCreate: false, partition: 0 })).offsets).toEqual([0]);
      expect(existsSync(join(dir, '0', '00000000000000000000.log'))).toBe(true);
      expect(again.hasTopic('half')).toBe(false);
      expect(existsSync(join(config.dataDir, 'topics', 'half'))).toBe(false);
    } finally {
      await again.close();
    }
  });
});
