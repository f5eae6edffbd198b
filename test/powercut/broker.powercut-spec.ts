// Power cuts under load: the real broker on a lazyfs mount (unsynced data is lost at a cut, as on a real machine),
// checked after each restart against every answer it gave. FSYNC=never must lose data here, or the harness is blind.
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerProcess } from '../crash/broker-process';
import { LazyFsMount, type CutReport } from './lazyfs';
import { checkAfterRestart, loadThenKill, newPowerCutLedger, resetLedgerToBroker, type PowerCutLedger } from './powercut-workload';

const ROUNDS = Number(process.env.POWERCUT_ROUNDS ?? 12);
const NEVER_ROUNDS = 3;
const debug = (msg: string) => process.env.POWERCUT_DEBUG && process.stderr.write(`[powercut ${new Date().toISOString()}] ${msg}\n`);
jest.setTimeout(240_000);

interface RoundFigures {
  round: number;
  loadMs: number;
  cut: CutReport;
  problems: string[];
  /** Acknowledged messages missing or changed after the cut. */
  lostMessages: number;
}

/** DATA_DIR itself is the operator's (a volume): it exists and is durable before the broker first starts. */
function durableDataDir(mount: LazyFsMount): string {
  const dataDir = join(mount.dir, 'data');
  mkdirSync(dataDir);
  const fd = openSync(mount.dir, 'r');
  fsyncSync(fd);
  closeSync(fd);
  return dataDir;
}

/** `rounds` of load → SIGKILL + power cut → restart → check; returns what each round found wrong. */
async function powerCutRounds(mount: LazyFsMount, fsync: string, rounds: number, onLoss: 'fail' | 'reset'): Promise<{ figures: RoundFigures[]; ledger: PowerCutLedger }> {
  const dataDir = durableDataDir(mount);
  // Small segments, so that rolls (seal, new files, directory fsync) happen in every round.
  const env = { FSYNC: fsync, LOG_LEVEL: 'warn', SEGMENT_BYTES: String(32 * 1024) };
  const ledger = newPowerCutLedger();
  const figures: RoundFigures[] = [];
  let broker = await BrokerProcess.start({ dataDir, env });
  try {
    for (let round = 1; round <= rounds; round++) {
      const loadMs = 300 + Math.floor(Math.random() * 1200);
      debug(`round ${round}: load for ${loadMs} ms`);
      const loadProblems = await loadThenKill(broker, ledger, round, loadMs);
      debug(`round ${round}: killed; ${JSON.stringify(await mount.stats())}`);
      // Every other cut is torn: a random prefix of the unsynced writes and directory operations survives.
      const cut = await mount.powerCut(round % 2 === 0, round * 7919 + Date.now());
      debug(`round ${round}: cut ${JSON.stringify(cut)}`);
      broker = await BrokerProcess.start({ dataDir, env });
      debug(`round ${round}: restarted`);
      const check = await checkAfterRestart(broker, ledger);
      const problems = [...loadProblems, ...check.problems];
      figures.push({ round, loadMs, cut, problems, lostMessages: check.lostMessages });
      if (problems.length > 0 && onLoss === 'fail') break;
      if (problems.length > 0) await resetLedgerToBroker(broker, ledger);
    }
  } finally {
    await broker.kill9();
  }
  return { figures, ledger };
}

describe('power cuts (lazyfs)', () => {
  let mount: LazyFsMount | undefined;

  afterEach(async () => {
    await mount?.destroy();
    mount = undefined;
  });

  it(`FSYNC=always keeps every answered produce, ack, seek, group ack, Idempotency-Key and topic over ${ROUNDS} power cuts`, async () => {
    mount = await LazyFsMount.create();
    const { figures, ledger } = await powerCutRounds(mount, 'always', ROUNDS, 'fail');
    const dropped = figures.reduce((n, f) => n + f.cut.data_ops_dropped + f.cut.dirops_dropped, 0);
    console.log(
      `powercut FSYNC=always: ${figures.length} rounds, answers ${JSON.stringify(ledger.counts)}, ` +
        `${ledger.produce.acked.size} messages, unsynced operations dropped at the cuts: ${dropped}`,
    );
    for (const f of figures) expect({ round: f.round, problems: f.problems }).toEqual({ round: f.round, problems: [] });
    expect(figures).toHaveLength(ROUNDS);
    // The cuts must have had something to drop (in-flight, unanswered work), or they proved nothing.
    expect(dropped).toBeGreaterThan(0);
    expect(ledger.counts.produces + ledger.counts.batches).toBeGreaterThan(ROUNDS);
    expect(ledger.counts.groupAcks).toBeGreaterThan(0);
    expect(ledger.counts.idempotent).toBeGreaterThan(0);
  });

  it('FSYNC=never loses acknowledged messages at a power cut (the harness sees a missing fsync)', async () => {
    mount = await LazyFsMount.create();
    const { figures } = await powerCutRounds(mount, 'never', NEVER_ROUNDS, 'reset');
    console.log(
      `powercut FSYNC=never: ${figures.length} rounds; acknowledged messages lost per round: ${figures.map((f) => f.lostMessages).join(', ')}; ` +
        `first problem: ${figures.find((f) => f.problems.length)?.problems[0]}`,
    );
    expect(figures).toHaveLength(NEVER_ROUNDS);
    // Nothing of the log is fsynced per produce, so whole cuts (odd rounds) take acknowledged messages with them. Not
    // every round must: a segment roll (32 KiB segments here) syncs the sealed segment, and a torn cut (even rounds)
    // keeps a random prefix of the unsynced writes; either can happen to cover every message a short round answered.
    const whole = figures.filter((x) => x.round % 2 === 1);
    expect(whole.some((f) => f.lostMessages > 0)).toBe(true);
    expect(figures.reduce((n, f) => n + f.lostMessages, 0)).toBeGreaterThan(0);
  });
});
