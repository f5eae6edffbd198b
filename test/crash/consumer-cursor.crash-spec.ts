// SIGKILL while consumers poll and ack under produce load: each cursor comes back exactly where its acks put it.
import { BrokerProcess, makeDataDir, removeDataDir } from './broker-process';
import { expectConsumerResumes, expectLogRecovered, loadThenKill, newConsumer, newProduceLedger } from './workload';

jest.setTimeout(60_000);

describe('crash while consumers poll and ack (FSYNC=always)', () => {
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

  it('restores every cursor to last answered ack + 1 (at most last sent ack + 1) and resumes polling there', async () => {
    const topic = 'crash-consume';
    const ledger = newProduceLedger();
    // Plain consumers, and consumers that send every ack twice at once (a client retrying a slow ack): a
    // retried ack must not be answered before the first one is durable.
    const consumers = [
      ...['c-0', 'c-1', 'c-2'].map((id) => newConsumer(id)),
      ...['c-retrying-0', 'c-retrying-1', 'c-retrying-2'].map((id) => newConsumer(id, true)),
    ];
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always' } });
    const load = await loadThenKill(broker, ledger, {
      topic,
      round: 1,
      singleProducers: 8,
      batchProducers: 1,
      consumers,
      killAfterMs: { min: 1000, max: 2000 },
      readyToKill: () => consumers.every((c) => c.lastAnsweredAck >= 0),
    });
    expect(ledger.problems).toEqual([]);
    for (const c of consumers) {
      expect(c.problems).toEqual([]);
      expect(c.lastAnsweredAck).toBeGreaterThanOrEqual(0); // it really consumed before the kill
    }
    expect(load.inFlightAtKill).toBeGreaterThan(0);

    broker = await broker.restart();
    const log = await expectLogRecovered(broker, topic, ledger, 1);
    for (const c of consumers) await expectConsumerResumes(broker, topic, c, log);
  });
});
