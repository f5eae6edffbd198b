// Several SIGKILL/restart rounds on one DATA_DIR, and a log spread over many small segments when killed.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerProcess, makeDataDir, removeDataDir } from './broker-process';
import {
  describeTopic,
  expectConsumerResumes,
  expectLogRecovered,
  loadThenKill,
  newConsumer,
  newProduceLedger,
  type LoadOptions,
} from './workload';

jest.setTimeout(60_000);

const ROUNDS = 3;

describe('repeated crashes (FSYNC=always)', () => {
  let dataDir: string;
  let broker: BrokerProcess | undefined;

  beforeEach(() => {
    dataDir = makeDataDir();
  });
  afterEach(async () => {
    await broker?.kill9();
    broker = undefined;
    removeDataDir(dataDir);
  });

  it(`keeps everything acknowledged over ${ROUNDS} kill/restart rounds, checking after each`, async () => {
    const topic = 'crash-rounds';
    // One ledger for all rounds: what was acknowledged in round 1 must still be there after round 3.
    const ledger = newProduceLedger();
    const consumers = [newConsumer('rounds-c'), newConsumer('rounds-retrying', true)];
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always' } });
    for (let round = 1; round <= ROUNDS; round++) {
      const acksBefore = new Map(consumers.map((c) => [c, c.lastAnsweredAck]));
      const load = await loadThenKill(broker, ledger, {
        topic,
        round,
        singleProducers: 16,
        batchProducers: 2,
        consumers,
        killAfterMs: { min: 800, max: 1500 },
        readyToKill: () => consumers.every((c) => c.lastAnsweredAck > acksBefore.get(c)!),
      });
      expect({ round, problems: ledger.problems }).toEqual({ round, problems: [] });
      for (const c of consumers) {
        expect({ round, consumer: c.consumerId, problems: c.problems }).toEqual({ round, consumer: c.consumerId, problems: [] });
      }
      expect(load.inFlightAtKill).toBeGreaterThan(0);

      broker = await broker.restart();
      const log = await expectLogRecovered(broker, topic, ledger, round);
      for (const c of consumers) await expectConsumerResumes(broker, topic, c, log);
    }
  });

  it('recovers a log spanning many small segments (SEGMENT_BYTES=65536), then with its index files gone', async () => {
    const topic = 'crash-segments';
    const ledger = newProduceLedger();
    const consumer = newConsumer('segments-c');
    const small = { FSYNC: 'always', SEGMENT_BYTES: '65536' };
    const load = (round: number, answeredBefore = ledger.acked.size): LoadOptions => ({
      topic,
      round,
      singleProducers: 32,
      batchProducers: 3,
      consumers: [consumer],
      padding: 300,
      killAfterMs: { min: 1000, max: 2000 },
      // Each message takes over 300 bytes on disk: 1200 of them fill more than six 64 KiB segments.
      readyToKill: () => ledger.acked.size - answeredBefore >= 1200,
    });

    broker = await BrokerProcess.start({ dataDir, env: small });
    await loadThenKill(broker, ledger, load(1));
    expect(ledger.problems).toEqual([]);
    expect(consumer.problems).toEqual([]);
    broker = await broker.restart(small);
    let log = await expectLogRecovered(broker, topic, ledger, 1);
    await expectConsumerResumes(broker, topic, consumer, log);
    // The kill really hit a multi-segment log, so recovery and reads crossed segment boundaries.
    expect((await describeTopic(broker, topic)).segment_count).toBeGreaterThanOrEqual(5);

    await loadThenKill(broker, ledger, load(2));
    expect(ledger.problems).toEqual([]);
    expect(consumer.problems).toEqual([]);
    // The .index files are a cache of the log: with all of them lost, recovery rebuilds them. The restart also
    // changes SEGMENT_BYTES back to its default, which must not disturb the segments already written.
    const partitionDir = join(dataDir, 'topics', topic, '0');
    const indexes = readdirSync(partitionDir).filter((f) => f.endsWith('.index'));
    expect(indexes.length).toBeGreaterThanOrEqual(5);
    for (const f of indexes) rmSync(join(partitionDir, f));
    broker = await broker.restart({ FSYNC: 'always' });
    log = await expectLogRecovered(broker, topic, ledger, 2);
    await expectConsumerResumes(broker, topic, consumer, log);
  });
});
