// Disk full, for real: DATA_DIR on a tiny tmpfs. Produce and ack answer 503 + Retry-After with a clear JSON
// error, nothing acknowledged is lost, the log stays valid (also across a restart), and the broker recovers
// by itself once space returns. Needs root to mount tmpfs (CI and this machine run as root).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { startApp, type TestApp } from '../support/test-app';

const run = promisify(execFile);

describe('disk full (ENOSPC on a real tmpfs)', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'mk-enospc-'));
  let t: TestApp;
  const acked: Array<{ id: number; text: string }> = [];

  beforeAll(async () => {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    t = await startApp({ SEGMENT_BYTES: '262144' }, mnt);
    await request(t.url).post('/topics/full/create').expect(200);
    await request(t.url).post('/topics/full/messages').query({ message: 'first' }).expect(200, { message_id: 0 });
    acked.push({ id: 0, text: 'first' });
  }, 30_000); // mount + building the app: beyond jest's 5 s default on a loaded 2-core machine

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await run('umount', [mnt]).catch(() => undefined);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After once the disk is full, storing nothing half-way', async () => {
    // Leave little room, then produce 2 KiB messages until the disk refuses.
    const filler = join(mnt, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(1024 * 1024));
    } catch {
      // ENOSPC while filling is the point: the filler takes whatever space there was.
    }
    let refused: request.Response | null = null;
    for (let i = 1; i < 500 && !refused; i++) {
      const text = `m${i}-`.padEnd(2048, 'x');
      const res = await request(t.url).post('/topics/full/messages').send({ message: text });
      if (res.status === 200) acked.push({ id: res.body.message_id, text });
      else refused = res;
    }
    expect(refused).not.toBeNull();
    expect(refused!.status).toBe(503);
    expect(refused!.body.code).toBe('STORAGE_UNAVAILABLE');
    expect(refused!.body.detail).toMatch(/disk is full/);
    expect(refused!.headers['retry-after']).toBeDefined();
    // Acks need disk too: refused the same way, cursor unchanged.
    const ack = await request(t.url).post('/topics/full/messages/0/ack').query({ consumer_id: 'c' });
    if (ack.status !== 200) {
      expect(ack.status).toBe(503);
      expect(typeof ack.body.detail).toBe('string');
    }
    // Reads still work while full, and show exactly the acknowledged messages.
    const page = await request(t.url).get('/topics/full/partitions/0/messages').query({ max: 1000 }).expect(200);
    expect(page.body.messages.map((m: { message_id: number; data: string }) => ({ id: m.message_id, text: m.data }))).toEqual(acked);
    unlinkSync(filler);
  });

  it('recovers by itself when space returns: offsets continue densely', async () => {
    const res = await request(t.url).post('/topics/full/messages').query({ message: 'after' }).expect(200);
    expect(res.body.message_id).toBe(acked.length);
    acked.push({ id: res.body.message_id, text: 'after' });
    await request(t.url).post('/topics/full/messages/0/ack').query({ consumer_id: 'c' }).expect(200);
    await request(t.url).get('/topics/full/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 1, data: acked[1].text });
  });

  it('left a valid log: a restart reads back every acknowledged message', async () => {
    await t.close();
    t = await startApp({ SEGMENT_BYTES: '262144' }, mnt);
    const page = await request(t.url).get('/topics/full/partitions/0/messages').query({ max: 1000 }).expect(200);
    expect(page.body.messages.map((m: { message_id: number; data: string }) => ({ id: m.message_id, text: m.data }))).toEqual(acked);
    expect(page.body.end_offset).toBe(acked.length);
    await request(t.url).get('/topics/full/messages').query({ consumer_id: 'c' }).expect(200, { message_id: 1, data: acked[1].text });
  });
});
