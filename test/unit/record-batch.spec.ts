// The batch format: encode/decode round trips, CRC coverage, and header plausibility checks.
import {
  BATCH_HEADER_BYTES,
  batchIsIntact,
  batchSize,
  decodeRecords,
  encodeBatch,
  MAGIC,
  prepareRecord,
  readBatchHeader,
  ValueEncoding,
  type ProducerRecord,
  type StoredRecord,
} from '../../src/storage/record-batch';

const NOW = 1_700_000_000_000;

function encode(records: ProducerRecord[], baseOffset: number): Buffer {
  const prepared = records.map((r) => prepareRecord(r, NOW));
  const size = batchSize(prepared, 0, prepared.length);
  const buf = Buffer.alloc(size);
  const end = encodeBatch(prepared, 0, prepared.length, baseOffset, buf, 0);
  expect(end).toBe(size);
  return buf;
}

function decodeAll(buf: Buffer, fromOffset = 0, max = Number.MAX_SAFE_INTEGER): StoredRecord[] {
  const header = readBatchHeader(buf, 0);
  expect(header).not.toBeNull();
  expect(batchIsIntact(buf, 0, header!)).toBe(true);
  const out: StoredRecord[] = [];
  decodeRecords(buf, 0, header!, fromOffset, max, out);
  return out;
}

describe('record batch format', () => {
  const records: ProducerRecord[] = [
    { value: 'plain' },
    { value: 'with key', key: 'k-1' },
    { value: 'with headers', headers: { 'content-type': 'text/plain', trace: 'abc', empty: '' } },
    { value: '' },
    { value: 'héllo wörld – 日本語 – 🚀🎉', key: 'ключ', headers: { 'naïve-ñame': 'välue ✓' } },
    { value: Buffer.from([0, 1, 2, 254, 255, 0, 128]), key: Buffer.from([255, 0]), encoding: ValueEncoding.Binary },
    { value: '{"a":1}', encoding: ValueEncoding.Json, timestamp: NOW + 5_000 },
    { value: 'earlier', timestamp: NOW - 12_345 },
    { value: '', key: '' },
  ];

  it('round-trips values, keys, headers, encodings, timestamps and offsets', () => {
    const buf = encode(records, 1234);
    const header = readBatchHeader(buf, 0)!;
    expect(header).toEqual({
      baseOffset: 1234,
      length: buf.length,
      recordCount: records.length,
      firstTimestamp: NOW,
      maxTimestamp: NOW + 5_000,
    });
    const out = decodeAll(buf);
    expect(out.map((r) => r.offset)).toEqual(records.map((_, i) => 1234 + i));
    out.forEach((r, i) => {
      const src = records[i];
      const value = typeof src.value === 'string' ? Buffer.from(src.value, 'utf8') : src.value;
      expect(Buffer.compare(r.value, value)).toBe(0);
      const key = src.key == null ? null : typeof src.key === 'string' ? Buffer.from(src.key, 'utf8') : src.key;
      if (key === null) expect(r.key).toBeNull();
      else expect(Buffer.compare(r.key!, key)).toBe(0);
      expect(r.headers).toEqual(src.headers ?? null);
      expect(r.encoding).toBe(src.encoding ?? ValueEncoding.Utf8);
      expect(r.timestamp).toBe(src.timestamp ?? NOW);
    });
    expect(out[4].value.toString('utf8')).toBe('héllo wörld – 日本語 – 🚀🎉');
  });

  it('distinguishes a missing key from an empty key', () => {
    const out = decodeAll(encode([{ value: 'a' }, { value: 'b', key: '' }], 0));
    expect(out[0].key).toBeNull();
    expect(out[1].key).not.toBeNull();
    expect(out[1].key!.length).toBe(0);
  });

  it('decodes from an offset inside the batch and honours the record limit', () => {
    const values = Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` }));
    const buf = encode(values, 100);
    expect(decodeAll(buf, 104).map((r) => r.value.toString())).toEqual(['v4', 'v5', 'v6', 'v7', 'v8', 'v9']);
    expect(decodeAll(buf, 104, 2).map((r) => r.offset)).toEqual([104, 105]);
    expect(decodeAll(buf, 110)).toEqual([]);
  });

  it('encodes at a position inside a larger buffer', () => {
    const prepared = [prepareRecord({ value: 'inside' }, NOW)];
    const size = batchSize(prepared, 0, 1);
    const buf = Buffer.alloc(size + 20, 0xaa);
    expect(encodeBatch(prepared, 0, 1, 7, buf, 10)).toBe(10 + size);
    const header = readBatchHeader(buf, 10)!;
    expect(header.baseOffset).toBe(7);
    expect(batchIsIntact(buf, 10, header)).toBe(true);
    const out: StoredRecord[] = [];
    decodeRecords(buf, 10, header, 0, 10, out);
    expect(out.map((r) => r.value.toString())).toEqual(['inside']);
  });

  it('encodes a sub-range of the prepared records with deltas relative to that range', () => {
    const prepared = ['a', 'b', 'c', 'd'].map((value, i) => prepareRecord({ value, timestamp: NOW + i }, NOW));
    const buf = Buffer.alloc(batchSize(prepared, 2, 4));
    encodeBatch(prepared, 2, 4, 50, buf, 0);
    const out = decodeAll(buf);
    expect(out.map((r) => [r.offset, r.value.toString(), r.timestamp])).toEqual([
      [50, 'c', NOW + 2],
      [51, 'd', NOW + 3],
    ]);
  });

  it('keeps base offsets beyond 32 bits', () => {
    const base = 2 ** 40 + 17;
    const out = decodeAll(encode([{ value: 'x' }, { value: 'y' }], base));
    expect(out.map((r) => r.offset)).toEqual([base, base + 1]);
  });

  it('sizes records exactly as they are encoded', () => {
    for (const r of records) {
      const prepared = [prepareRecord(r, NOW)];
      expect(batchSize(prepared, 0, 1)).toBe(encode([r], 0).length);
    }
  });

  describe('CRC', () => {
    const buf = encode(records, 42);

    it('detects a flipped byte anywhere the CRC covers (attributes, count, timestamps, records)', () => {
      for (let pos = 17; pos < buf.length; pos++) {
        const copy = Buffer.from(buf);
        copy[pos] ^= 0x01;
        const header = readBatchHeader(copy, 0);
        // A flip of the record count to zero makes the header itself implausible; either way it is rejected.
        expect(header !== null && batchIsIntact(copy, 0, header)).toBe(false);
      }
    });

    it('detects a corrupted CRC field', () => {
      for (let pos = 13; pos < 17; pos++) {
        const copy = Buffer.from(buf);
        copy[pos] ^= 0x80;
        expect(batchIsIntact(copy, 0, readBatchHeader(copy, 0)!)).toBe(false);
      }
    });

    it('is not intact when the batch is cut short', () => {
      const header = readBatchHeader(buf, 0)!;
      expect(batchIsIntact(buf.subarray(0, buf.length - 1), 0, header)).toBe(false);
    });
  });

  describe('readBatchHeader', () => {
    const buf = encode([{ value: 'hello' }], 0);

    it('returns null when fewer than a header of bytes remain', () => {
      for (let n = 0; n < BATCH_HEADER_BYTES; n++) {
        expect(readBatchHeader(buf.subarray(0, n), 0)).toBeNull();
        expect(readBatchHeader(buf, 0, n)).toBeNull();
      }
      expect(readBatchHeader(buf, 0, BATCH_HEADER_BYTES)).not.toBeNull();
      expect(readBatchHeader(buf, buf.length - BATCH_HEADER_BYTES + 1)).toBeNull();
    });

    it('rejects a wrong magic byte, an impossible length and an empty batch', () => {
      const badMagic = Buffer.from(buf);
      badMagic[12] = MAGIC + 1;
      expect(readBatchHeader(badMagic, 0)).toBeNull();
      const shortLength = Buffer.from(buf);
      shortLength.writeUInt32BE(BATCH_HEADER_BYTES - 1, 8);
      expect(readBatchHeader(shortLength, 0)).toBeNull();
      const noRecords = Buffer.from(buf);
      noRecords.writeUInt32BE(0, 19);
      expect(readBatchHeader(noRecords, 0)).toBeNull();
      expect(readBatchHeader(Buffer.alloc(100), 0)).toBeNull();
    });
  });
});
