// The producer marker: what an idempotent request leaves in the log beside its data, so that a retry after
// any crash finds it. Kafka keeps producer id and sequence in the batch header and rebuilds producer state
// from the log; here the last record of a request's run in a partition carries the Idempotency-Key, the
// request's fingerprint and where its records went. The marker is inside that record (under the batch CRC)
// and on the last record because recovery keeps a prefix of the log: if the marker survived, so did every
// record of the run before it.
//
// Marker: version u8 | createdAt f64 | fingerprint (32 bytes, SHA-256) | keyLength u16 | key |
//         routedOver u16 (partition count used for routing) | parts u16 (partitions the request touched) |
//         partition u16 | count u32 (records in this run) | indexMode u8 | (0: nothing; 1: u32 × count)
// indexMode 0 means "the request's stored records, in order" (a request on one partition); 1 lists the
// request's record indexes stored in this run (a request spread over several partitions).
import { createHash } from 'node:crypto';
import type { ProducerRecord } from './record-batch';

const VERSION = 1;
const FIXED = 1 + 8 + 32 + 2 + 2 + 2 + 2 + 4 + 1;

export interface ProducerMarker {
  createdAt: number;
  fingerprint: Buffer;
  key: string;
  routedOver: number;
  parts: number;
  partition: number;
  count: number;
  /** Request record indexes stored in this run; null when they are all the request's stored records. */
  indexes: number[] | null;
}

export function encodeMarker(m: ProducerMarker): Buffer {
  const key = Buffer.from(m.key, 'utf8');
  const buf = Buffer.allocUnsafe(FIXED + key.length + (m.indexes ? 4 * m.indexes.length : 0));
  let pos = buf.writeUInt8(VERSION, 0);
  pos = buf.writeDoubleBE(m.createdAt, pos);
  pos += m.fingerprint.copy(buf, pos, 0, 32);
  pos = buf.writeUInt16BE(key.length, pos);
  pos += key.copy(buf, pos);
  pos = buf.writeUInt16BE(m.routedOver, pos);
  pos = buf.writeUInt16BE(m.parts, pos);
  pos = buf.writeUInt16BE(m.partition, pos);
  pos = buf.writeUInt32BE(m.count, pos);
  pos = buf.writeUInt8(m.indexes ? 1 : 0, pos);
  if (m.indexes) for (const i of m.indexes) pos = buf.writeUInt32BE(i, pos);
  return buf;
}

/** Null for a marker this version does not know (a newer broker's): it is then ignored, never misread. */
export function decodeMarker(buf: Buffer): ProducerMarker | null {
  if (buf.length < FIXED || buf[0] !== VERSION) return null;
  let pos = 1;
  const createdAt = buf.readDoubleBE(pos);
  pos += 8;
  const fingerprint = Buffer.from(buf.subarray(pos, pos + 32));
  pos += 32;
  const keyLength = buf.readUInt16BE(pos);
  pos += 2;
  const key = buf.toString('utf8', pos, pos + keyLength);
  pos += keyLength;
  const routedOver = buf.readUInt16BE(pos);
  const parts = buf.readUInt16BE(pos + 2);
  const partition = buf.readUInt16BE(pos + 4);
  const count = buf.readUInt32BE(pos + 6);
  const mode = buf[pos + 10];
  pos += 11;
  let indexes: number[] | null = null;
  if (mode === 1) {
    if (buf.length < pos + 4 * count) return null;
    indexes = new Array<number>(count);
    for (let k = 0; k < count; k++) indexes[k] = buf.readUInt32BE(pos + 4 * k);
  }
  return { createdAt, fingerprint, key, routedOver, parts, partition, count, indexes };
}

/**
 * What makes two requests "the same request" for an Idempotency-Key: the records as the producer gave them
 * (value bytes, encoding, key, headers, an explicit timestamp) and the partition asked for. Broker-assigned
 * timestamps are left out: a retry gets a new clock reading but is still the same request.
 */
export function requestFingerprint(records: ProducerRecord[], partition: number | undefined, extra = ''): Buffer {
  const h = createHash('sha256');
  h.update(`${extra};p=${partition ?? '-'};n=${records.length};`);
  for (const r of records) {
    h.update(`e=${r.encoding ?? 0};t=${r.timestamp ?? '-'};k=`);
    if (r.key == null) h.update('-');
    else h.update(`${Buffer.byteLength(r.key)}:`).update(r.key);
    h.update(';h=');
    if (r.headers) {
      for (const name of Object.keys(r.headers).sort()) {
        const value = String(r.headers[name]);
        h.update(`${Buffer.byteLength(name)}:`).update(name).update(`${Buffer.byteLength(value)}:`).update(value);
      }
    }
    h.update(`;v=${Buffer.byteLength(r.value)}:`).update(r.value);
  }
  return h.digest();
}
