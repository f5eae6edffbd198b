// Topic creation and restarts of a real broker process: a topic whose create was answered is there after a
// SIGKILL that follows the answer at once; a SIGTERM leaves the clean-shutdown marker and the next start
// serves every partition (opened on first use); a kill -9 after that start leaves no marker, and the start
// after it recovers instead of trusting stale summaries.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerProcess, callJson, makeDataDir, removeDataDir } from './broker-process';

jest.setTimeout(180_000);

const TOPICS = 60;
const PARTITIONS = 4;
const CLIENTS = 10;

describe('topic creation and restarts (real process)', () => {
  let dataDir: string;
  let broker: BrokerProcess | undefined;
  beforeAll(() => {
    dataDir = makeDataDir();
  });
  afterAll(async () => {
    await broker?.kill9();
    removeDataDir(dataDir);
  });

  it('keeps every topic whose create was answered when SIGKILL follows the answers at once', async () => {
    broker = await BrokerProcess.start({ dataDir, env: { FSYNC: 'always', LOG_LEVEL: 'warn' } });
    const b = broker;
    const answered: string[] = [];
    let next = 0;
    let killing = false;
    const workers = Array.from({ length: CLIENTS }, async () => {
      while (!killing && next < TOPICS) {
        const name = `t${next++}`;
        try {
          const r = await callJson(`${b.url}/topics`, 'POST', { name, partitions: PARTITIONS });
          if (r.status === 201) answered.push(name);
          // The kill comes right after the 20th answer, while other creates are in flight.
          if (answered.length === 20 && !killing) {
            killing = true;
            await b.kill9();
          }
        } catch {
          // cut by the kill: not answered, so not promised
        }
      }
    });
    await Promise.all(workers);
    await b.kill9();
    expect(answered.length).toBeGreaterThanOrEqual(20);

    broker = await b.restart();
    const listed = await callJson(`${broker.url}/topics`, 'GET');
    const names = new Set<string>(listed.body.topics.map((t: { name: string }) => t.name));
    for (const name of answered) expect(names.has(name) ? name : `${name} missing`).toBe(name);
    for (const t of listed.body.topics) expect(t.partitions).toBe(PARTITIONS); // a listed topic is complete
    // Every answered topic takes messages on every partition.
    for (const name of answered) {
      for (let p = 0; p < PARTITIONS; p++) {
        const r = await callJson(`${broker.url}/topics/${name}/messages`, 'POST', { message: `${name}/${p}`, partition: p });
        expect(r.body).toEqual({ message_id: 0, partition: p });
      }
    }
  });

  it('a SIGTERM leaves the marker; the clean start serves every partition; a kill -9 after it leaves none', async () => {
    const b = broker!;
    const before = await callJson(`${b.url}/topics`, 'GET');
    expect(await b.stop()).toBe(0);
    expect(existsSync(join(dataDir, '.clean-shutdown'))).toBe(true);

    broker = await b.restart();
    expect(existsSync(join(dataDir, '.clean-shutdown'))).toBe(false);
    const ready = await callJson(`${broker.url}/readyz`, 'GET');
    expect(ready.status).toBe(200);
    expect(ready.body.info.storage).toMatchObject({ start: 'clean', partitions: { opened: 0 } });
    // The views from the marker equal the views before the stop.
    expect((await callJson(`${broker.url}/topics`, 'GET')).body).toEqual(before.body);
    const first = before.body.topics[0].name;
    const read = await callJson(`${broker.url}/topics/${first}/partitions/1/messages?from_offset=0`, 'GET');
    expect(read.body.messages.map((m: { data: string }) => m.data)).toEqual([`${first}/1`]);
    const more = await callJson(`${broker.url}/topics/${first}/messages`, 'POST', { message: 'after clean start', partition: 1 });
    expect(more.body).toEqual({ message_id: 1, partition: 1 });

    await broker.kill9();
    broker = await broker.restart();
    const after = await callJson(`${broker.url}/readyz`, 'GET');
    expect(after.body.info.storage).toMatchObject({ start: 'recovered' });
    expect(after.body.info.storage.partitions.opened).toBe(after.body.info.storage.partitions.total);
    const tail = await callJson(`${broker.url}/topics/${first}/partitions/1/messages?from_offset=0`, 'GET');
    expect(tail.body.messages.map((m: { data: string }) => m.data)).toEqual([`${first}/1`, 'after clean start']);
  });
});
