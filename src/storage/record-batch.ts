// The on-disk record format: Kafka v2 style batches (one header and one CRC-32 per batch), big-endian.
//
// Batch:  baseOffset i64 | batchLength u32 (whole batch) | magic u8 | crc u32 (bytes after it) |
//         attributes u16 | recordCount u32 | firstTimestamp i64 | maxTimestamp i64 | records...
// Record: length u32 (bytes after it) | attributes u8 | offsetDelta u32 | timestampDelta i32 |
//         keyLength i32 (-1 = none) | key | headerCount u16 | (nameLen u16 | name | valueLen u32 | value)* |
//         valueLength u32 | value | [markerLength u32 | marker]
// attributes: the value's encoding in the low 7 bits; 0x80 when a producer marker follows the value. The
// marker is the broker's own bookkeeping (an Idempotency-Key and where its request's records went, see
// producer-marker.ts): inside the record, under the batch's CRC, so it is durable exactly when the data is.
// One CRC per batch rather than per record: a single-message produce is a batch of one, and group commit
// packs many concurrent produces into one batch, so the checksum cost is paid per write, not per message.
import { crc32 } from 'node:zlib';

export const MAGIC = 1;
export const BATCH_HEADER_BYTES = 39;
const CRC_START = 17;
const RECORD_FIXED_BYTES = 4 + 1 + 4 + 4 + 4 + 2 + 4;
const TWO_32 = 0x1_0000_0000;
/** Record attribute bit: a producer marker follows the value. */
const MARKER_FLAG = 0x80;
/** Header count and header name length are u16 on disk: a record beyond these cannot be encoded. */
export const MAX_HEADERS = 0xffff;
export const MAX_HEADER_NAME_BYTES = 0xffff;

/** How a value's bytes are meant to be read back; stored per record so every format round-trips. */
export enum ValueEncoding {
  Utf8 = 0,
  Json = 1,
  Binary = 2,
}

export interface ProducerRecord {
  value: string | Buffer;
  key?: string | Buffer | null;
  headers?: Record<string, string> | null;
  /** Milliseconds since the epoch; the broker's clock when absent. */
  timestamp?: number;
  encoding?: ValueEncoding;
}

export interface StoredRecord {
  offset: number;
  timestamp: number;
  encoding: ValueEncoding;
  key: Buffer | null;
  headers: Record<string, string> | null;
  value: Buffer;
  /** The producer marker carried by this record (engine bookkeeping, never shown to consumers). */
  marker?: Buffer | null;
}

/** A record measured once, so sizing and encoding never compute a byte length twice. */
export interface PreparedRecord {
  value: string | Buffer;
  valueBytes: number;
  key: Buffer | null;
  headers: Array<[Buffer, Buffer]> | null;
  timestamp: number;
  encoding: ValueEncoding;
  /** Encoded size of the whole record, length prefix included. */
  size: number;
  /** A producer marker to store with this record (the last record of an idempotent request's run). */
  marker: Buffer | null;
}

export function prepareRecord(r: ProducerRecord, now: number): PreparedRecord {
  const valueBytes = typeof r.value === 'string' ? Buffer.byteLength(r.value, 'utf8') : r.value.length;
  const key = r.key == null ? null : typeof r.key === 'string' ? Buffer.from(r.key, 'utf8') : r.key;
  let headers: Array<[Buffer, Buffer]> | null = null;
  let size = RECORD_FIXED_BYTES + valueBytes + (key ? key.length : 0);
  if (r.headers) {
    headers = [];
    for (const name of Object.keys(r.headers)) {
      const pair: [Buffer, Buffer] = [Buffer.from(name, 'utf8'), Buffer.from(String(r.headers[name]), 'utf8')];
      size += 2 + pair[0].length + 4 + pair[1].length;
      headers.push(pair);
    }
  }
  return {
    value: r.value,
    valueBytes,
    key,
    headers,
    timestamp: r.timestamp ?? now,
    encoding: r.encoding ?? ValueEncoding.Utf8,
    size,
    marker: null,
  };
}

/** The same record carrying `marker`: written in its batch, so the marker is durable exactly when the record is. */
export function withMarker(r: PreparedRecord, marker: Buffer): PreparedRecord {
  return { ...r, marker, size: r.size - (r.marker ? 4 + r.marker.length : 0) + 4 + marker.length };
}

/** Bytes the batch holding records[from, to) will take. */
export function batchSize(records: PreparedRecord[], from: number, to: number): number {
  let size = BATCH_HEADER_BYTES;
  for (let i = from; i < to; i++) size += records[i].size;
  return size;
}

function writeI64(buf: Buffer, value: number, pos: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32) >>> 0, pos);
  buf.writeUInt32BE(value >>> 0, pos + 4);
}

function readI64(buf: Buffer, pos: number): number {
  return buf.readUInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
}

/**
 * Encodes records[from, to) as one batch at `pos` in `buf` (sized by batchSize) and returns the end position.
 */
export function encodeBatch(
  records: PreparedRecord[],
  from: number,
  to: number,
  baseOffset: number,
  buf: Buffer,
  pos: number,
): number {
  const start = pos;
  const first = records[from].timestamp;
  let max = first;
  pos += BATCH_HEADER_BYTES;
  for (let i = from; i < to; i++) {
    const r = records[i];
    if (r.timestamp > max) max = r.timestamp;
    buf.writeUInt32BE(r.size - 4, pos);
    buf[pos + 4] = r.marker ? r.encoding | MARKER_FLAG : r.encoding;
    buf.writeUInt32BE(i - from, pos + 5);
    buf.writeInt32BE(r.timestamp - first, pos + 9);
    pos += 13;
    if (r.key) {
      buf.writeInt32BE(r.key.length, pos);
      pos += 4 + r.key.copy(buf, pos + 4);
    } else {
      buf.writeInt32BE(-1, pos);
      pos += 4;
    }
    const headers = r.headers;
    buf.writeUInt16BE(headers ? headers.length : 0, pos);
    pos += 2;
    if (headers) {
      for (const [name, value] of headers) {
        buf.writeUInt16BE(name.length, pos);
        pos += 2 + name.copy(buf, pos + 2);
        buf.writeUInt32BE(value.length, pos);
        pos += 4 + value.copy(buf, pos + 4);
      }
    }
    buf.writeUInt32BE(r.valueBytes, pos);
    pos += 4;
    pos += typeof r.value === 'string' ? buf.write(r.value, pos, r.valueBytes, 'utf8') : r.value.copy(buf, pos);
    if (r.marker) {
      buf.writeUInt32BE(r.marker.length, pos);
      pos += 4 + r.marker.copy(buf, pos + 4);
    }
  }
  writeI64(buf, baseOffset, start);
  buf.writeUInt32BE(pos - start, start + 8);
  buf[start + 12] = MAGIC;
  buf.writeUInt16BE(0, start + 17);
  buf.writeUInt32BE(to - from, start + 19);
  writeI64(buf, first, start + 23);
  writeI64(buf, max, start + 31);
  buf.writeUInt32BE(crc32(buf.subarray(start + CRC_START, pos)), start + 13);
  return pos;
}

export interface BatchHeader {
  baseOffset: number;
  /** Whole batch, header included. */
  length: number;
  recordCount: number;
  firstTimestamp: number;
  maxTimestamp: number;
}

/**
 * Reads the header at `pos`; null when fewer than a header's bytes remain or the header is not plausible
 * (wrong magic, impossible length) — both mean "the valid log ends here".
 */
export function readBatchHeader(buf: Buffer, pos: number, end = buf.length): BatchHeader | null {
  if (end - pos < BATCH_HEADER_BYTES) return null;
  const length = buf.readUInt32BE(pos + 8);
  const recordCount = buf.readUInt32BE(pos + 19);
  if (buf[pos + 12] !== MAGIC || length < BATCH_HEADER_BYTES || recordCount === 0) return null;
  return {
    baseOffset: readI64(buf, pos),
    length,
    recordCount,
    firstTimestamp: readI64(buf, pos + 23),
    maxTimestamp: readI64(buf, pos + 31),
  };
}

/** True when the batch's bytes are all present in buf and match its CRC. */
export function batchIsIntact(buf: Buffer, pos: number, header: BatchHeader): boolean {
  if (pos + header.length > buf.length) return false;
  return crc32(buf.subarray(pos + CRC_START, pos + header.length)) === buf.readUInt32BE(pos + 13);
}

/**
 * Decodes the records of an intact batch at `pos` whose offset is >= fromOffset, at most `max` of them,
 * onto `out`. Values and keys are views into `buf`, not copies.
 */
export function decodeRecords(
  buf: Buffer,
  pos: number,
  header: BatchHeader,
  fromOffset: number,
  max: number,
  out: StoredRecord[],
): void {
  const end = pos + header.length;
  pos += BATCH_HEADER_BYTES;
  let taken = 0;
  while (pos < end && taken < max) {
    const length = buf.readUInt32BE(pos);
    const offset = header.baseOffset + buf.readUInt32BE(pos + 5);
    if (offset < fromOffset) {
      pos += 4 + length;
      continue;
    }
    const attributes = buf[pos + 4];
    const encoding = (attributes & ~MARKER_FLAG) as ValueEncoding;
    const timestamp = header.firstTimestamp + buf.readInt32BE(pos + 9);
    let p = pos + 13;
    const keyLength = buf.readInt32BE(p);
    p += 4;
    let key: Buffer | null = null;
    if (keyLength >= 0) {
      key = buf.subarray(p, p + keyLength);
      p += keyLength;
    }
    const headerCount = buf.readUInt16BE(p);
    p += 2;
    let headers: Record<string, string> | null = null;
    if (headerCount > 0) {
      headers = {};
      for (let h = 0; h < headerCount; h++) {
        const nameLength = buf.readUInt16BE(p);
        const name = buf.toString('utf8', p + 2, p + 2 + nameLength);
        p += 2 + nameLength;
        const valueLength = buf.readUInt32BE(p);
        headers[name] = buf.toString('utf8', p + 4, p + 4 + valueLength);
        p += 4 + valueLength;
      }
    }
    const valueLength = buf.readUInt32BE(p);
    p += 4;
    const value = buf.subarray(p, p + valueLength);
    let marker: Buffer | null = null;
    if (attributes & MARKER_FLAG) {
      p += valueLength;
      marker = buf.subarray(p + 4, p + 4 + buf.readUInt32BE(p));
    }
    out.push({ offset, timestamp, encoding, key, headers, value, marker });
    taken++;
    pos += 4 + length;
  }
}

/**
 * Values as [start, end) byte ranges of one buffer: UTF-8 text without key, headers or producer timestamp —
 * a batch as it arrived over HTTP (start0, end0, start1, end1, ...). Stored without a string or an object
 * per value.
 */
export interface TextValues {
  body: Buffer;
  bounds: number[];
}

export function textValueRecords(values: TextValues): ProducerRecord[] {
  const { body, bounds } = values;
  const out = new Array<ProducerRecord>(bounds.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = { value: body.subarray(bounds[2 * i], bounds[2 * i + 1]) };
  return out;
}

/** Records framed as physical batches before their offsets are known: the base offset is outside the CRC. */
export interface FramedBatches {
  buf: Buffer;
  /** Byte position of each physical batch in buf, then buf.length. */
  starts: number[];
  /** Records in each physical batch. */
  counts: number[];
  records: number;
  timestamp: number;
  valueBytes: number;
}

/** Size of a record holding `valueBytes` of text and nothing else, length prefix included. */
export function textRecordSize(valueBytes: number): number {
  return RECORD_FIXED_BYTES + valueBytes;
}

function putU32(buf: Buffer, pos: number, n: number): void {
  buf[pos] = n >>> 24;
  buf[pos + 1] = (n >>> 16) & 0xff;
  buf[pos + 2] = (n >>> 8) & 0xff;
  buf[pos + 3] = n & 0xff;
}

/**
 * Frames text values into physical batches of at most `maxBatchBytes` (a lone larger record gets its own),
 * every record stamped `timestamp`, each batch with its CRC; base offsets are left 0 for setBaseOffset.
 * One buffer for the whole call: the values are copied once, from the request's bytes.
 */
export function frameTextValues(values: TextValues, timestamp: number, maxBatchBytes: number): FramedBatches {
  const { body, bounds } = values;
  const count = bounds.length >> 1;
  let total = 0;
  let valueBytes = 0;
  const starts: number[] = [0];
  const counts: number[] = [];
  let batchBytes = BATCH_HEADER_BYTES;
  let inBatch = 0;
  for (let i = 0; i < count; i++) {
    const n = bounds[2 * i + 1] - bounds[2 * i];
    const size = RECORD_FIXED_BYTES + n;
    if (inBatch > 0 && batchBytes + size > maxBatchBytes) {
      total += batchBytes;
      starts.push(total);
      counts.push(inBatch);
      batchBytes = BATCH_HEADER_BYTES;
      inBatch = 0;
    }
    batchBytes += size;
    valueBytes += n;
    inBatch++;
  }
  total += batchBytes;
  starts.push(total);
  counts.push(inBatch);
  const buf = Buffer.allocUnsafe(total);
  let i = 0;
  for (let b = 0; b < counts.length; b++) {
    const start = starts[b];
    let pos = start + BATCH_HEADER_BYTES;
    for (let k = 0; k < counts[b]; k++, i++) {
      const from = bounds[2 * i];
      const n = bounds[2 * i + 1] - from;
      putU32(buf, pos, RECORD_FIXED_BYTES - 4 + n);
      buf[pos + 4] = ValueEncoding.Utf8;
      putU32(buf, pos + 5, k);
      putU32(buf, pos + 9, 0);
      putU32(buf, pos + 13, 0xffffffff);
      buf[pos + 17] = 0;
      buf[pos + 18] = 0;
      putU32(buf, pos + 19, n);
      body.copy(buf, pos + 23, from, from + n);
      pos += RECORD_FIXED_BYTES + n;
    }
    writeI64(buf, 0, start);
    buf.writeUInt32BE(pos - start, start + 8);
    buf[start + 12] = MAGIC;
    buf.writeUInt16BE(0, start + 17);
    buf.writeUInt32BE(counts[b], start + 19);
    writeI64(buf, timestamp, start + 23);
    writeI64(buf, timestamp, start + 31);
    buf.writeUInt32BE(crc32(buf.subarray(start + CRC_START, pos)), start + 13);
  }
  return { buf, starts, counts, records: count, timestamp, valueBytes };
}

/** Sets the base offset of the batch at `pos` (outside the CRC, so the batch stays intact). */
export function setBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  writeI64(buf, baseOffset, pos);
}
