// Messages between JSON and the engine: a value is UTF-8 text, any JSON value, or base64 bytes, with an
// optional key, string headers and a producer timestamp within a bounded skew of the broker's clock.
import { BadRequestException } from '@nestjs/common';
import { type ProducerRecord, type StoredRecord, ValueEncoding } from '../storage/record-batch';

export type EncodingName = 'utf8' | 'json' | 'base64';

/** A message as clients send it (single produce body, batch element, NDJSON line). */
export interface MessageInput {
  /** The seed's field: UTF-8 text. */
  message?: string;
  value?: unknown;
  encoding?: EncodingName;
  key?: string;
  headers?: Record<string, string>;
  timestamp?: number;
  partition?: number;
}

export interface MessageLimits {
  maxHeaders: number;
  maxHeaderBytes: number;
  maxKeyBytes: number;
  /** How far a producer timestamp may be from the broker's clock. */
  maxTimestampSkewMs: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = {
  maxHeaders: 64,
  maxHeaderBytes: 16 * 1024,
  maxKeyBytes: 4096,
  maxTimestampSkewMs: 60 * 60 * 1000,
};

const ALLOWED = new Set(['message', 'value', 'encoding', 'key', 'headers', 'timestamp', 'partition']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Checks one message; returns the engine record or a reason it is invalid (never throws for bad input). */
export function toProducerRecord(input: unknown, limits: MessageLimits, now = Date.now()): ProducerRecord | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'a message must be a JSON object';
  const m = input as MessageInput;
  for (const k in m) if (!ALLOWED.has(k)) return `property ${k} should not exist`;
  const record: ProducerRecord = { value: '' };
  if (m.message !== undefined) {
    if (m.value !== undefined) return 'give either message or value, not both';
    if (typeof m.message !== 'string') return 'message must be a string';
    if (m.encoding !== undefined && m.encoding !== 'utf8') return 'message is UTF-8 text; use value for other encodings';
    record.value = m.message;
  } else if (m.value !== undefined) {
    const encoding = m.encoding ?? (typeof m.value === 'string' ? 'utf8' : 'json');
    if (encoding === 'utf8') {
      if (typeof m.value !== 'string') return 'value must be a string with encoding utf8';
      record.value = m.value;
    } else if (encoding === 'base64') {
      if (typeof m.value !== 'string' || m.value.length % 4 !== 0 || !BASE64.test(m.value)) return 'value must be padded base64 with encoding base64';
      record.value = Buffer.from(m.value, 'base64');
      record.encoding = ValueEncoding.Binary;
    } else if (encoding === 'json') {
      record.value = JSON.stringify(m.value);
      record.encoding = ValueEncoding.Json;
    } else return 'encoding must be utf8, json or base64';
  } else return 'message (or value) is required';
  if (m.key !== undefined) {
    if (typeof m.key !== 'string') return 'key must be a string';
    if (Buffer.byteLength(m.key) > limits.maxKeyBytes) return `key is longer than ${limits.maxKeyBytes} bytes`;
    record.key = m.key;
  }
  if (m.headers !== undefined) {
    if (typeof m.headers !== 'object' || m.headers === null || Array.isArray(m.headers)) return 'headers must be an object of strings';
    let count = 0;
    let bytes = 0;
    for (const name in m.headers) {
      const v = (m.headers as Record<string, unknown>)[name];
      if (typeof v !== 'string') return `header ${JSON.stringify(name)} must be a string`;
      count++;
      bytes += Buffer.byteLength(name) + Buffer.byteLength(v);
    }
    if (count > limits.maxHeaders) return `at most ${limits.maxHeaders} headers per message`;
    if (bytes > limits.maxHeaderBytes) return `headers are larger than ${limits.maxHeaderBytes} bytes`;
    if (count > 0) record.headers = m.headers;
  }
  if (m.timestamp !== undefined) {
    if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) return 'timestamp must be milliseconds since the epoch';
    if (Math.abs(m.timestamp - now) > limits.maxTimestampSkewMs) {
      return `timestamp is more than ${limits.maxTimestampSkewMs} ms away from the broker's clock`;
    }
    record.timestamp = m.timestamp;
  }
  return record;
}

/** Like toProducerRecord, for a single-message route: an invalid message is a 400. */
export function requireProducerRecord(input: unknown, limits: MessageLimits): ProducerRecord {
  const r = toProducerRecord(input, limits);
  if (typeof r === 'string') throw new BadRequestException(r);
  return r;
}

/** The JSON view of a stored message, as poll, fetch and group deliveries answer it. */
export interface MessageView {
  message_id: number;
  partition: number;
  /** UTF-8 text, the JSON value, or base64 bytes, per `encoding`. */
  data: unknown;
  encoding: EncodingName;
  timestamp: number;
  key?: string;
  headers?: Record<string, string>;
}

const ENCODING_NAMES: Record<ValueEncoding, EncodingName> = {
  [ValueEncoding.Utf8]: 'utf8',
  [ValueEncoding.Json]: 'json',
  [ValueEncoding.Binary]: 'base64',
};

export function toMessageView(r: StoredRecord, partition: number): MessageView {
  const view: MessageView = {
    message_id: r.offset,
    partition,
    data:
      r.encoding === ValueEncoding.Json
        ? JSON.parse(r.value.toString('utf8'))
        : r.encoding === ValueEncoding.Binary
          ? r.value.toString('base64')
          : r.value.toString('utf8'),
    encoding: ENCODING_NAMES[r.encoding] ?? 'utf8',
    timestamp: r.timestamp,
  };
  if (r.key) view.key = r.key.toString('utf8');
  if (r.headers) view.headers = r.headers;
  return view;
}
