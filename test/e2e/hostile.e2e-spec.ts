// Hostile input: path traversal in every path parameter, bad numbers, unicode and control characters in
// names, wrong content types, huge and malformed bodies, header floods and malformed HTTP. Every request
// must get a clear 4xx JSON error; afterwards nothing exists outside DATA_DIR/topics/<the seeded topics>
// and the seeded messages and cursors are exactly as they were.
import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { removeDir, startApp, type TestApp } from '../support/test-app';

jest.setTimeout(60_000);

interface Answer {
  status: number;
  headers: IncomingHttpHeaders | Record<string, string>;
  text: string;
  json: { detail?: unknown; code?: unknown; [k: string]: unknown } | undefined;
}

const parseJson = (text: string) => {
  try {
    return JSON.parse(text) as Answer['json'];
  } catch {
    return undefined;
  }
};

/** node:http with the path sent exactly as given: no URL normalisation of `..` (unlike fetch or superagent). */
function send(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        done({ status: res.statusCode ?? 0, headers: res.headers, text, json: parseJson(text) });
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/**
 * Bytes straight onto a socket, for what an HTTP client refuses to send. The socket stays open (no half-close,
 * which the server would see as a request cut short) until the server closes it; bounded by a timeout.
 */
function sendRaw(port: number, data: string | Buffer): Promise<Answer> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // The server may answer and close before it has read all we send (a 431 mid-headers): that is fine.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : fail(err)));
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const at = raw.indexOf('\r\n\r\n');
      const head = at >= 0 ? raw.slice(0, at) : raw;
      const text = at >= 0 ? raw.slice(at + 4) : '';
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      done({ status, headers, text, json: parseJson(text) });
    });
    socket.on('connect', () => socket.write(data));
  });
}

function expectClientError(res: Answer, what: string, statuses?: number[]): void {
  const problems: string[] = [];
  if (statuses && !statuses.includes(res.status)) problems.push(`status ${res.status}, expected ${statuses.join(' or ')}`);
  if (!(res.status >= 400 && res.status < 500)) problems.push(`status ${res.status} is not a 4xx`);
  if (!/^application\/json/.test(String(res.headers['content-type']))) problems.push(`content-type ${res.headers['content-type']}`);
  if (!(typeof res.json?.detail === 'string' && res.json.detail.length > 0)) problems.push('no `detail`');
  // No stack trace, no internal path.
  if (/\bat .+\.(ts|js):\d+|\/work\/|node_modules/.test(res.text)) problems.push('leaks a stack trace or a path');
  if (problems.length > 0) throw new Error(`${what}: ${problems.join('; ')}\n  body: ${res.text.slice(0, 300)}`);
}

/** Every file and directory under `dir`, as paths relative to it. */
function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    out.push(relative(base, full));
    if (statSync(full).isDirectory()) out.push(...walk(full, base));
  }
  return out;
}

// The traversal attempts carry this marker so that anything they manage to create can be found.
const MARK = 'pwned';
const TRAVERSAL = [
  '..',
  '.',
  `../${MARK}`,
  `../../${MARK}`,
  `..\\..\\${MARK}`,
  `..%2F..%2F${MARK}`,
  `..%2f..%2f..%2f..%2ftmp%2f${MARK}`,
  '%2e%2e',
  '%2E',
  `%2e%2e%2f${MARK}`,
  `%2e%2e%2f%2e%2e%2f${MARK}`,
  `%2e%2e%5c%2e%2e%5c${MARK}`,
  `..%5C${MARK}`,
  '%252e%252e',
  `%252e%252e%252f${MARK}`,
  `%25252e%25252e%25252f${MARK}`,
  '..%00',
  '%2e%2e%00',
  '%c0%ae%c0%ae',
  `%c0%ae%c0%ae%c0%af${MARK}`,
  '%u002e%u002e',
  `%2F${MARK}`,
];

const BAD_NUMBERS = ['-1', '-5', 'NaN', 'Infinity', '-Infinity', '1.5', '0.0001', '1e400', '99999999999999999999', '9007199254740993', 'abc', '1abc', '0x', '--1', '%D9%A1'];

// Names with control characters, invisible or look-alike characters and emoji: never a valid topic or consumer.
const WEIRD_NAMES = [
  '%00',
  'a%00b',
  'a%0Ab',
  'a%0D%0AX-Injected:%201',
  '%09tab',
  'a%7Fb',
  'a%20b',
  '%E2%80%8Forders',
  'orders%E2%80%AE',
  '%E2%80%AEsredro',
  '%F0%9F%98%80',
  'caf%C3%A9',
  '%EF%BC%8E%EF%BC%8E',
  '%E2%80%A4%E2%80%A4',
  'a%E2%80%8Bb',
  '%FF',
  'a%2Fb',
  'a%5Cb',
  'x'.repeat(256),
];

// Valid, if unusual, payloads: stored and given back byte for byte.
const SEEDED = ['first', 'ünïcödé ✓', 'with\nnewline\u0000nul', '\u202Ertl-override\u200F', '😀 emoji 👍🏽', '"quotes" and \\backslashes\\', '<xml/>'];

describe('hostile input', () => {
  let sandbox: string;
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    // DATA_DIR is one level inside a sandbox, so an escape by one or two levels would land where we can see it.
    sandbox = mkdtempSync(join(tmpdir(), 'mk-hostile-'));
    const dataDir = join(sandbox, 'data');
    mkdirSync(dataDir);
    t = await startApp({ MAX_BODY_BYTES: '65536', MAX_MESSAGE_BYTES: '4096', MAX_BATCH_MESSAGES: '100' }, dataDir);
    port = Number(new URL(t.url).port);
    for (const m of SEEDED) {
      const res = await send(port, 'POST', '/topics/intact/messages', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: m }) });
      expect(res.status).toBe(200);
    }
    expect((await send(port, 'POST', '/topics/intact/messages/1/ack?consumer_id=reader')).status).toBe(200);
    expect((await send(port, 'POST', '/topics/other/messages?message=other-1')).status).toBe(200);
  });
  afterAll(async () => {
    await t.close();
    removeDir(sandbox);
  });

  // Every route with a topic in its path; {v} is where the hostile value goes.
  const TOPIC_ROUTES: Array<[string, string, string?]> = [
    ['POST', '/topics/{v}/create'],
    ['GET', '/topics/{v}'],
    ['DELETE', '/topics/{v}'],
    ['POST', '/topics/{v}/messages?message=x'],
    ['POST', '/topics/{v}/messages', '{"message":"x"}'],
    ['POST', '/topics/{v}/messages/batch', '{"messages":[{"message":"x"}]}'],
    ['GET', '/topics/{v}/messages?consumer_id=c'],
    ['POST', '/topics/{v}/messages/0/ack?consumer_id=c'],
    ['GET', '/topics/{v}/partitions/0/messages'],
    ['GET', '/topics/{v}/consumers'],
    ['GET', '/topics/{v}/consumers/c'],
    ['PUT', '/topics/{v}/consumers/c', '{"position":"beginning"}'],
    ['GET', '/topics/{v}/consumers/c/messages'],
    ['POST', '/topics/{v}/consumers/c/commit', '{"offset":0}'],
    ['PATCH', '/topics/{v}', '{"partitions":2}'],
  ];
  const CONSUMER_ROUTES: Array<[string, string, string?]> = [
    ['GET', '/topics/intact/consumers/{v}'],
    ['PUT', '/topics/intact/consumers/{v}', '{"position":"end"}'],
    ['GET', '/topics/intact/messages?consumer_id={v}'],
    ['POST', '/topics/intact/messages/0/ack?consumer_id={v}'],
    ['GET', '/topics/intact/consumers/{v}/messages'],
    ['POST', '/topics/intact/consumers/{v}/commit', '{"offset":0}'],
  ];
  const NUMBER_ROUTES: Array<[string, string, string?]> = [
    ['POST', '/topics/intact/messages/{v}/ack?consumer_id=c'],
    ['GET', '/topics/intact/partitions/{v}/messages'],
    ['GET', '/topics/intact/messages?consumer_id=c&partition={v}'],
    ['POST', '/topics/intact/messages/0/ack?consumer_id=c&partition={v}'],
    ['GET', '/topics/intact/consumers/c?partition={v}'],
    ['PUT', '/topics/intact/consumers/c?partition={v}', '{"position":"end"}'],
    ['GET', '/topics/intact/partitions/0/messages?from_offset={v}'],
    ['GET', '/topics/intact/partitions/0/messages?max={v}'],
    ['GET', '/topics/intact/partitions/0/messages?max_bytes={v}'],
    ['GET', '/topics/intact/partitions/0/messages?wait_ms={v}'],
    ['GET', '/topics/intact/messages?consumer_id=c&wait_ms={v}'],
    ['GET', '/topics/intact/consumers/c/messages?partition={v}'],
    ['GET', '/topics/intact/consumers/c/messages?max={v}'],
    ['GET', '/topics/intact/consumers/c/messages?max_bytes={v}'],
    ['GET', '/topics/intact/consumers/c/messages?wait_ms={v}'],
    // Were a bad partition taken for a good one, this would store a message and the intact check would see it.
    ['POST', '/topics/intact/messages/batch?partition={v}', '{"messages":[{"message":"must not be stored"}]}'],
  ];

  const hit = (method: string, template: string, value: string, body?: string) =>
    send(port, method, template.replace('{v}', value), body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body });

  describe.each(TOPIC_ROUTES)('traversal in {topic}: %s %s', (method, template, body) => {
    it.each(TRAVERSAL)('%s', async (value) => {
      // A raw `/` leaves the route altogether (404); anything else reaches the topic check (400).
      expectClientError(await hit(method, template, value, body), `${method} ${template} ${value}`, value.includes('/') ? [400, 404] : [400]);
    });
  });

  describe.each(CONSUMER_ROUTES)('traversal in consumer_id: %s %s', (method, template, body) => {
    it.each(TRAVERSAL)('%s', async (value) => {
      expectClientError(await hit(method, template, value, body), `${method} ${template} ${value}`, value.includes('/') ? [400, 404] : [400]);
    });
  });

  describe.each(NUMBER_ROUTES.slice(0, 2))('traversal in a numeric path parameter: %s %s', (method, template, body) => {
    it.each(TRAVERSAL)('%s', async (value) => {
      expectClientError(await hit(method, template, value, body), `${method} ${template} ${value}`, value.includes('/') ? [400, 404] : [400]);
    });
  });

  describe.each(NUMBER_ROUTES)('bad numbers: %s %s', (method, template, body) => {
    // A huge wait_ms is not a bad number: it is held to MAX_WAIT_MS (errors.e2e-spec.ts checks that).
    const bad = template.includes('wait_ms') ? BAD_NUMBERS.filter((v) => !/^\d+$/.test(v)) : BAD_NUMBERS;
    it.each(bad)('%s', async (value) => {
      expectClientError(await hit(method, template, value, body), `${method} ${template} ${value}`, [400]);
    });
  });

  it('rejects a repeated numeric query parameter and an out-of-range partition', async () => {
    expectClientError(await send(port, 'GET', '/topics/intact/messages?consumer_id=c&partition=0&partition=1'), 'repeated partition', [400]);
    expectClientError(await send(port, 'GET', '/topics/intact/partitions/0/messages?max=1&max=2'), 'repeated max', [400]);
    expectClientError(await send(port, 'GET', '/topics/intact/partitions/1024/messages'), 'partition 1024', [400]);
    expectClientError(await send(port, 'GET', '/topics/intact/partitions/7/messages'), 'partition 7 of 1', [404]);
    expectClientError(await send(port, 'GET', '/topics/intact/messages?consumer_id=c&partition=7'), 'poll partition 7 of 1', [404]);
  });

  it('rejects bad numbers in JSON bodies', async () => {
    for (const partitions of ['-1', '0', '1.5', '1e9', '1025', '1e400', '"3"', '"NaN"', 'true', '[1]', '{}', 'NaN', 'Infinity']) {
      const body = `{"name":"num-topic","partitions":${partitions}}`;
      expectClientError(await send(port, 'POST', '/topics', { headers: { 'content-type': 'application/json' }, body }), `POST /topics ${body}`, [400]);
      const create = `{"partitions":${partitions}}`;
      expectClientError(await send(port, 'POST', '/topics/num-topic/create', { headers: { 'content-type': 'application/json' }, body: create }), `create ${create}`, [400]);
    }
    for (const offset of ['-1', '1.5', '"1"', '1e400', '9007199254740993', 'null', 'true', '[0]', '{}', 'NaN']) {
      const body = `{"offset":${offset}}`;
      // 2^53 + 1 parses to 2^53, an integer past the log end: 409 (offset out of range) is as clear as 400.
      const statuses = offset === '9007199254740993' ? [400, 409] : [400];
      expectClientError(await send(port, 'PUT', '/topics/intact/consumers/reader', { headers: { 'content-type': 'application/json' }, body }), `seek ${body}`, statuses);
    }
    for (const offset of ['-1', '1.5', '"0"', '1e400', 'null', '[0]']) {
      const body = `{"offset":${offset}}`;
      expectClientError(await send(port, 'POST', '/topics/intact/consumers/reader/commit', { headers: { 'content-type': 'application/json' }, body }), `commit ${body}`, [400]);
    }
    for (const partition of ['-1', '1.5', '"0"', '1e400', '[0]']) {
      const body = `{"offset":0,"partition":${partition}}`;
      expectClientError(await send(port, 'POST', '/topics/intact/consumers/reader/commit', { headers: { 'content-type': 'application/json' }, body }), `commit ${body}`, [400]);
    }
    for (const partitions of ['-1', '0', '1.5', '1025', '1e400', '"2"', 'null', '[2]']) {
      const body = `{"partitions":${partitions}}`;
      expectClientError(await send(port, 'PATCH', '/topics/intact', { headers: { 'content-type': 'application/json' }, body }), `PATCH ${body}`, [400]);
    }
    // The produce body's numbers, on the topic whose contents are checked at the end.
    for (const field of ['partition', 'timestamp']) {
      for (const value of ['-1', '1.5', '"0"', '1e400', '[0]', '{}', 'true']) {
        const body = `{"message":"must not be stored","${field}":${value}}`;
        expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: { 'content-type': 'application/json' }, body }), `produce ${body}`, [400]);
      }
    }
    for (const body of ['{"position":null}', '{"position":"middle"}', '{"position":["end"]}', '{"position":"END"}', '{"offset":0,"position":"end"}', '{}']) {
      expectClientError(await send(port, 'PUT', '/topics/intact/consumers/reader', { headers: { 'content-type': 'application/json' }, body }), `seek ${body}`, [400]);
    }
  });

  describe.each(TOPIC_ROUTES)('unicode and control characters in {topic}: %s %s', (method, template, body) => {
    it.each(WEIRD_NAMES)('%s', async (value) => {
      expectClientError(await hit(method, template, value, body), `${method} ${template} ${value}`, [400]);
    });
  });

  describe.each(CONSUMER_ROUTES)('unicode and control characters in consumer_id: %s %s', (method, template, body) => {
    it.each(WEIRD_NAMES)('%s', async (value) => {
      expectClientError(await hit(method, template, value, body), `${method} ${template} ${value}`, [400]);
    });
  });

  it('rejects bad topic names in a JSON body', async () => {
    const names = ['a\u0000b', 'ok\n', '\nok', '\u202Eorders', '\u200Borders', '😀', 'café', '．．', '\ud800', 'a/b', `../${MARK}`, '..', '.', ' orders', 'x'.repeat(250), '', 42, null, ['orders'], { n: 1 }];
    for (const name of names) {
      const body = JSON.stringify({ name });
      expectClientError(await send(port, 'POST', '/topics', { headers: { 'content-type': 'application/json' }, body }), `POST /topics ${body}`, [400]);
    }
  });

  it('rejects wrong content types on JSON routes', async () => {
    const multipart = ['--XYZ', 'Content-Disposition: form-data; name="message"', '', 'x', '--XYZ--', ''].join('\r\n');
    const bodies: Array<[string, string]> = [
      ['text/plain', '{"message":"x","messages":[{"message":"x"}],"name":"ct-topic","position":"end"}'],
      ['application/xml', '<message>x</message>'],
      ['text/xml', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><message>&e;</message>'],
      ['multipart/form-data; boundary=XYZ', multipart],
      ['application/octet-stream', 'x'],
      ['application/json; charset=utf-16', '{"message":"x"}'],
      ['application/json; charset=latin1', '{"message":"x"}'],
    ];
    const routes: Array<[string, string]> = [
      ['POST', '/topics/ct-topic/messages'],
      ['POST', '/topics/ct-topic/messages/batch'],
      ['POST', '/topics'],
      ['PUT', '/topics/intact/consumers/reader'],
    ];
    for (const [method, path] of routes) {
      for (const [type, body] of bodies) {
        expectClientError(await send(port, method, path, { headers: { 'content-type': type }, body }), `${method} ${path} as ${type}`, [400, 415]);
      }
      expectClientError(await send(port, method, path, { body: '{"message":"x"}' }), `${method} ${path} without a content type`, [400, 415]);
    }
  });

  it('rejects malformed JSON bodies', async () => {
    const malformed = [
      '{',
      '{"message": "x"',
      '{"message": "x",}',
      "{'message': 'x'}",
      '{"message": "x"} trailing',
      'null',
      '"just a string"',
      '123',
      'true',
      '[]',
      '[{"message":"x"}]',
      '\u0000',
      '{"message": "\\x41"}',
      '{"message": undefined}',
      `{"message": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      `{${Array.from({ length: 3000 }, (_, i) => `"k${i}":1`).join(',')}}`,
      '{"__proto__": {"polluted": "yes"}, "message": "x"}',
      '{"constructor": {"prototype": {"polluted": "yes"}}, "message": "x"}',
    ];
    for (const [method, path] of [
      ['POST', '/topics/json-topic/messages'],
      ['POST', '/topics/json-topic/messages/batch'],
      ['POST', '/topics'],
      ['PUT', '/topics/intact/consumers/reader'],
    ]) {
      for (const body of malformed) {
        expectClientError(await send(port, method, path, { headers: { 'content-type': 'application/json' }, body }), `${method} ${path} ${body.slice(0, 40)}`, [400]);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects huge bodies: over MAX_BODY_BYTES, a lying Content-Length, a gzip bomb, too many messages', async () => {
    const json = { 'content-type': 'application/json' };
    const big = JSON.stringify({ message: 'x'.repeat(70_000) });
    expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: json, body: big }), 'body over MAX_BODY_BYTES', [413]);
    expectClientError(
      await send(port, 'POST', '/topics/intact/messages/batch', { headers: json, body: JSON.stringify({ messages: Array.from({ length: 2000 }, () => ({ message: 'x'.repeat(40) })) }) }),
      'batch over MAX_BODY_BYTES',
      [413],
    );
    // Chunked, so no Content-Length to refuse up front: the limit applies while reading.
    expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: { ...json, 'transfer-encoding': 'chunked' }, body: big }), 'chunked body over the limit', [413]);
    // A terabyte announced and never sent: refused from the header alone.
    expectClientError(
      await sendRaw(port, 'POST /topics/intact/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n{"message":'),
      'Content-Length of 1 TB',
      [413],
    );
    // 32 MiB of JSON inflated from a few KiB of gzip.
    const bomb = gzipSync(Buffer.from(`{"message":"${'A'.repeat(32 * 1024 * 1024)}"}`));
    expect(bomb.length).toBeLessThan(65_536);
    expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: { ...json, 'content-encoding': 'gzip' }, body: bomb }), 'gzip bomb', [413]);
    expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: { ...json, 'content-encoding': 'gzip' }, body: 'not gzip at all' }), 'corrupt gzip', [400]);
    expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: { ...json, 'content-encoding': 'x-unknown' }, body: '{"message":"x"}' }), 'unknown encoding', [415]);
    // A message over MAX_MESSAGE_BYTES inside a body under MAX_BODY_BYTES, and more than MAX_BATCH_MESSAGES.
    expectClientError(await send(port, 'POST', '/topics/intact/messages', { headers: json, body: JSON.stringify({ message: 'x'.repeat(4097) }) }), 'message over MAX_MESSAGE_BYTES', [413]);
    expectClientError(await send(port, 'POST', '/topics/intact/messages?message=' + 'y'.repeat(4097)), 'query message over MAX_MESSAGE_BYTES', [413]);
    expectClientError(
      await send(port, 'POST', '/topics/intact/messages/batch', { headers: json, body: JSON.stringify({ messages: Array.from({ length: 101 }, () => ({ message: 'm' })) }) }),
      'batch over MAX_BATCH_MESSAGES',
      [413],
    );
  });

  it('answers header floods with 431 JSON and malformed HTTP with 400 JSON, and keeps serving', async () => {
    const manyHeaders = Array.from({ length: 3000 }, (_, i) => `X-Flood-${i}: v\r\n`).join('');
    expectClientError(await sendRaw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${manyHeaders}\r\n`), '3000 headers', [431]);
    expectClientError(await sendRaw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`), 'one 20 KiB header', [431]);
    expectClientError(await sendRaw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: ${'c=1; '.repeat(5000)}\r\n\r\n`), 'a 25 KB cookie', [431]);
    expectClientError(await sendRaw(port, `GET /topics/intact/messages?consumer_id=c&pad=${'p'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`), '20 KiB URL', [414]);
    const malformed = [
      'GARBAGE\r\n\r\n',
      'GET /healthz\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ctl: a\u0001b\r\n\r\n',
      'POST /topics/intact/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
      'POST /topics/intact/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 15\r\n\r\n{"message":"x"}',
      // Request smuggling shapes: both framings at once, and an obfuscated Transfer-Encoding.
      'POST /topics/intact/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n',
      'POST /topics/intact/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      'POST /topics/intact/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{"message":"x"}\r\n0\r\n\r\n',
      'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
    ];
    for (const raw of malformed) {
      expectClientError(await sendRaw(port, raw), JSON.stringify(raw.slice(0, 60)), [400]);
    }
    // A request just under the limits is served normally, and the server is still fine.
    const fewHeaders = Array.from({ length: 200 }, (_, i) => `X-Ok-${i}: v\r\n`).join('');
    const ok = await sendRaw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${fewHeaders}Connection: close\r\n\r\n`);
    expect(ok.status).toBe(200);
    expect((await send(port, 'GET', '/readyz')).status).toBe(200);
  });

  it('rejects a very long URL under the header limit with 400 (name too long)', async () => {
    expectClientError(await send(port, 'POST', `/topics/${'t'.repeat(10_000)}/messages?message=x`), 'topic of 10000 characters', [400]);
    expectClientError(await send(port, 'GET', `/topics/intact/consumers/${'c'.repeat(10_000)}`), 'consumer id of 10000 characters', [400]);
    expectClientError(await send(port, 'GET', `/topics/intact/messages/${'9'.repeat(10_000)}/ack`), 'offset of 10000 digits', [400, 404]);
  });

  it('wrote nothing outside DATA_DIR/topics/<seeded topics>', () => {
    const dataDir = join(sandbox, 'data');
    expect(readdirSync(sandbox)).toEqual(['data']);
    expect(readdirSync(dataDir).filter((n) => n !== 'trash')).toEqual(['topics']);
    expect(readdirSync(join(dataDir, 'topics')).sort()).toEqual(['intact', 'other']);
    const everything = walk(sandbox);
    expect(everything.filter((p) => !/^data(\/topics(\/(intact|other)(\/.*)?)?)?$/.test(p))).toEqual([]);
    expect(everything.filter((p) => p.includes(MARK))).toEqual([]);
    expect(readdirSync(tmpdir()).filter((n) => n.includes(MARK))).toEqual([]);
    expect(readdirSync(process.cwd()).filter((n) => n.includes(MARK))).toEqual([]);
  });

  it('kept the stored messages and cursors intact', async () => {
    const fetched = await send(port, 'GET', '/topics/intact/partitions/0/messages?max=100');
    expect(fetched.status).toBe(200);
    expect((fetched.json!.messages as Array<{ message_id: number; data: string }>).map((m) => [m.message_id, m.data])).toEqual(SEEDED.map((m, i) => [i, m]));
    expect(fetched.json!.end_offset).toBe(SEEDED.length);
    const reader = await send(port, 'GET', '/topics/intact/consumers/reader');
    expect(reader.json).toMatchObject({ offset: 2, committed: true });
    const consumers = await send(port, 'GET', '/topics/intact/consumers');
    expect((consumers.json!.consumers as Array<{ consumer_id: string }>).map((c) => c.consumer_id)).toEqual(['reader']);
    const poll = await send(port, 'GET', '/topics/intact/messages?consumer_id=reader');
    expect(poll.json).toEqual({ message_id: 2, data: SEEDED[2] });
    const other = await send(port, 'GET', '/topics/other/partitions/0/messages');
    expect((other.json!.messages as Array<{ data: string }>).map((m) => m.data)).toEqual(['other-1']);
    const list = await send(port, 'GET', '/topics');
    expect((list.json!.topics as Array<{ name: string; message_count: number }>).map((x) => [x.name, x.message_count]).sort()).toEqual([
      ['intact', SEEDED.length],
      ['other', 1],
    ]);
  });
});
