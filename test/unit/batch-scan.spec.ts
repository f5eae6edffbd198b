// The in-place scan of batch bodies, text-value framing and the engine's text-value appends: whatever the scan accepts must mean exactly what
// the general path (JSON.parse, then one {"message": string} per element or line) makes of the same bytes,
// and the framed batches must decode to those values.
import { join } from 'node:path';
import fc from 'fast-check';
import { scanJsonBatch, scanNdjsonBatch } from '../../src/messages/batch-scan';
import { Broker } from '../../src/storage/broker';
import { batchIsIntact, decodeRecords, frameTextValues, readBatchHeader, setBaseOffset, type StoredRecord } from '../../src/storage/record-batch';
import { makeTempDir, offsetsOf, range, removeDir, segmentBases, smallConfig, valuesOf } from './support';

/** The general path's reading of a JSON batch body: the values when every element is {"message": string}. */
function generalJson(body: Buffer): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).join() !== 'messages') return null;
  const messages = (parsed as { messages: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0) return null;
  return plainMessages(messages);
}

function generalNdjson(body: Buffer): string[] | null {
  const out: unknown[] = [];
  for (const raw of body.toString('utf8').split('\n')) {
    const s = raw.trim();
    if (!s) continue;
    try {
      out.push(JSON.parse(s));
    } catch {
      return null;
    }
  }
  return out.length === 0 ? null : plainMessages(out);
}

function plainMessages(items: unknown[]): string[] | null {
  const values: string[] = [];
  for (const m of items) {
    if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.keys(m).join() !== 'message') return null;
    const v = (m as { message: unknown }).message;
    if (typeof v !== 'string') return null;
    values.push(v);
  }
  return values;
}

function scannedValues(scan: ReturnType<typeof scanJsonBatch>): string[] | null {
  return scan ? scan.toInputs().map((m) => m.message) : null;
}

// Text with the characters that matter: quotes, backslashes, control bytes, whitespace, multi-byte UTF-8.
const tricky = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', '\n', '\r', '\t', '\u0001', 'é', '€', '😀', '{', '}', ':', ',') });
const space = fc.constantFrom('', ' ', '\n', '\r\n', '\t', '  ');

describe('batch body scan', () => {
  it('reads the plain shapes in place', () => {
    const json = Buffer.from(JSON.stringify({ messages: [{ message: 'a' }, { message: 'héllo' }, { message: '' }] }));
    expect(scannedValues(scanJsonBatch(json))).toEqual(['a', 'héllo', '']);
    const ndjson = Buffer.from('{"message":"x"}\n\n {"message" : "y"} \r\n{"message":"z"}');
    expect(scannedValues(scanNdjsonBatch(ndjson))).toEqual(['x', 'y', 'z']);
    const pretty = Buffer.from(JSON.stringify({ messages: [{ message: 'a' }, { message: 'b' }] }, null, 2));
    expect(scannedValues(scanJsonBatch(pretty))).toEqual(['a', 'b']);
  });

  it('leaves every other body to the general path', () => {
    for (const body of [
      '{"messages":[{"message":"a\\"b"}]}',
      '{"messages":[{"message":"a","key":"k"}]}',
      '{"messages":[{"value":"a"}]}',
      '{"messages":[]}',
      '{"messages":[{"message":"a"}],"x":1}',
      '{"messages":[{"message":"a\u0001"}]}',
      '{"messages":[{"message":"a\nb"}]}',
      '\ufeff{"messages":[{"message":"a"}]}',
      '{"messages":[{"message":"a"}]',
    ]) {
      expect(scanJsonBatch(Buffer.from(body))).toBeNull();
    }
    expect(scanJsonBatch(Buffer.from([0x7b, 0x22, 0x6d, 0xff, 0x22, 0x7d]))).toBeNull();
    const invalidUtf8 = Buffer.concat([Buffer.from('{"message":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
    expect(scanNdjsonBatch(invalidUtf8)).toBeNull();
    expect(scanNdjsonBatch(Buffer.from('{"message":"a"} x\n'))).toBeNull();
    expect(scanNdjsonBatch(Buffer.from('\n  \n'))).toBeNull();
  });

  it('accepts only what JSON.parse reads the same way (JSON)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(tricky, space, space), { minLength: 1, maxLength: 20 }), space, (items, outer) => {
        const raw = items.map(([v, a, b]) => `{${a}"message"${b}:${a}"${v}"${b}}`).join(`,${outer}`);
        const body = Buffer.from(`${outer}{"messages":${outer}[${raw}]${outer}}${outer}`);
        const scanned = scannedValues(scanJsonBatch(body));
        if (scanned !== null) expect(scanned).toEqual(generalJson(body));
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts only what the line-by-line parse reads the same way (NDJSON)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(tricky, space, space), { minLength: 1, maxLength: 20 }), (items) => {
        const body = Buffer.from(items.map(([v, a, b]) => `${a}{"message":${b}"${v}"}${b}\n`).join(''));
        const scanned = scannedValues(scanNdjsonBatch(body));
        if (scanned !== null) expect(scanned).toEqual(generalNdjson(body));
        // Plain values on one line each (the shape producers send) are always taken by the scan.
        if (items.every(([v, , b]) => !/["\\\u0000-\u001f]/.test(v) && !b.includes('\n'))) expect(scanned).not.toBeNull();
      }),
      { numRuns: 2000 },
    );
  });
});

describe('text value framing', () => {
  it('frames values into CRC-checked batches that decode to the same values, at any base offset', () => {
    const values = Array.from({ length: 700 }, (_, i) => `value ${i} ${'x'.repeat(i % 97)} é`);
    const body = Buffer.from(values.map((v) => JSON.stringify({ message: v })).join('\n'));
    const scan = scanNdjsonBatch(body)!;
    const framed = frameTextValues(scan, 1_700_000_000_000, 16 * 1024);
    expect(framed.records).toBe(700);
    expect(framed.counts.length).toBeGreaterThan(1);
    let offset = 5_000_000_000;
    const out: StoredRecord[] = [];
    for (let b = 0; b < framed.counts.length; b++) {
      setBaseOffset(framed.buf, framed.starts[b], offset);
      const header = readBatchHeader(framed.buf, framed.starts[b])!;
      expect(header.length).toBe(framed.starts[b + 1] - framed.starts[b]);
      expect(header.length).toBeLessThanOrEqual(16 * 1024);
      expect(batchIsIntact(framed.buf, framed.starts[b], header)).toBe(true);
      decodeRecords(framed.buf, framed.starts[b], header, 0, Infinity, out);
      offset += framed.counts[b];
    }
    expect(out.map((r) => r.value.toString('utf8'))).toEqual(values);
    expect(out.map((r) => r.offset)).toEqual(values.map((_, i) => 5_000_000_000 + i));
    expect(out.every((r) => r.timestamp === 1_700_000_000_000 && r.key === null && r.headers === null)).toBe(true);
  });
});

describe('text values in the engine', () => {
  let root: string;
  afterEach(() => removeDir(root));

  /** Values as a TextValues: byte ranges of one buffer, separated by junk the engine must not store. */
  function textValues(values: string[]) {
    const parts: Buffer[] = [];
    const bounds: number[] = [];
    let pos = 0;
    for (const v of values) {
      const junk = Buffer.from('",{"');
      const bytes = Buffer.from(v);
      parts.push(junk, bytes);
      bounds.push(pos + junk.length, pos + junk.length + bytes.length);
      pos += junk.length + bytes.length;
    }
    return { body: Buffer.concat(parts), bounds };
  }

  it('group-commits framed text values with record appends: dense offsets in call order, intact across rolls and a reopen', async () => {
    root = makeTempDir();
    const config = smallConfig(root);
    const broker = Broker.open(config);
    const calls: string[][] = Array.from({ length: 36 }, (_, c) => Array.from({ length: 1 + ((c * 7) % 40) }, (_, i) => `call ${c} value ${i} ${'é'.repeat(c % 5)}`));
    // Concurrent calls queue for the same flush: even ones as text values (framed at once), odd ones as records.
    // Three rounds, so later flushes roll the 4 KiB segments.
    const results = [];
    for (let round = 0; round < 3; round++) {
      const mine = calls.slice(round * 12, round * 12 + 12);
      results.push(
        ...(await Promise.all(
          mine.map((values, c) => (c % 2 === 0 ? broker.produce('mixed', textValues(values), { autoCreate: true }) : broker.produce('mixed', values.map((value) => ({ value })), { autoCreate: true }))),
        )),
      );
    }
    for (const [c, r] of results.entries()) {
      expect(r.offsets).toEqual(range(r.offsets[0], r.offsets[0] + calls[c].length));
      expect(r.valueBytes).toBe(calls[c].reduce((n, v) => n + Buffer.byteLength(v), 0));
    }
    const byOffset = results.flatMap((r, c) => r.offsets.map((o, i) => [o, calls[c][i]] as const)).sort((a, b) => a[0] - b[0]);
    expect(byOffset.map(([o]) => o)).toEqual(range(0, byOffset.length));
    const stored = await broker.fetch('mixed', 0, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    expect(valuesOf(stored)).toEqual(byOffset.map(([, v]) => v));
    expect(segmentBases(join(root, 'topics', 'mixed', '0')).length).toBeGreaterThan(1);
    // Reads from any offset go through the sparse index into framed batches too.
    for (const from of [1, 17, 100, byOffset.length - 1]) {
      expect(offsetsOf(await broker.fetch('mixed', 0, from, 3, Number.MAX_SAFE_INTEGER))[0]).toBe(from);
    }
    await broker.close();
    const reopened = Broker.open(config);
    try {
      expect(valuesOf(await reopened.fetch('mixed', 0, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))).toEqual(byOffset.map(([, v]) => v));
    } finally {
      await reopened.close();
    }
  });

  it('takes the general path for text values it must check: a value over MAX_MESSAGE_BYTES is refused like a record', async () => {
    root = makeTempDir();
    const broker = Broker.open(smallConfig(root, { maxMessageBytes: 10 }));
    try {
      const r = await broker.produce('limits', textValues(['short', 'far too long a value']), { autoCreate: true, partial: true });
      expect(r.offsets).toEqual([0, -1]);
      expect(r.rejected).toMatchObject([{ index: 1, code: 'MESSAGE_TOO_LARGE' }]);
    } finally {
      await broker.close();
    }
  });
});
