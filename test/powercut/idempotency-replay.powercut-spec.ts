// A retried Idempotency-Key must not be answered before the first request's record is durable: a power cut in
// between would lose it, and the answered offset would later hold another message, or the next retry would store
// the message a second time. The key now travels in the record batch with the message (producer-marker.ts), so
// the one fsync that makes the message durable makes its key durable too.
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

  it('a retry that arrives while the first request is still syncing is never answered ahead of it, and a cut stores it at most once', async () => {
    mount = await LazyFsMount.create();
    const dataDir = join(mount.dir, 'data');
    mkdirSync(dataDir);
    const fd = openSync(mount.dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always', LOG_LEVEL: 'warn' } });
    expect((await produce(broker, 'warm-up', 'first'))?.status).toBe(200);

    // The disk stalls on the segment's fdatasync: the message and its key are written, not yet durable.
    await mount.stallFsync('00000000000000000000.log');
    const first = produce(broker, 'charge-1', 'charge');
    for (let waited = 0; (await mount.stats()).stalled_fsyncs < 1 && waited < 3000; waited += 10) await sleep(10);
    expect((await mount.stats()).stalled_fsyncs).toBeGreaterThanOrEqual(1);
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
    // The retry waited for the first request (which never answered) instead of answering from memory.
    expect(retry).toBeNull();
    // After the cut the key and the message are gone together or survive together: one copy either way, and
    // the retry after the restart answers where that copy is.
    expect(again?.status).toBe(200);
    expect(copies).toEqual([again!.body.message_id]);
  });
});
