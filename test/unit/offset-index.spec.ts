// The sparse index: binary searches by offset and by time, encoding, and decoding of damaged files.
import { INDEX_ENTRY_BYTES, OffsetIndex } from '../../src/storage/offset-index';

/** Entries at relative offsets 10, 20, ... 10n, positions 1000, 2000, ..., max timestamp before = 100 * i. */
function sampleIndex(n: number): OffsetIndex {
  const index = new OffsetIndex(2); // small capacity: exercises growth
  for (let i = 1; i <= n; i++) index.append(i * 10, i * 1000, i * 100);
  return index;
}

/** The answer a linear scan gives, to check the binary search against. */
function linearLookup(index: OffsetIndex, rel: number): number {
  let pos = 0;
  for (let i = 0; i < index.length; i++) if (index.relativeOffsetAt(i) <= rel) pos = index.positionAt(i);
  return pos;
}

function linearLookupTime(index: OffsetIndex, t: number): number {
  for (let i = 0; i < index.length; i++) if (index.maxTimestampBeforeAt(i) >= t) return i === 0 ? 0 : index.positionAt(i - 1);
  return index.length === 0 ? 0 : index.positionAt(index.length - 1);
}

describe('OffsetIndex', () => {
  it('lookup finds the last entry at or before an offset', () => {
    const index = sampleIndex(100);
    expect(index.length).toBe(100);
    expect(index.lookup(0)).toBe(0);
    expect(index.lookup(9)).toBe(0);
    expect(index.lookup(10)).toBe(1000);
    expect(index.lookup(11)).toBe(1000);
    expect(index.lookup(19)).toBe(1000);
    expect(index.lookup(20)).toBe(2000);
    expect(index.lookup(555)).toBe(55_000);
    expect(index.lookup(1000)).toBe(100_000);
    expect(index.lookup(5_000_000)).toBe(100_000);
    for (let rel = 0; rel <= 1010; rel++) expect(index.lookup(rel)).toBe(linearLookup(index, rel));
  });

  it('lookup on an empty index starts at the segment start', () => {
    expect(new OffsetIndex().lookup(12345)).toBe(0);
    expect(new OffsetIndex().lookupTime(12345)).toBe(0);
  });

  it('lookupTime gives the position of the entry before the first one that reaches the time', () => {
    const index = sampleIndex(50);
    expect(index.lookupTime(0)).toBe(0);
    expect(index.lookupTime(100)).toBe(0);
    expect(index.lookupTime(101)).toBe(1000);
    expect(index.lookupTime(200)).toBe(1000);
    expect(index.lookupTime(201)).toBe(2000);
    expect(index.lookupTime(1_000_000)).toBe(50_000);
    for (let t = 0; t <= 5100; t += 7) expect(index.lookupTime(t)).toBe(linearLookupTime(index, t));
  });

  it('refuses entries that do not increase in both offset and position', () => {
    const index = sampleIndex(3);
    expect(() => index.append(30, 4000, 0)).toThrow();
    expect(() => index.append(40, 3000, 0)).toThrow();
    expect(() => index.append(40, 2500, 0)).toThrow();
    expect(index.length).toBe(3);
    index.append(40, 4000, 0);
    expect(index.length).toBe(4);
  });

  it('round-trips through encode/decode', () => {
    const index = sampleIndex(70);
    const bytes = index.encode();
    expect(bytes.length).toBe(70 * INDEX_ENTRY_BYTES);
    const back = OffsetIndex.decode(bytes, 1_000_000);
    expect(back.length).toBe(70);
    expect(back.persisted).toBe(70);
    for (let i = 0; i < 70; i++) {
      expect([back.relativeOffsetAt(i), back.positionAt(i), back.maxTimestampBeforeAt(i)]).toEqual([(i + 1) * 10, (i + 1) * 1000, (i + 1) * 100]);
    }
  });

  it('decode drops a torn last entry', () => {
    const bytes = sampleIndex(10).encode();
    const back = OffsetIndex.decode(bytes.subarray(0, bytes.length - 5), 1_000_000);
    expect(back.length).toBe(9);
    expect(back.lookup(95)).toBe(9000);
  });

  it('decode keeps the valid prefix before garbage', () => {
    const good = sampleIndex(6).encode();
    const garbage = Buffer.alloc(5 * INDEX_ENTRY_BYTES, 0xff); // NaN timestamps, huge positions
    const back = OffsetIndex.decode(Buffer.concat([good, garbage]), 1_000_000);
    expect(back.length).toBe(6);
    expect(back.lookup(1000)).toBe(6000);
  });

  it('decode stops at an entry that goes backwards or repeats', () => {
    const index = sampleIndex(4);
    const backwards = new OffsetIndex();
    backwards.append(5, 500, 0);
    const bytes = Buffer.concat([index.encode(), backwards.encode(), sampleIndex(8).encode(6)]);
    const back = OffsetIndex.decode(bytes, 1_000_000);
    expect(back.length).toBe(4);
  });

  it('decode stops at entries that point at or past the end of the log', () => {
    const bytes = sampleIndex(10).encode();
    expect(OffsetIndex.decode(bytes, 5000).length).toBe(4); // 5000 itself is past the last byte
    expect(OffsetIndex.decode(bytes, 5001).length).toBe(5);
    expect(OffsetIndex.decode(bytes, 0).length).toBe(0);
  });

  it('decode of pure garbage or an empty file is an empty index', () => {
    expect(OffsetIndex.decode(Buffer.alloc(0), 1000).length).toBe(0);
    expect(OffsetIndex.decode(Buffer.alloc(7, 1), 1000).length).toBe(0);
    expect(OffsetIndex.decode(Buffer.alloc(64, 0xee), 1000).length).toBe(0);
  });

  it('truncateTo drops entries and what is marked persisted', () => {
    const index = sampleIndex(10);
    expect(index.takeUnpersisted()!.bytes.length).toBe(10 * INDEX_ENTRY_BYTES);
    expect(index.takeUnpersisted()).toBeNull();
    index.truncateTo(4);
    expect(index.length).toBe(4);
    expect(index.persisted).toBe(4);
    expect(index.lookup(1000)).toBe(4000);
    index.append(50, 5000, 1);
    const tail = index.takeUnpersisted()!;
    expect(tail.filePosition).toBe(4 * INDEX_ENTRY_BYTES);
    expect(tail.bytes.length).toBe(INDEX_ENTRY_BYTES);
  });
});
