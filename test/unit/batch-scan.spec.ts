// The in-place scan of batch bodies and text-value framing: whatever the scan accepts must mean exactly what
// the general path (JSON.parse, then one {"message": string} per element or line) makes of the same bytes,
// and the framed batches must decode to those values.
import fc from 'fast-check';
import { scanJsonBatch, scanNdjsonBatch } from '../../src/messages/batch-scan';
import { batchIsIntact, decodeRecords, frameTextValues, readBatchHeader, setBaseOffset, type StoredRecord } from '../../src/storage/record-batch';

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
