// A retried Idempotency-Key must not be answered from memory before the first request's record is durable: a power
// cut in between would forget the key, and the next retry would store the message a second time.
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerProcess, REQUEST_TIMEOUT_MS, sleep } from '../crash/broker-process';
import { readWholeLog } from '../crash/workload';
import { LazyFsMount } from './lazyfs';

jest.setTimeout(60_000);

const TOPIC = 'replay';

function produce(broker: BrokerProcess, key: string, text: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<{ status: number; body: any } | null> {
  return fetch(`${broker.url}/topics/${TOPIC}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ message: text }),
    signal: AbortSignal.timeout(timeoutMs),
  }).then(
    async (res) => ({ status: res.status, body: await res.json() }),
    () => null,
  );
}

describe('Idempotency-Key across a power cut (lazyfs)', () => {
  let mount: LazyFsMount | undefined;
  let broker: BrokerProcess | undefined;

  afterEach(async () => {
    await broker?.kill9();
    broker = undefined;
    await mount?.destroy();
    mount = undefined;
  });

  // KNOWN BUG, reported to the idempotency-store rewrite: IdempotencyStore.run() remembers the answer in memory
  // before its record is fdatasynced, so a concurrent retry is answered "replayed" while nothing is durable yet.
  // `it.failing` passes while the bug is there; once fixed, this fails: turn it into a plain `it`.
  it.failing('a retry answered while the first request is still syncing its key gives the same offset after a cut', async () => {
    mount = await LazyFsMount.create();
    const dataDir = join(mount.dir, 'data');
    mkdirSync(dataDir);
    const fd = openSync(mount.dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always', LOG_LEVEL: 'warn' } });
    expect((await produce(broker, 'warm-up', 'first'))?.status).toBe(200);

    // The disk stalls on the key's record: the message itself is already durable, the answer is not yet given.
    await mount.stallFsync('idempotency.log');
    const first = produce(broker, 'charge-1', 'charge');
    // (Bounded: a store that keeps its keys elsewhere never stalls here, and the test then checks the same promise.)
    for (let waited = 0; (await mount.stats()).stalled_fsyncs < 1 && waited < 3000; waited += 10) await sleep(10);
    // A client retry (same key) while the first request waits for its fsync.
    const retry = await produce(broker, 'charge-1', 'charge', 2000);

    // The broker is blocked in the stalled fsync and only dies once the cut fails it.
    const dead = broker.kill9();
    await sleep(100);
    await mount.cut(false, 1);
    await dead;
    await first;
    await mount.unmount();
    await mount.mount();
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always', LOG_LEVEL: 'warn' } });

    const again = await produce(broker, 'charge-1', 'charge');
    const { log } = await readWholeLog(broker, TOPIC);
    const copies = log.filter((m) => m.data === 'charge').map((m) => m.message_id);
    // Only an answered retry is a promise; the fixed store makes the retry wait for the first request instead.
    if (retry?.status === 200) {
      expect({ again: again?.body, copies }).toEqual({ again: retry.body, copies: [retry.body.message_id] });
    } else {
      expect(copies.length).toBeLessThanOrEqual(1);
    }
  });
});
