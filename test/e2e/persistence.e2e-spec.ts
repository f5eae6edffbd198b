// Close the app and open a new one on the same DATA_DIR: messages, offsets and cursors are all still there.
import request from 'supertest';
import { removeDir, startApp, tempDataDir } from '../support/test-app';

describe('restart persistence', () => {
  const dataDir = tempDataDir();
  afterAll(() => removeDir(dataDir));

  it('keeps messages, offsets and cursors across a restart', async () => {
    const first = await startApp({ SEGMENT_BYTES: '4096' }, dataDir);
    for (let i = 0; i < 200; i++) {
      await request(first.url).post('/topics/durable/messages').query({ message: `msg-${i}` }).expect(200, { message_id: i });
    }
    await request(first.url).post('/topics/durable/messages/41/ack').query({ consumer_id: 'c1' }).expect(200);
    await request(first.url).put('/topics/durable/consumers/c2').send({ position: 'end' }).expect(200);
    await first.close();

    const second = await startApp({ SEGMENT_BYTES: '4096' }, dataDir);
    try {
      await request(second.url).get('/topics/durable/messages').query({ consumer_id: 'c1' }).expect(200, { message_id: 42, data: 'msg-42' });
      await request(second.url).get('/topics/durable/messages').query({ consumer_id: 'c2' }).expect(404);
      await request(second.url).get('/topics/durable/messages').query({ consumer_id: 'new' }).expect(200, { message_id: 0, data: 'msg-0' });
      const all = await request(second.url).get('/topics/durable/partitions/0/messages').query({ max: 1000 }).expect(200);
      expect(all.body.messages.map((m: { data: string }) => m.data)).toEqual(Array.from({ length: 200 }, (_, i) => `msg-${i}`));
      await request(second.url).post('/topics/durable/messages').query({ message: 'after' }).expect(200, { message_id: 200 });
    } finally {
      await second.close();
    }
  });
});
