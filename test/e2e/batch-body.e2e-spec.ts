// The batch route reads its own body (src/messages/batch-body.ts): the plain shape is scanned in place and
// framed straight into the log, every other body is parsed as body-parser would. Both paths must store the
// same messages and answer the same way, and the limits must hold while reading (chunked bodies too).
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { removeDir, startApp, type TestApp } from '../support/test-app';

jest.setTimeout(60_000);

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

function send(t: TestApp, path: string, headers: Record<string, string>, body: string | Buffer, chunks = 1): Promise<Answer> {
  return new Promise((done, fail) => {
    const url = new URL(t.url);
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString('utf8') || 'null') }));
    });
    req.on('error', fail);
    const bytes = Buffer.from(body);
    const step = Math.ceil(bytes.length / chunks);
    for (let i = 0; i < bytes.length; i += step) req.write(bytes.subarray(i, i + step));
    req.end();
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };
const NDJSON_TYPE = { 'content-type': 'application/x-ndjson' };

async function fetchAll(t: TestApp, topic: string): Promise<Array<{ message_id: number; data: unknown; encoding: string }>> {
  const res = await fetch(`${t.url}/topics/${topic}/partitions/0/messages?max=1000`);
  return ((await res.json()) as { messages: Array<{ message_id: number; data: unknown; encoding: string }> }).messages;
}

describe('batch bodies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ MAX_BODY_BYTES: '65536', MAX_MESSAGE_BYTES: '4096', MAX_BATCH_MESSAGES: '100' });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('stores plain and general bodies alike, JSON and NDJSON, in one chunk or many', async () => {
    const values = ['a', 'héllo wörld €', '', '😀 emoji', 'x'.repeat(300)];
    const plainJson = JSON.stringify({ messages: values.map((message) => ({ message })) });
    const plainNdjson = values.map((message) => JSON.stringify({ message })).join('\r\n');
    // The same messages in shapes only the general path reads: an escape, a key, pretty-printed with a BOM.
    const escaped = plainJson.replace('"a"', '"\\u0061"');
    const pretty = `\ufeff${JSON.stringify({ messages: values.map((message) => ({ message })) }, null, 2)}`;
    const bodies: Array<[Record<string, string>, string, number]> = [
      [JSON_TYPE, plainJson, 1],
      [JSON_TYPE, plainJson, 7],
      [{ 'content-type': 'application/json; charset=utf-8' }, plainJson, 1],
      [{ ...JSON_TYPE, 'transfer-encoding': 'chunked' }, plainJson, 5],
      [NDJSON_TYPE, plainNdjson, 3],
      [JSON_TYPE, escaped, 1],
      [JSON_TYPE, pretty, 2],
    ];
    for (const [i, [headers, body, chunks]] of bodies.entries()) {
      const res = await send(t, `/topics/same-${i}/messages/batch`, headers, body, chunks);
      expect(res).toEqual({ status: 200, json: { message_ids: [0, 1, 2, 3, 4], partition: 0, base_offset: 0 } });
      expect((await fetchAll(t, `same-${i}`)).map((m) => [m.message_id, m.data, m.encoding])).toEqual(values.map((v, k) => [k, v, 'utf8']));
    }
    const gzip = await send(t, '/topics/same-gzip/messages/batch', { ...JSON_TYPE, 'content-encoding': 'gzip' }, gzipSync(plainJson));
    expect(gzip.status).toBe(200);
    expect((await fetchAll(t, 'same-gzip')).map((m) => m.data)).toEqual(values);
  });

  it('stores invalid UTF-8 as the general path does (replacement characters)', async () => {
    const body = Buffer.concat([Buffer.from('{"messages":[{"message":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('b"}]}')]);
    expect((await send(t, '/topics/utf8/messages/batch', JSON_TYPE, body)).status).toBe(200);
    expect((await fetchAll(t, 'utf8')).map((m) => m.data)).toEqual(['a\ufffd\ufffdb']);
  });

  it('keeps every error answer: bad JSON, bad lines, empty, too many, too large, chunked over the limit', async () => {
    // The single produce route still reads its body with body-parser: a body that fails there must fail the same way here.
    const chunked = { ...JSON_TYPE, 'transfer-encoding': 'chunked' };
    const tooLarge = JSON.stringify({ messages: Array.from({ length: 2000 }, () => ({ message: 'x'.repeat(40) })) });
    for (const [headers, body] of [
      [JSON_TYPE, '{"messages":[{"message":"x"}'],
      [JSON_TYPE, '"text"'],
      [JSON_TYPE, '  \n 42'],
      [JSON_TYPE, '   '],
      [JSON_TYPE, 'nul'],
      [chunked, '{"messages":'],
      [JSON_TYPE, tooLarge],
      [chunked, tooLarge],
    ] as Array<[Record<string, string>, string]>) {
      const viaBodyParser = await send(t, '/topics/err/messages', headers, body, 20);
      expect(viaBodyParser.status).toBeGreaterThanOrEqual(400);
      expect(await send(t, '/topics/err/messages/batch', headers, body, 20)).toEqual(viaBodyParser);
    }
    expect((await send(t, '/topics/err/messages/batch', chunked, tooLarge, 20)).status).toBe(413);
    expect((await send(t, '/topics/err/messages/batch', { ...NDJSON_TYPE, 'transfer-encoding': 'chunked' }, '{"message":"x"}\n'.repeat(5000), 20)).status).toBe(413);
    expect((await send(t, '/topics/err/messages/batch', NDJSON_TYPE, '{"message":"x"}\n{"message":')).json).toMatchObject({ status: 400, detail: 'NDJSON line 2 is not valid JSON' });
    expect((await send(t, '/topics/err/messages/batch', JSON_TYPE, '{"messages":[]}')).json).toMatchObject({ status: 400, detail: 'messages must be a non-empty array' });
    const tooMany = JSON.stringify({ messages: Array.from({ length: 101 }, () => ({ message: 'm' })) });
    expect((await send(t, '/topics/err/messages/batch', JSON_TYPE, tooMany)).json).toMatchObject({ status: 413, code: 'BATCH_TOO_LARGE' });
    // A value over MAX_MESSAGE_BYTES in a plain batch: the others are stored, that one is reported (207).
    const mixed = await send(t, '/topics/mixed/messages/batch', JSON_TYPE, JSON.stringify({ messages: [{ message: 'ok' }, { message: 'y'.repeat(5000) }] }));
    expect(mixed.status).toBe(207);
    expect(mixed.json).toMatchObject({ message_ids: [0, null], results: [{ status: 200, message_id: 0 }, { status: 413 }] });
    expect(await fetch(`${t.url}/topics/err`).then((r) => r.status)).toBe(404);
  });

  it('answers a retry of a plain batch under an Idempotency-Key with the first offsets', async () => {
    const body = JSON.stringify({ messages: [{ message: 'once' }, { message: 'twice?' }] });
    const headers = { ...JSON_TYPE, 'idempotency-key': 'plain-batch-1' };
    const first = await send(t, '/topics/idem/messages/batch', headers, body);
    const again = await send(t, '/topics/idem/messages/batch', headers, body);
    expect(first).toEqual({ status: 200, json: { message_ids: [0, 1], partition: 0, base_offset: 0 } });
    expect(again).toEqual(first);
    const other = await send(t, '/topics/idem/messages/batch', headers, JSON.stringify({ messages: [{ message: 'other' }] }));
    expect(other.status).toBe(422);
    expect((await fetchAll(t, 'idem')).map((m) => m.data)).toEqual(['once', 'twice?']);
  });
});
