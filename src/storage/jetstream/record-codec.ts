// A record as a JetStream message: the value bytes are the payload, untouched; key, headers, encoding and
// timestamp travel as NATS headers, in forms NATS headers can hold (values may not contain CR/LF and are
// trimmed on decode, so the key is base64 and the record headers are one JSON object).
import { headers as natsHeaders, type MsgHdrs, type StoredMsg } from 'nats';
import { ValueEncoding, type PreparedRecord, type ProducerRecord, type StoredRecord } from '../record-batch';

export const HEADER_TIMESTAMP = 'Mk-Ts';
export const HEADER_ENCODING = 'Mk-Enc';
export const HEADER_KEY = 'Mk-Key';
export const HEADER_HEADERS = 'Mk-Hdrs';

export interface EncodedRecord {
  payload: Uint8Array;
  headers: MsgHdrs;
  /** Payload plus header bytes, roughly as NATS counts them against max_payload. */
  wireBytes: number;
}

export function encodeRecord(source: ProducerRecord, prepared: PreparedRecord): EncodedRecord {
  const h = natsHeaders();
  let headerBytes = 16 + HEADER_TIMESTAMP.length + 16;
  h.set(HEADER_TIMESTAMP, String(prepared.timestamp));
  if (prepared.encoding !== ValueEncoding.Utf8) {
    h.set(HEADER_ENCODING, String(prepared.encoding));
    headerBytes += 16;
  }
  if (prepared.key) {
    const key = prepared.key.toString('base64');
    h.set(HEADER_KEY, key);
    headerBytes += HEADER_KEY.length + key.length + 4;
  }
  if (source.headers && Object.keys(source.headers).length > 0) {
    const json = JSON.stringify(Object.fromEntries(Object.entries(source.headers).map(([k, v]) => [k, String(v)])));
    h.set(HEADER_HEADERS, json);
    headerBytes += HEADER_HEADERS.length + Buffer.byteLength(json) + 4;
  }
  const value = prepared.value;
  const payload = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return { payload, headers: h, wireBytes: payload.length + headerBytes };
}

/** Offsets are stream sequences minus one: JetStream counts from 1, the API from 0. */
export function decodeRecord(msg: StoredMsg): StoredRecord {
  const h = msg.header;
  const ts = Number(h?.get(HEADER_TIMESTAMP));
  const encoding = Number(h?.get(HEADER_ENCODING) || ValueEncoding.Utf8) as ValueEncoding;
  const key = h?.get(HEADER_KEY);
  const headers = h?.get(HEADER_HEADERS);
  const data = msg.data;
  return {
    offset: msg.seq - 1,
    timestamp: Number.isFinite(ts) && ts > 0 ? ts : msg.time.getTime(),
    encoding,
    key: key ? Buffer.from(key, 'base64') : null,
    headers: headers ? (JSON.parse(headers) as Record<string, string>) : null,
    value: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  };
}
