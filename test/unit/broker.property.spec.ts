// Property tests: random produce/poll/ack/seek/restart sequences against an in-memory model, and crashes
// that cut the active segment at any byte.
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Broker, type SeekTarget } from '../../src/storage/broker';
import { StorageError } from '../../src/storage/errors';
import { activeLogPath, batchesOf, fileSize, makeTempDir, offsetsOf, range, removeDir, segmentBases, smallConfig, valuesOf } from './support';

const TOPIC = 'prop';
const CONSUMERS = ['c0', 'c1', 'c2'] as const;

type Op =
  | { kind: 'produce'; values: string[] }
  | { kind: 'poll'; consumer: number }
  | { kind: 'ack'; consumer: number; offset: number }
  | { kind: 'seek'; consumer: number; target: number | 'beginning' | 'end' }
  | { kind: 'reopen' };

const value = fc.string({ unit: 'binary', maxLength: 40 });
/** Offsets are drawn relative to the log end so that both valid and out-of-range ones come up often. */
const relative = fc.integer({ min: -12, max: 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('produce' as const), values: fc.array(value, { minLength: 1, maxLength: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('poll' as const), consumer: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('ack' as const), consumer: fc.nat(2), offset: relative }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('seek' as const),
      consumer: fc.nat(2),
      target: fc.oneof(relative, fc.constantFrom('beginning' as const, 'end' as const)),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** The whole specification, small: a list of messages and, per consumer, the next offset it will get. */
class Model {
  readonly messages: string[] = [];
  readonly cursors = new Map<string, number>();

  next(consumer: string): number {
    return this.cursors.get(consumer) ?? 0;
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
    return null;
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
}

async function expectBrokerMatches(broker: Broker, model: Model): Promise<void> {
  const all = await broker.fetch(TOPIC, 0, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  expect(offsetsOf(all)).toEqual(range(0, model.messages.length));
  expect(valuesOf(all)).toEqual(model.messages);
  for (const c of CONSUMERS) {
    const view = broker.cursor(TOPIC, c);
    expect({ c, offset: view.offset, committed: view.committed }).toEqual({ c, offset: model.next(c), committed: model.cursors.has(c) });
  }
}

describe('broker properties', () => {
  it('behaves like the in-memory model under random produce/poll/ack/seek/restart', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 50, size: 'max' }), async (ops) => {
        const root = makeTempDir('mk-prop-');
        // fsync off keeps hundreds of runs' worth of writes fast; close (the restart step) still syncs.
        const config = smallConfig(root, { segmentBytes: 2048, indexIntervalBytes: 64, fsync: 'never' });
        let broker = Broker.open(config);
        try {
          await broker.createTopic(TOPIC);
          const model = new Model();
          for (const o of ops) {
            const end = model.messages.length;
            switch (o.kind) {
              case 'produce': {
                const r = await broker.produce(TOPIC, o.values.map((v) => ({ value: v })), { autoCreate: false });
                expect(r.offsets[0]).toBe(end);
                model.messages.push(...o.values);
                break;
              }
              case 'poll': {
                const c = CONSUMERS[o.consumer];
                const got = await broker.poll(TOPIC, c);
                const at = model.next(c);
                if (at >= end) expect(got).toBeNull();
                else expect({ offset: got?.offset, value: got?.value.toString('utf8') }).toEqual({ offset: at, value: model.messages[at] });
                break;
              }
              case 'ack': {
                const c = CONSUMERS[o.consumer];
                const offset = end + o.offset;
                const code = await codeOf(broker.ack(TOPIC, c, offset));
                if (offset < 0 || offset >= end) expect(code).toBe('OFFSET_OUT_OF_RANGE');
                else {
                  expect(code).toBeNull();
                  model.cursors.set(c, Math.max(model.cursors.get(c) ?? 0, offset + 1));
                }
                expect(broker.cursor(TOPIC, c).offset).toBe(model.next(c));
                break;
              }
              case 'seek': {
                const c = CONSUMERS[o.consumer];
                const target: SeekTarget = typeof o.target === 'number' ? end + o.target : o.target;
                const code = await codeOf(broker.seek(TOPIC, c, target));
                const resolved = target === 'beginning' ? 0 : target === 'end' ? end : target;
                if (resolved < 0 || resolved > end) expect(code).toBe('OFFSET_OUT_OF_RANGE');
                else {
                  expect(code).toBeNull();
                  model.cursors.set(c, resolved);
                }
                expect(broker.cursor(TOPIC, c).offset).toBe(model.next(c));
                break;
              }
              case 'reopen':
                await broker.close();
                broker = Broker.open(config);
                await expectBrokerMatches(broker, model);
                break;
            }
          }
          await expectBrokerMatches(broker, model);
          await broker.close();
          broker = Broker.open(config);
          await expectBrokerMatches(broker, model);
        } finally {
          await broker.close();
          removeDir(root);
        }
      }),
      { numRuns: 30 },
    );
  }, 60_000);

  it('after a crash that cuts the active segment at any byte, holds exactly the whole batches before the cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(value, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 25, size: 'max' }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(value, { minLength: 1, maxLength: 5 }),
        async (batches, where, more) => {
          const root = makeTempDir('mk-crash-');
          // No fsync per produce: the crash is simulated by cutting the file after a clean close (which syncs).
          const config = smallConfig(root, { segmentBytes: 2048, indexIntervalBytes: 64, fsync: 'never' });
          let broker = Broker.open(config);
          try {
            const messages: string[] = [];
            for (const values of batches) {
              await broker.produce(TOPIC, values.map((v) => ({ value: v })), { autoCreate: true });
              messages.push(...values);
            }
            await broker.close();

            const dir = join(root, 'topics', TOPIC, '0');
            const active = activeLogPath(dir);
            const activeBase = segmentBases(dir).at(-1)!;
            const size = fileSize(active);
            const cut = Math.min(size, Math.floor(where * (size + 1)));
            // What must survive: every sealed record, and the active segment's batches that end at or before the cut.
            let survivors = activeBase;
            for (const b of batchesOf(active)) if (b.position + b.length <= cut) survivors = b.baseOffset + b.recordCount;
            truncateSync(active, cut);

            broker = Broker.open(config);
            const all = await broker.fetch(TOPIC, 0, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
            expect(offsetsOf(all)).toEqual(range(0, survivors));
            expect(valuesOf(all)).toEqual(messages.slice(0, survivors));
            expect(broker.describeTopic(TOPIC).partitionDetails[0].endOffset).toBe(survivors);

            const r = await broker.produce(TOPIC, more.map((v) => ({ value: v })), { autoCreate: false });
            expect(r.offsets[0]).toBe(survivors);
            await broker.close();
            broker = Broker.open(config);
            const after = await broker.fetch(TOPIC, 0, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
            expect(offsetsOf(after)).toEqual(range(0, survivors + more.length));
            expect(valuesOf(after)).toEqual([...messages.slice(0, survivors), ...more]);
          } finally {
            await broker.close();
            removeDir(root);
          }
        },
      ),
      { numRuns: 30 },
    );
  }, 60_000);
});
