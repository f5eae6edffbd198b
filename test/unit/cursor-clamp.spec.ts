// A crash under FSYNC=never/interval can lose the unsynced tail of the log while a consumer's committed
// cursor already points past it. New messages then reuse those offsets: the cursor must come back to the
// log end, or the consumer would silently skip them.
import { readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/storage/broker';
import { readBatchHeader } from '../../src/storage/record-batch';
import { makeTempDir, removeDir, smallConfig } from './support';

describe('a cursor past the log end after a lost tail', () => {
  const dir = makeTempDir();
  afterAll(() => removeDir(dir));

  it('is brought back to the log end, so re-used offsets are delivered', async () => {
    const config = smallConfig(dir, { segmentBytes: 1024 * 1024 });
    let broker = Broker.open(config);
    for (let i = 0; i < 5; i++) await broker.produce('t', [{ value: `old-${i}` }], { autoCreate: true });
    await broker.ack('t', 'c', 4);
    expect(broker.cursor('t', 'c').offset).toBe(5);
    await broker.close();
    // A crash leaves no clean-shutdown marker: without it the next start recovers every tail and clamps.
    rmSync(join(dir, '.clean-shutdown'));

    // Simulate the lost tail: keep only the first two batches (offsets 0 and 1).
    const logPath = join(dir, 'topics', 't', '0', '00000000000000000000.log');
    const data = readFileSync(logPath);
    const first = readBatchHeader(data, 0)!;
    const second = readBatchHeader(data, first.length)!;
    truncateSync(logPath, first.length + second.length);

    broker = Broker.open(config);
    try {
      expect(broker.cursor('t', 'c')).toMatchObject({ offset: 2, logEndOffset: 2, lag: 0 });
      expect(await broker.poll('t', 'c')).toBeNull();
      const r = await broker.produce('t', [{ value: 'new-2' }], { autoCreate: true });
      expect(r.offsets[0]).toBe(2);
      const next = await broker.poll('t', 'c');
      expect(next?.offset).toBe(2);
      expect(next?.value.toString()).toBe('new-2');
    } finally {
      await broker.close();
    }
  });
});
