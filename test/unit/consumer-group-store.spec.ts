// Durable consumer groups: the group log (framing, torn tails, compaction) and the registry over a real broker
// (restart keeps leases and the committed position, recreated topics reset, dead letters and redrive, long polls).
import { appendFileSync, existsSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/storage/broker';
import { type GroupRecord, newNonce } from '../../src/storage/consumer-group';
import { GroupRegistry } from '../../src/storage/consumer-groups';
import { DLQ_HEADERS } from '../../src/storage/dead-letters';
import type { EngineConfig } from '../../src/storage/engine-config';
import { decodeGroupRecords, encodeGroupRecord, GroupStore } from '../../src/storage/group-store';
import { expectStorageError, fileSize, flipByte, makeTempDir, removeDir, smallConfig } from './support';

const lease = (offset: number, keyId: string | null = null): GroupRecord => ({
  type: 'lease',
  partition: 1,
  offset,
  nonce: newNonce(),
  expiresAt: 1_700_000_000_000 + offset,
  deliveries: 2,
  keyId,
});

describe('GroupStore', () => {
  let dir: string;
  let path: string;
  const stores: GroupStore[] = [];
  const open = async () => {
    const opened = await GroupStore.open(path, { fsync: 'always', minCompactBytes: 2048 });
    stores.push(opened.store);
    return opened;
  };

  beforeEach(() => {
    dir = makeTempDir();
    path = join(dir, 'groups', 'g.log');
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    removeDir(dir);
  });

  it('round-trips every record type through the framing', () => {
    const records: GroupRecord[] = [
      { type: 'config', config: { maxDeliveries: 3, perKeyOrdering: true, deadLetterTopic: 'x.dlq', leaseMs: 10, createdAt: 'a', topicCreatedAt: 'b' } },
      { type: 'position', partition: 2, committed: 10, next: 20, deadLettered: 4 },
      lease(11, 'AbCdEfGhIjKlMnOp'),
      { type: 'pending', partition: 0, offset: 12, nonce: newNonce(), notBefore: 5, deliveries: 1, keyId: null },
      { type: 'settle', partition: 0, offset: 13, nonce: newNonce(), kind: 'dead-lettered' },
    ];
    const out: GroupRecord[] = [];
    const buf = Buffer.concat(records.map(encodeGroupRecord));
    expect(decodeGroupRecords(buf, out)).toBe(buf.length);
    expect(out).toEqual(records);
  });

  it('creates the file, appends durably and replays in order after reopening', async () => {
    const { store, records } = await open();
    expect(records).toEqual([]);
    expect(existsSync(path)).toBe(true);
    const written = [lease(0), lease(1), lease(2)];
    await Promise.all([store.append([written[0]]), store.append(written.slice(1))]);
    await store.barrier();
    await store.close();
    expect((await open()).records).toEqual(written);
  });

  it('cuts a torn tail and a corrupt record, keeping everything before', async () => {
    const { store } = await open();
    const written = [lease(0), lease(1), lease(2)];
    await store.append(written);
    await store.close();
    const whole = fileSize(path);
    const one = encodeGroupRecord(lease(0)).length;
    truncateSync(path, whole - 5); // torn last record
    let reopened = await open();
    expect(reopened.records).toEqual(written.slice(0, 2));
    expect(fileSize(path)).toBe(2 * one);
    await reopened.store.append([lease(3)]);
    await reopened.store.close();
    flipByte(path, one + 20); // corrupt the second record
    appendFileSync(path, Buffer.from('garbage'));
    reopened = await open();
    expect(reopened.records).toEqual(written.slice(0, 1));
    expect(fileSize(path)).toBe(one);
  });

  it('compacts to the snapshot once the log outgrows it, by atomic rename', async () => {
    const { store } = await open();
    const live = [lease(100)];
    store.setSnapshotSource(() => live);
    for (let i = 0; i < 200; i++) await store.append([lease(i)]);
    await store.barrier();
    await store.close();
    expect(fileSize(path)).toBeLessThan(4096);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    const { records } = await open();
    expect(records[0]).toEqual(live[0]);
  });

  it('answers appends after close with 503, not silently', async () => {
    const { store } = await open();
    await store.close();
    await expectStorageError(store.append([lease(0)]), 'STORAGE_UNAVAILABLE');
  });
});

describe('GroupRegistry over a broker', () => {
  let root: string;
  let config: EngineConfig;
  let broker: Broker;
  let groups: GroupRegistry;

  const start = () => {
    broker = Broker.open(config);
    groups = new GroupRegistry(broker, { minCompactBytes: 4096 });
  };
  const stop = async () => {
    await groups.close();
    await broker.close();
  };
  const produce = (topic: string, values: string[], key?: string) =>
    broker.produce(
      topic,
      values.map((value) => ({ value, key })),
      { autoCreate: true },
    );
  const values = (ds: Array<{ record: { value: Buffer } }>) => ds.map((d) => d.record.value.toString());

  beforeEach(() => {
    root = makeTempDir();
    config = smallConfig(root);
    start();
  });
  afterEach(async () => {
    await stop();
    removeDir(root);
  });

  it('validates names and answers unknown groups and topics with their errors', async () => {
    await produce('t', ['a']);
    await expectStorageError(groups.receive('t', 'bad/name', {}), 'INVALID_NAME');
    await expectStorageError(groups.receive('t', '', {}), 'INVALID_NAME');
    await expectStorageError(groups.describe('t', 'nope'), 'GROUP_NOT_FOUND');
    await expectStorageError(groups.ack('t', 'nope', ['x']), 'GROUP_NOT_FOUND');
    await expectStorageError(groups.receive('missing', 'g', {}), 'TOPIC_NOT_FOUND');
    await expectStorageError(groups.receive('t', 'g', { max: 0 }), 'INVALID_NAME');
    await expectStorageError(groups.configure('t', 'g', { maxDeliveries: -1 }), 'INVALID_NAME');
    await expectStorageError(groups.configure('t', 'g', { deadLetterTopic: 't' }), 'INVALID_NAME');
  });

  it('keeps in-flight leases, settled messages and the committed position across a restart', async () => {
    await produce('t', ['m0', 'm1', 'm2', 'm3', 'm4']);
    const got = await groups.receive('t', 'g', { max: 4, leaseMs: 60_000 });
    expect(values(got)).toEqual(['m0', 'm1', 'm2', 'm3']);
    const acks = await groups.ack('t', 'g', [got[0].leaseId, got[2].leaseId]);
    expect(acks.map((a) => a.status)).toEqual(['acked', 'acked']);
    await stop();
    start();
    const view = await groups.describe('t', 'g');
    expect(view.partitions[0]).toMatchObject({ committedOffset: 1, endOffset: 5, inFlight: 2, lag: 3 });
    // leases 1 and 3 are still held: only m4 is free
    expect(values(await groups.receive('t', 'g', { max: 10 }))).toEqual(['m4']);
    // the lease ids handed out before the restart still work
    expect((await groups.ack('t', 'g', [got[1].leaseId, got[3].leaseId, got[2].leaseId])).map((a) => a.status)).toEqual([
      'acked',
      'acked',
      'already_acked',
    ]);
    expect((await groups.describe('t', 'g')).partitions[0].committedOffset).toBe(4);
  });

  it('after a restart redelivers unacked messages once their leases expire, never acked ones', async () => {
    await produce('t', ['m0', 'm1', 'm2']);
    // 1 s leases: a restart on a loaded machine must not outlast them before the first receive below.
    const got = await groups.receive('t', 'g', { max: 3, leaseMs: 1000 });
    await groups.ack('t', 'g', [got[1].leaseId]);
    await stop();
    start();
    expect(await groups.receive('t', 'g', { max: 10 })).toEqual([]);
    // Past both leases (a long poll would wake on the first one to expire and answer it alone).
    await new Promise((r) => setTimeout(r, 1200));
    const again = await groups.receive('t', 'g', { max: 10, waitMs: 5000 });
    expect(values(again)).toEqual(['m0', 'm2']);
    expect(again.map((d) => d.deliveries)).toEqual([2, 2]);
  });

  it('long polls: answers as soon as a message is produced, or empty after the wait', async () => {
    await broker.createTopic('t');
    const t0 = Date.now();
    expect(await groups.receive('t', 'g', { waitMs: 100 })).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    const waiting = groups.receive('t', 'g', { waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await produce('t', ['late']);
    expect(values(await waiting)).toEqual(['late']);
  });

  it('wakes a waiting receive on nack, and answers waiting receives at shutdown', async () => {
    await produce('t', ['m0']);
    const [d] = await groups.receive('t', 'g', {});
    const waiting = groups.receive('t', 'g', { waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 30));
    await groups.nack('t', 'g', [d.leaseId]);
    expect(values(await waiting)).toEqual(['m0']);
    const parked = groups.receive('t', 'g', { waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 30));
    const t0 = Date.now();
    groups.beginShutdown();
    expect(await parked).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('dead-letters after max_deliveries with headers, and redrives each dead letter once', async () => {
    await broker.createTopic('t');
    await groups.configure('t', 'g', { maxDeliveries: 2 });
    await broker.produce('t', [{ value: 'poison', key: 'k1', headers: { origin: 'test' } }, { value: 'fine' }], { autoCreate: true });
    for (let i = 0; i < 2; i++) {
      const [d] = await groups.receive('t', 'g', { max: 1 });
      expect(d.record.value.toString()).toBe('poison');
      expect((await groups.nack('t', 'g', [d.leaseId]))[0].status).toBe(i === 0 ? 'ok' : 'dead_lettered');
    }
    const dlq = await broker.fetch('t.dlq', 0, 0, 10, 1 << 20);
    expect(dlq).toHaveLength(1);
    expect(dlq[0].key!.toString()).toBe('k1');
    expect(dlq[0].headers).toMatchObject({
      origin: 'test',
      [DLQ_HEADERS.sourceTopic]: 't',
      [DLQ_HEADERS.sourcePartition]: '0',
      [DLQ_HEADERS.sourceOffset]: '0',
      [DLQ_HEADERS.reason]: 'nacked',
      [DLQ_HEADERS.deliveries]: '2',
      [DLQ_HEADERS.group]: 'g',
    });
    expect((await groups.describe('t', 'g')).partitions[0]).toMatchObject({ deadLettered: 1, committedOffset: 1 });
    expect(await groups.redrive('t', 'g', 10)).toEqual({ redriven: 1, deadLetterTopic: 't.dlq' });
    expect(await groups.redrive('t', 'g', 10)).toEqual({ redriven: 0, deadLetterTopic: 't.dlq' });
    const back = (await broker.fetch('t', 0, 2, 10, 1 << 20))[0];
    expect(back.value.toString()).toBe('poison');
    expect(back.key!.toString()).toBe('k1');
    expect(back.headers).toEqual({ origin: 'test' });
  });

  it('dead-letters expired leases too (reason expired)', async () => {
    await broker.createTopic('t');
    await groups.configure('t', 'g', { maxDeliveries: 1, deadLetterTopic: 'graveyard' });
    await produce('t', ['slow']);
    await groups.receive('t', 'g', { leaseMs: 20 });
    await new Promise((r) => setTimeout(r, 40));
    expect(await groups.receive('t', 'g', {})).toEqual([]);
    const [dead] = await broker.fetch('graveyard', 0, 0, 10, 1 << 20);
    expect(dead.headers![DLQ_HEADERS.reason]).toBe('expired');
    expect((await groups.describe('t', 'g')).partitions[0].committedOffset).toBe(1);
  });

  it('resets a group whose topic was deleted and created again', async () => {
    await broker.createTopic('t');
    await groups.configure('t', 'g', { maxDeliveries: 7 });
    await produce('t', ['old0', 'old1']);
    const [d] = await groups.receive('t', 'g', {});
    await groups.ack('t', 'g', [d.leaseId]);
    await broker.deleteTopic('t');
    await expectStorageError(groups.describe('t', 'g'), 'TOPIC_NOT_FOUND');
    await new Promise((r) => setTimeout(r, 5)); // a different creation time
    await produce('t', ['new0']);
    expect(values(await groups.receive('t', 'g', {}))).toEqual(['new0']);
    expect((await groups.ack('t', 'g', [d.leaseId]))[0].status).not.toBe('acked');
  });

  it('compacts a busy group log and recovers the same position from it', async () => {
    await produce('t', Array.from({ length: 300 }, (_, i) => `m${i}`));
    for (let i = 0; i < 30; i++) {
      const got = await groups.receive('t', 'g', { max: 10 });
      await groups.ack('t', 'g', got.map((d) => d.leaseId));
    }
    const path = join(root, 'topics', 't', 'groups', 'g.log');
    expect(fileSize(path)).toBeLessThan(300 * 60);
    await stop();
    start();
    expect((await groups.describe('t', 'g')).partitions[0]).toMatchObject({ committedOffset: 300, lag: 0, inFlight: 0 });
    expect(readFileSync(path).length).toBeGreaterThan(0);
  });
});
