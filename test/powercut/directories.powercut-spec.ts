// New and removed directories across a power cut, one at a time and deterministically: a cut right after the answer,
// with nothing else in between that could fsync the same directory by chance.
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerProcess, REQUEST_TIMEOUT_MS } from '../crash/broker-process';
import { LazyFsMount } from './lazyfs';

jest.setTimeout(60_000);

async function call(broker: BrokerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${broker.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, body: await res.json() };
}

const messagesOf = async (broker: BrokerProcess, topic: string) => {
  const r = await call(broker, 'GET', `/topics/${topic}/partitions/0/messages?from_offset=0&max=10`);
  return r.status === 200 ? r.body.messages.map((m: { data: string }) => m.data) : r.status;
};

describe('directories across a power cut (lazyfs)', () => {
  let mount: LazyFsMount;
  let broker: BrokerProcess | undefined;
  let dataDir: string;
  const env = { FSYNC: 'always', LOG_LEVEL: 'warn' };

  beforeEach(async () => {
    mount = await LazyFsMount.create();
    dataDir = join(mount.dir, 'data');
    mkdirSync(dataDir);
    const fd = openSync(mount.dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
    broker = await BrokerProcess.start({ dataDir, env });
  });

  afterEach(async () => {
    await broker?.kill9();
    broker = undefined;
    await mount.destroy();
  });

  async function cutAndRestart(): Promise<BrokerProcess> {
    await broker!.kill9();
    await mount.powerCut(false, 1);
    broker = await BrokerProcess.start({ dataDir, env });
    return broker;
  }

  it('keeps a topic created by POST /topics or by a produce, and a new consumer group with its ack', async () => {
    const b = broker!;
    expect(await call(b, 'POST', '/topics/auto/messages?message=a')).toEqual({ status: 200, body: { message_id: 0 } });
    expect((await call(b, 'POST', '/topics', { name: 'made', partitions: 1 })).status).toBe(201);
    expect(await call(b, 'POST', '/topics/made/messages', { message: 'm' })).toEqual({ status: 200, body: { message_id: 0 } });
    const got = await call(b, 'GET', '/topics/made/groups/g/messages?max=1&lease_ms=600000');
    expect(got.body.messages.map((m: { message_id: number }) => m.message_id)).toEqual([0]);
    expect((await call(b, 'POST', '/topics/made/groups/g/ack', { lease_ids: [got.body.messages[0].lease_id] })).status).toBe(200);

    const after = await cutAndRestart();
    expect({ auto: await messagesOf(after, 'auto'), made: await messagesOf(after, 'made') }).toEqual({ auto: ['a'], made: ['m'] });
    const again = await call(after, 'GET', '/topics/made/groups/g/messages?max=10');
    expect({ status: again.status, redelivered: again.body.messages?.map((m: { message_id: number }) => m.message_id) }).toEqual({ status: 200, redelivered: [] });
  });

  it('keeps an answered topic delete', async () => {
    const b = broker!;
    expect((await call(b, 'POST', '/topics', { name: 'gone', partitions: 1 })).status).toBe(201);
    expect((await call(b, 'POST', '/topics/gone/messages', { message: 'x' })).status).toBe(200);
    expect((await call(b, 'DELETE', '/topics/gone')).status).toBe(200);

    const after = await cutAndRestart();
    expect((await call(after, 'GET', '/topics/gone')).status).toBe(404);
  });
});
