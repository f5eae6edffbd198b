// Idempotent produce across crashes: the key travels in the record batch with its data, so a crash image
// cut at any batch leaves either both (the retry answers the first offsets) or neither (the retry stores
// it once), never the data without its key. Crash images are copies of DATA_DIR taken while the broker
// runs (no close, no last snapshot), then cut where a power loss could cut them.
import { cpSync, existsSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Broker, type ProduceResult } from '../../src/storage/broker';
import type { EngineConfig } from '../../src/storage/engine-config';
import { IDEMPOTENCY_SNAPSHOT_FILE } from '../../src/storage/idempotency-window';
import { requestFingerprint } from '../../src/storage/producer-marker';
import type { ProducerRecord } from '../../src/storage/record-batch';
import { activeLogPath, batchesOf, expectStorageError, makeTempDir, removeDir, smallConfig } from './support';

// Crash images copy whole data directories and reopen brokers many times: slow on a busy shared CI disk.
jest.setTimeout(120_000);

describe('idempotent produce', () => {
  let root: string;
  let config: EngineConfig;
  const brokers: Broker[] = [];
  let images = 0;
  const open = (c = config) => {
    const b = Broker.open(c);
    brokers.push(b);
    return b;
  };
  /** A copy of DATA_DIR as a crash would leave it: whatever is written, nothing closed. */
  const crashImage = (): EngineConfig => {
    const dir = join(root, `image-${images++}`);
    cpSync(join(root, 'live'), dir, { recursive: true });
    return { ...config, dataDir: dir };
  };
  const keyed = (b: Broker, topic: string, key: string, records: ProducerRecord[], partition?: number): Promise<ProduceResult> =>
    b.produce(topic, records, { autoCreate: true, partition, idempotency: { key, fingerprint: requestFingerprint(records, partition) } });
  const requestOf = (i: number): ProducerRecord[] => (i % 4 === 3 ? [{ value: `r${i}.a` }, { value: `r${i}.b` }, { value: `r${i}.c` }] : [{ value: `r${i}` }]);
  const valuesIn = async (b: Broker, topic: string, partition = 0) =>
    (await b.fetch(topic, partition, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).map((r) => r.value.toString());

  beforeEach(() => {
    root = makeTempDir('mk-idem-');
    config = smallConfig(join(root, 'live'), { segmentBytes: 1024 * 1024 });
  });

  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.close();
    removeDir(root);
  });

  it('answers a retry after a crash that lost the answer with the first offsets, storing nothing twice', async () => {
    const live = open();
    const first: ProduceResult[] = [];
    for (let i = 0; i < 12; i++) first.push(await keyed(live, 'pay', `k${i}`, requestOf(i)));
    const after = open(crashImage());
    for (let i = 0; i < 12; i++) {
      const again = await keyed(after, 'pay', `k${i}`, requestOf(i));
      expect(again).toMatchObject({ offsets: first[i].offsets, replayed: true });
    }
    expect(await valuesIn(after, 'pay')).toEqual(await valuesIn(live, 'pay'));
  });

  it('keeps every key exactly once whatever batch a power cut ends the log at', async () => {
    const live = open();
    const n = 16;
    for (let i = 0; i < n; i++) await keyed(live, 'pay', `k${i}`, requestOf(i));
    const image = crashImage();
    const path = activeLogPath(join(image.dataDir, 'topics', 'pay', '0'));
    const batches = batchesOf(path);
    expect(batches.length).toBe(n); // one request per flush here: every cut below lands between two requests or inside one
    const expected = Array.from({ length: n }, (_, i) => requestOf(i).map((r) => r.value)).flat();
    for (const batch of batches) {
      for (const cut of [batch.position, batch.position + Math.floor(batch.length / 2)]) {
        const dir = join(root, `cut-${images++}`);
        cpSync(image.dataDir, dir, { recursive: true });
        truncateSync(activeLogPath(join(dir, 'topics', 'pay', '0')), cut);
        const b = open({ ...config, dataDir: dir });
        const answers: ProduceResult[] = [];
        for (let i = 0; i < n; i++) answers.push(await keyed(b, 'pay', `k${i}`, requestOf(i)));
        const stored = await valuesIn(b, 'pay');
        expect([...stored].sort()).toEqual([...expected].sort());
        for (let i = 0; i < n; i++) {
          expect(answers[i].offsets.map((o) => stored[o])).toEqual(requestOf(i).map((r) => r.value));
          // Requests wholly before the cut were durable: their retry writes nothing.
          if (i < batches.indexOf(batch)) expect(answers[i].replayed).toBe(true);
        }
        await b.close();
      }
    }
  });

  it('refuses the same key for a different request with IDEMPOTENCY_KEY_REUSED, before and after a crash', async () => {
    const live = open();
    await keyed(live, 'pay', 'charge-1', [{ value: 'amount=10' }]);
    await expectStorageError(keyed(live, 'pay', 'charge-1', [{ value: 'amount=99' }]), 'IDEMPOTENCY_KEY_REUSED');
    await expectStorageError(keyed(live, 'pay', 'charge-1', [{ value: 'amount=10', key: 'customer-1' }]), 'IDEMPOTENCY_KEY_REUSED');
    await expectStorageError(keyed(live, 'pay', 'charge-1', [{ value: 'amount=10' }], 0), 'IDEMPOTENCY_KEY_REUSED');
    const after = open(crashImage());
    await expectStorageError(keyed(after, 'pay', 'charge-1', [{ value: 'amount=99' }]), 'IDEMPOTENCY_KEY_REUSED');
    expect(await keyed(after, 'pay', 'charge-1', [{ value: 'amount=10' }])).toMatchObject({ offsets: [0], replayed: true });
    expect(await valuesIn(after, 'pay')).toEqual(['amount=10']);
  });

  it('writes only the partitions a crash kept a spread request from reaching', async () => {
    const live = open();
    await live.createTopic('orders', 4);
    const records: ProducerRecord[] = Array.from({ length: 24 }, (_, i) => ({ key: `customer-${i}`, value: `order-${i}` }));
    await live.produce('orders', [{ value: 'before' }], { autoCreate: false, partition: 2 });
    const first = await keyed(live, 'orders', 'import-7', records);
    const touched = [...new Set(first.placement)];
    expect(touched.length).toBeGreaterThan(1);
    const image = crashImage();
    // The power cut lost the share of one partition (its last batch), the others landed.
    const lost = touched[0];
    const lostPath = activeLogPath(join(image.dataDir, 'topics', 'orders', String(lost)));
    const batches = batchesOf(lostPath);
    truncateSync(lostPath, batches[batches.length - 1].position);
    const after = open(image);
    const again = await keyed(after, 'orders', 'import-7', records);
    expect(again.replayed).toBe(false);
    expect(again.placement).toEqual(first.placement);
    for (let i = 0; i < records.length; i++) {
      if (first.placement[i] !== lost) expect(again.offsets[i]).toBe(first.offsets[i]);
      const [stored] = await after.fetch('orders', again.placement[i], again.offsets[i], 1, Number.MAX_SAFE_INTEGER);
      expect(stored.value.toString()).toBe(`order-${i}`);
    }
    const all = (await Promise.all([0, 1, 2, 3].map((p) => valuesIn(after, 'orders', p)))).flat();
    expect(all.sort()).toEqual(['before', ...records.map((r) => r.value as string)].sort());
    // And now the request is whole: one more retry is a pure replay.
    expect(await keyed(after, 'orders', 'import-7', records)).toMatchObject({ offsets: again.offsets, replayed: true });
  });

  it('routes an unkeyed idempotent request by its Idempotency-Key, so a retry lands on the same partition', async () => {
    const live = open();
    await live.createTopic('spread', 8);
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const a = await keyed(live, 'spread', `req-${i}`, [{ value: `v${i}` }]);
      seen.add(a.placement[0]);
      // Plain produces in between move the round-robin; the keyed retry must not follow it.
      await live.produce('spread', [{ value: 'plain' }], { autoCreate: false });
      const after = open(crashImage());
      expect(await keyed(after, 'spread', `req-${i}`, [{ value: `v${i}` }])).toMatchObject({ placement: a.placement, offsets: a.offsets, replayed: true });
      await after.close();
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('rebuilds the window from its snapshot after a clean restart, and forgets keys past IDEMPOTENCY_WINDOW_MS', async () => {
    const b1 = open();
    const a = await keyed(b1, 'pay', 'k1', [{ value: 'one' }]);
    await b1.close();
    expect(existsSync(join(config.dataDir, 'topics', 'pay', IDEMPOTENCY_SNAPSHOT_FILE))).toBe(true);
    const b2 = open();
    expect(await keyed(b2, 'pay', 'k1', [{ value: 'one' }])).toMatchObject({ offsets: a.offsets, replayed: true });
    await b2.close();

    const short = { ...config, idempotencyWindowMs: 50 };
    const b3 = open(short);
    await keyed(b3, 'pay', 'k2', [{ value: 'two' }]);
    await new Promise((r) => setTimeout(r, 80));
    expect(await keyed(b3, 'pay', 'k2', [{ value: 'two' }])).toMatchObject({ replayed: false });
    expect(await valuesIn(b3, 'pay')).toEqual(['one', 'two', 'two']);
  });

  it('answers concurrent duplicates of one request with one write', async () => {
    const b = open();
    const answers = await Promise.all(Array.from({ length: 10 }, () => keyed(b, 'pay', 'dup', [{ value: 'once' }, { value: 'twice?' }])));
    expect(new Set(answers.map((a) => a.offsets.join()))).toEqual(new Set(['0,1']));
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    expect(await valuesIn(b, 'pay')).toEqual(['once', 'twice?']);
  });

  it('hides the marker from consumers: values, keys and headers read back exactly as produced', async () => {
    const b = open();
    await keyed(b, 'pay', 'hdr', [{ value: 'v', key: 'k', headers: { a: '1' } }]);
    const [r] = await b.fetch('pay', 0, 0, 1, Number.MAX_SAFE_INTEGER);
    expect({ value: r.value.toString(), key: r.key?.toString(), headers: r.headers }).toEqual({ value: 'v', key: 'k', headers: { a: '1' } });
  });
});
