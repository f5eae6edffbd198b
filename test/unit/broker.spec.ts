// Broker: topics, produce/poll/ack/seek against committed cursors, validation, deletion, restart and retention.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/storage/broker';
import type { EngineConfig } from '../../src/storage/engine-config';
import { expectStorageError, fileSize, logPath, makeTempDir, msg, offsetsOf, range, removeDir, segmentBases, smallConfig, valuesOf } from './support';

describe('Broker', () => {
  let root: string;
  let config: EngineConfig;
  const brokers: Broker[] = [];
  const open = (c = config) => {
    const b = Broker.open(c);
    brokers.push(b);
    return b;
  };
  const partitionDir = (topic: string, p = 0) => join(root, 'topics', topic, String(p));
  const produce = (b: Broker, topic: string, values: string[], autoCreate = true) =>
    b.produce(
      topic,
      values.map((value) => ({ value })),
      { autoCreate },
    );
  const fetchAll = async (b: Broker, topic: string, from = 0) =>
    b.fetch(topic, 0, from, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

  beforeEach(() => {
    root = makeTempDir();
    config = smallConfig(root);
  });

  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.close();
    removeDir(root);
  });

  describe('produce, poll and ack', () => {
    it('follows the seed cycle: poll repeats until acked, then moves on; a new consumer starts at the beginning', async () => {
      const b = open();
      expect(await b.createTopic('orders')).toMatchObject({ created: true });
      expect(await b.createTopic('orders')).toMatchObject({ created: false });
      expect((await produce(b, 'orders', ['one'])).offsets[0]).toBe(0);
      expect((await produce(b, 'orders', ['two', 'three'])).offsets[0]).toBe(1);
      expect(await b.poll('orders', 'c1')).toMatchObject({ offset: 0 });
      expect((await b.poll('orders', 'c1'))!.value.toString()).toBe('one');
      await b.ack('orders', 'c1', 0);
      expect((await b.poll('orders', 'c1'))!.offset).toBe(1);
      await b.ack('orders', 'c1', 1);
      await b.ack('orders', 'c1', 2);
      expect(await b.poll('orders', 'c1')).toBeNull();
      expect((await b.poll('orders', 'c2'))!.value.toString()).toBe('one');
      expect(b.cursor('orders', 'c1')).toMatchObject({ offset: 3, committed: true, lag: 0, logEndOffset: 3 });
      expect(b.cursor('orders', 'c2')).toMatchObject({ offset: 0, committed: false, lag: 3 });
    });

    it('auto-creates a topic on produce only when asked to', async () => {
      const b = open();
      await expectStorageError(produce(b, 'nope', ['x'], false), 'TOPIC_NOT_FOUND');
      expect(b.hasTopic('nope')).toBe(false);
      expect(existsSync(join(root, 'topics', 'nope'))).toBe(false);
      await produce(b, 'auto', ['x'], true);
      expect(b.describeTopic('auto')).toMatchObject({ partitions: 1, messageCount: 1 });
    });

    it('gives concurrent produces to a new auto-created topic one topic and dense offsets', async () => {
      const b = open();
      const results = await Promise.all(range(0, 2000).map((i) => produce(b, 'race', [`v${i}`])));
      expect(results.map((r) => r.offsets[0]).sort((x, y) => x - y)).toEqual(range(0, 2000));
      const byOffset = new Map(results.map((r, i) => [r.offsets[0], `v${i}`]));
      const all = await fetchAll(b, 'race');
      expect(offsetsOf(all)).toEqual(range(0, 2000));
      all.forEach((r) => expect(r.value.toString()).toBe(byOffset.get(r.offset)));
      expect(b.listTopics().map((t) => t.name)).toEqual(['race']);
    });

    it('rejects an ack of an offset that was never produced, and leaves the cursor alone', async () => {
      const b = open();
      await b.createTopic('t');
      await expectStorageError(b.ack('t', 'c', 0), 'OFFSET_OUT_OF_RANGE');
      await produce(b, 't', ['a', 'b', 'c']);
      await expectStorageError(b.ack('t', 'c', 3), 'OFFSET_OUT_OF_RANGE');
      await expectStorageError(b.ack('t', 'c', 1000), 'OFFSET_OUT_OF_RANGE');
      await expectStorageError(b.ack('t', 'c', -1), 'OFFSET_OUT_OF_RANGE');
      await expectStorageError(b.ack('t', 'c', 1.5), 'OFFSET_OUT_OF_RANGE');
      expect(b.cursor('t', 'c')).toMatchObject({ offset: 0, committed: false });
      await b.ack('t', 'c', 2);
      expect(b.cursor('t', 'c').offset).toBe(3);
    });

    it('never moves a cursor backwards on ack, but seek does', async () => {
      const b = open();
      await produce(b, 't', range(0, 10).map((i) => `m${i}`));
      await b.ack('t', 'c', 6);
      await b.ack('t', 'c', 2); // late, retried ack: a no-op
      expect(b.cursor('t', 'c').offset).toBe(7);
      expect((await b.poll('t', 'c'))!.offset).toBe(7);
      expect(await b.seek('t', 'c', 3)).toMatchObject({ offset: 3, committed: true });
      expect((await b.poll('t', 'c'))!.value.toString()).toBe('m3');
      expect((await b.seek('t', 'c', 'end')).offset).toBe(10);
      expect(await b.poll('t', 'c')).toBeNull();
      expect((await b.seek('t', 'c', 'beginning')).offset).toBe(0);
      await expectStorageError(b.seek('t', 'c', 11), 'OFFSET_OUT_OF_RANGE');
      await expectStorageError(b.seek('t', 'c', -1), 'OFFSET_OUT_OF_RANGE');
      expect(b.cursor('t', 'c').offset).toBe(0);
    });

    it('keeps topics, messages and cursors across close and reopen', async () => {
      let b = open();
      const values = range(0, 300).map((i) => msg(i));
      for (let i = 0; i < values.length; i += 4) await produce(b, 'keep', values.slice(i, i + 4));
      await produce(b, 'other', ['o']);
      await b.ack('keep', 'reader', 41);
      await b.seek('keep', 'rewinder', 17);
      await b.close();
      brokers.pop();

      b = open();
      expect(b.listTopics().map((t) => t.name)).toEqual(['keep', 'other']);
      expect(valuesOf(await fetchAll(b, 'keep'))).toEqual(values);
      expect(valuesOf(await fetchAll(b, 'other'))).toEqual(['o']);
      expect((await b.poll('keep', 'reader'))!.offset).toBe(42);
      expect((await b.poll('keep', 'rewinder'))!.offset).toBe(17);
      expect((await produce(b, 'keep', ['next'])).offsets[0]).toBe(300);
    });

    it('refuses work after close', async () => {
      const b = open();
      await b.close();
      await expectStorageError(produce(b, 't', ['x']), 'CLOSED');
      await expectStorageError(b.createTopic('t'), 'CLOSED');
    });
  });

  describe('validation', () => {
    const badTopics = ['..', '.', 'a/b', '../escape', 'a\\b', 'with space', 'x'.repeat(250), '', 'nul\u0000byte', 'ünïcode'];

    it.each(badTopics.map((n) => [JSON.stringify(n.length > 20 ? `${n.slice(0, 10)}…(${n.length})` : n), n]))(
      'rejects topic name %s with INVALID_NAME and creates nothing on disk',
      async (_, name) => {
        const b = open();
        const before = readdirSync(root).sort();
        await expectStorageError(b.createTopic(name), 'INVALID_NAME');
        await expectStorageError(produce(b, name, ['x'], true), 'INVALID_NAME');
        await expectStorageError(() => b.fetch(name, 0, 0, 1, 1), 'INVALID_NAME');
        await expectStorageError(b.deleteTopic(name), 'INVALID_NAME');
        expect(readdirSync(join(root, 'topics'))).toEqual([]);
        expect(readdirSync(root).sort()).toEqual(before);
        expect(b.listTopics()).toEqual([]);
      },
    );

    it('accepts the longest and the oddest valid names', async () => {
      const b = open();
      for (const name of ['x'.repeat(249), '...', 'a..b', '-_.', 'A-Z_0.9']) {
        expect(await b.createTopic(name)).toMatchObject({ created: true });
        expect(existsSync(join(root, 'topics', name, 'topic.json'))).toBe(true);
      }
    });

    it('rejects invalid consumer ids and partition counts', async () => {
      const b = open();
      await produce(b, 't', ['x']);
      for (const id of ['', 'a/b', 'x'.repeat(256), 'sp ace']) {
        await expectStorageError(b.poll('t', id), 'INVALID_NAME');
        await expectStorageError(b.ack('t', id, 0), 'INVALID_NAME');
      }
      await expectStorageError(b.createTopic('p', 0), 'INVALID_NAME');
      await expectStorageError(b.createTopic('p', 1.5), 'INVALID_NAME');
      expect(b.hasTopic('p')).toBe(false);
      await expectStorageError(b.fetch('t', 1, 0, 1, 1), 'PARTITION_NOT_FOUND');
    });

    it('rejects a message over MAX_MESSAGE_BYTES and stores nothing of its batch', async () => {
      const b = open(smallConfig(root, { maxMessageBytes: 100 }));
      await produce(b, 't', ['first']);
      expect((await produce(b, 't', ['y'.repeat(100)])).offsets[0]).toBe(1);
      await expectStorageError(produce(b, 't', ['z'.repeat(101)]), 'MESSAGE_TOO_LARGE');
      await expectStorageError(produce(b, 't', ['ok', 'é'.repeat(51), 'ok']), 'MESSAGE_TOO_LARGE'); // 102 bytes
      await expectStorageError(b.produce('t', [{ value: 'v'.repeat(60), key: 'k'.repeat(60) }], { autoCreate: true }), 'MESSAGE_TOO_LARGE');
      expect(b.describeTopic('t').partitionDetails[0].endOffset).toBe(2);
      expect((await produce(b, 't', ['after'])).offsets[0]).toBe(2);
      expect(valuesOf(await fetchAll(b, 't'))).toEqual(['first', 'y'.repeat(100), 'after']);
    });

    it('rejects headers the record format cannot hold, and keeps serving', async () => {
      const b = open();
      const longName = { ['h'.repeat(65_536)]: 'x' };
      const tooMany = Object.fromEntries(range(0, 65_536).map((i) => [`h${i}`, '']));
      await expectStorageError(b.produce('t', [{ value: 'v', headers: longName }], { autoCreate: true }), 'MESSAGE_TOO_LARGE');
      await expectStorageError(b.produce('t', [{ value: 'a' }, { value: 'v', headers: tooMany }], { autoCreate: true }), 'MESSAGE_TOO_LARGE');
      expect(b.hasTopic('t')).toBe(false);
      const longest = { ['h'.repeat(65_535)]: 'fits' };
      expect((await b.produce('t', [{ value: 'v', headers: longest }], { autoCreate: true })).offsets[0]).toBe(0);
      expect((await produce(b, 't', ['next'])).offsets[0]).toBe(1);
      const [first, second] = await fetchAll(b, 't');
      expect(first.headers).toEqual(longest);
      expect(second.value.toString()).toBe('next');
    });

    it('rejects an empty produce and one over MAX_BATCH_MESSAGES', async () => {
      const b = open(smallConfig(root, { maxBatchMessages: 3 }));
      await expectStorageError(produce(b, 't', []), 'INVALID_NAME');
      await expectStorageError(produce(b, 't', ['a', 'b', 'c', 'd']), 'BATCH_TOO_LARGE');
      expect(b.hasTopic('t')).toBe(false);
    });
  });

  describe('deleteTopic', () => {
    it('removes the topic, and a topic created again under the name starts fresh', async () => {
      let b = open();
      await produce(b, 'gone', ['a', 'b', 'c']);
      await b.ack('gone', 'c', 1);
      await b.deleteTopic('gone');
      expect(b.hasTopic('gone')).toBe(false);
      expect(existsSync(join(root, 'topics', 'gone'))).toBe(false);
      await expectStorageError(() => b.fetch('gone', 0, 0, 10, 1000), 'TOPIC_NOT_FOUND');
      await expectStorageError(b.poll('gone', 'c'), 'TOPIC_NOT_FOUND');
      await expectStorageError(b.deleteTopic('gone'), 'TOPIC_NOT_FOUND');

      expect(await b.createTopic('gone')).toMatchObject({ created: true, topic: { messageCount: 0 } });
      expect(b.cursor('gone', 'c')).toMatchObject({ offset: 0, committed: false });
      expect(await b.poll('gone', 'c')).toBeNull();
      expect((await produce(b, 'gone', ['new'])).offsets[0]).toBe(0);
      await b.close();
      brokers.pop();

      b = open();
      expect(valuesOf(await fetchAll(b, 'gone'))).toEqual(['new']);
      expect(b.cursor('gone', 'c').committed).toBe(false);
      expect(existsSync(join(root, 'trash')) ? readdirSync(join(root, 'trash')) : []).toEqual([]);
    });

    it('lets a produce auto-create a deleted topic again, empty', async () => {
      const b = open();
      await produce(b, 'again', ['old-1', 'old-2']);
      await b.deleteTopic('again');
      expect((await produce(b, 'again', ['new-1'])).offsets[0]).toBe(0);
      expect(valuesOf(await fetchAll(b, 'again'))).toEqual(['new-1']);
      expect(b.describeTopic('again').messageCount).toBe(1);
    });
  });

  describe('retention', () => {
    async function fill(b: Broker, topic: string, count: number): Promise<string[]> {
      const values = range(0, count).map((i) => msg(i));
      for (const v of values) await produce(b, topic, [v]);
      return values;
    }

    it('deletes the oldest whole segments past retentionBytes, never the active one', async () => {
      const b = open(smallConfig(root, { fsync: 'never', segmentBytes: 1024, retentionBytes: 3000 }));
      const values = await fill(b, 't', 200);
      const dir = partitionDir('t');
      const before = segmentBases(dir);
      expect(before.length).toBeGreaterThan(6);
      const removed = await b.enforceRetention(Date.now());
      expect(removed).toBeGreaterThan(0);
      const after = segmentBases(dir);
      expect(after).toEqual(before.slice(removed));
      const p = b.describeTopic('t').partitionDetails[0];
      expect(p.startOffset).toBe(after[0]);
      expect(p.endOffset).toBe(200);
      // Whole segments only: what is left still holds at least retentionBytes, and one segment fewer would not.
      expect(p.sizeBytes).toBeGreaterThanOrEqual(3000);
      expect(p.sizeBytes - fileSize(logPath(dir, after[0]))).toBeLessThan(3000);
      expect(p.segmentCount).toBe(after.length);
      expect(valuesOf(await fetchAll(b, 't'))).toEqual(values.slice(after[0]));
      expect(offsetsOf(await b.fetch('t', 0, 0, 3, Number.MAX_SAFE_INTEGER))).toEqual([after[0], after[0] + 1, after[0] + 2]);
      expect(await b.enforceRetention(Date.now())).toBe(0);
    });

    it('keeps the active segment even when it alone exceeds retentionBytes', async () => {
      const b = open(smallConfig(root, { fsync: 'never', segmentBytes: 1024, retentionBytes: 1 }));
      const values = await fill(b, 't', 60);
      await b.enforceRetention(Date.now());
      const after = segmentBases(partitionDir('t'));
      expect(after.length).toBe(1);
      const p = b.describeTopic('t').partitionDetails[0];
      expect(p.startOffset).toBe(after[0]);
      expect(p.sizeBytes).toBeGreaterThan(0);
      expect(valuesOf(await fetchAll(b, 't'))).toEqual(values.slice(after[0]));
      expect((await produce(b, 't', ['more'])).offsets[0]).toBe(60);
    });

    it('deletes sealed segments older than retentionMs, never the active one', async () => {
      const hour = 3600_000;
      const b = open(smallConfig(root, { fsync: 'never', segmentBytes: 1024, retentionMs: hour }));
      const values = await fill(b, 't', 100);
      const dir = partitionDir('t');
      const before = segmentBases(dir);
      expect(before.length).toBeGreaterThan(3);
      expect(await b.enforceRetention(Date.now())).toBe(0);
      expect(segmentBases(dir)).toEqual(before);
      expect(await b.enforceRetention(Date.now() + 2 * hour)).toBe(before.length - 1);
      expect(segmentBases(dir)).toEqual([before.at(-1)]);
      expect(valuesOf(await fetchAll(b, 't'))).toEqual(values.slice(before.at(-1)));
    });

    it('moves a cursor left behind the log start to the first remaining message', async () => {
      let b = open(smallConfig(root, { fsync: 'never', segmentBytes: 1024, retentionBytes: 2000 }));
      const values = await fill(b, 't', 150);
      await b.ack('t', 'slow', 2);
      await b.ack('t', 'fast', 148);
      await b.enforceRetention(Date.now());
      const start = b.describeTopic('t').partitionDetails[0].startOffset;
      expect(start).toBeGreaterThan(3);
      expect(b.cursor('t', 'slow')).toMatchObject({ resetToLogStart: true, offset: start, logStartOffset: start, lag: 150 - start });
      expect(b.cursor('t', 'fast')).toMatchObject({ resetToLogStart: false, offset: 149 });
      expect(b.cursor('t', 'new')).toMatchObject({ resetToLogStart: false, committed: false, offset: start });
      const polled = (await b.poll('t', 'slow'))!;
      expect(polled.offset).toBe(start);
      expect(polled.value.toString()).toBe(values[start]);
      expect((await b.poll('t', 'new'))!.offset).toBe(start);
      await expectStorageError(b.seek('t', 'slow', start - 1), 'OFFSET_OUT_OF_RANGE');

      // The same after a restart: deleted segments stay deleted.
      await b.close();
      brokers.pop();
      b = open(smallConfig(root, { fsync: 'never', segmentBytes: 1024, retentionBytes: 2000 }));
      expect(b.cursor('t', 'slow')).toMatchObject({ resetToLogStart: true, offset: start });
      expect((await b.poll('t', 'slow'))!.value.toString()).toBe(values[start]);
      await b.ack('t', 'slow', start);
      expect(b.cursor('t', 'slow')).toMatchObject({ resetToLogStart: false, offset: start + 1 });
    });
  });
});
