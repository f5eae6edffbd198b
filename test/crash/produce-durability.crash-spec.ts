// SIGKILL under concurrent produce load: every produce answered 200 survives at its offset, offsets stay dense.
import { BrokerProcess, makeDataDir, removeDataDir } from './broker-process';
import { checkRecoveredLog, expectLogRecovered, loadThenKill, newProduceLedger, type ProduceLedger } from './workload';

jest.setTimeout(60_000);

describe('crash under concurrent produce (FSYNC=always)', () => {
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

  it('keeps every acknowledged produce at its exact offset after a SIGKILL mid-load', async () => {
    const topic = 'crash-produce';
    const ledger = newProduceLedger();
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always' } });
    const load = await loadThenKill(broker, ledger, {
      topic,
      round: 1,
      singleProducers: 32,
      batchProducers: 3,
      killAfterMs: { min: 1000, max: 2000 },
      readyToKill: () => ledger.acked.size > 100,
    });
    expect(ledger.problems).toEqual([]);
    // The scenario really happened: load was answered, and the kill cut requests off mid-flight.
    expect(load.answeredProduces).toBeGreaterThan(100);
    expect(load.inFlightAtKill).toBeGreaterThan(0);

    broker = await broker.restart();
    await expectLogRecovered(broker, topic, ledger, 1);
  });
});

describe('the recovered-log check itself', () => {
  // The crash tests are only as good as this check: it must flag each kind of loss it claims to detect.
  const ledger = (): ProduceLedger => ({
    acked: new Map([
      [0, 'a'],
      [1, 'b'],
      [3, 'd'],
    ]),
    sent: new Set(['a', 'b', 'c', 'd', 'e']),
    problems: [],
  });
  const m = (message_id: number, data: string) => ({ message_id, data });

  it('accepts a log holding every acknowledged message, with or without in-flight ones', () => {
    expect(checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(2, 'c'), m(3, 'd')], 4, ledger())).toEqual([]);
    expect(checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(2, 'c'), m(3, 'd'), m(4, 'e')], 5, ledger())).toEqual([]);
  });

  it('flags a missing acknowledged message', () => {
    expect(checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(2, 'c')], 3, ledger()).join('\n')).toMatch(/acknowledged offset 3 .* is missing/);
  });

  it('flags an acknowledged offset holding another message', () => {
    expect(checkRecoveredLog([m(0, 'a'), m(1, 'c'), m(2, 'b'), m(3, 'd')], 4, ledger()).join('\n')).toMatch(/offset 1 holds "c", not "b"/);
  });

  it('flags gaps, duplicates, garbage and a wrong end offset', () => {
    const gap = checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(3, 'd')], 3, ledger()).join('\n');
    expect(gap).toMatch(/position 2 holds message_id 3/);
    const dup = checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(2, 'a'), m(3, 'd')], 4, ledger()).join('\n');
    expect(dup).toMatch(/"a" is stored twice/);
    const garbage = checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(2, 'zz'), m(3, 'd')], 4, ledger()).join('\n');
    expect(garbage).toMatch(/nobody sent/);
    expect(checkRecoveredLog([m(0, 'a'), m(1, 'b'), m(2, 'c'), m(3, 'd')], 5, ledger()).join('\n')).toMatch(/end_offset is 5/);
  });
});
