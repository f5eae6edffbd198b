// The fast reading of a batch body: finds the values of the plain shape every high-volume producer sends —
// {"messages":[{"message":"..."},...]} or NDJSON lines {"message":"..."} — as byte ranges of the request's own
// bytes, so they go into the record batch without a string, an object or a copy per message. Anything else
// (escapes, other fields, bad JSON, invalid UTF-8) answers null and the body takes the general path
// (JSON.parse and the per-message checks), which therefore decides every error and every unusual message.
import { isUtf8 } from 'node:buffer';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const NEWLINE = 0x0a;
const MESSAGES_KEY = Buffer.from('"messages"');
const MESSAGE_KEY = Buffer.from('"message"');

/** The values of a batch as [start, end) byte ranges of `body`: UTF-8 text, exactly what JSON.parse would give. */
export class ScannedBatch {
  constructor(
    readonly body: Buffer,
    /** start0, end0, start1, end1, ... */
    readonly bounds: number[],
    /** Largest value, in bytes. */
    readonly maxValueBytes: number,
  ) {}

  get count(): number {
    return this.bounds.length >> 1;
  }

  /** The messages as the general path would have parsed them (for Idempotency-Key fingerprints and 207s). */
  toInputs(): Array<{ message: string }> {
    const out = new Array<{ message: string }>(this.count);
    for (let i = 0; i < out.length; i++) out[i] = { message: this.body.toString('utf8', this.bounds[2 * i], this.bounds[2 * i + 1]) };
    return out;
  }
}

/** JSON whitespace: space, tab, line feed, carriage return. */
function skipSpace(buf: Buffer, pos: number, end: number): number {
  while (pos < end) {
    const c = buf[pos];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    pos++;
  }
  return pos;
}

function matches(buf: Buffer, pos: number, token: Buffer): boolean {
  if (pos + token.length > buf.length) return false;
  for (let i = 0; i < token.length; i++) if (buf[pos + i] !== token[i]) return false;
  return true;
}

/**
 * `{"message":"..."}` at `pos` (whitespace allowed between tokens), its string free of escapes and control
 * characters; pushes the string's byte range and returns the position after the closing brace, or -1.
 */
function scanMessage(buf: Buffer, pos: number, end: number, bounds: number[]): number {
  if (buf[pos] !== OPEN_BRACE) return -1;
  pos = skipSpace(buf, pos + 1, end);
  if (!matches(buf, pos, MESSAGE_KEY)) return -1;
  pos = skipSpace(buf, pos + MESSAGE_KEY.length, end);
  if (buf[pos] !== COLON) return -1;
  pos = skipSpace(buf, pos + 1, end);
  if (buf[pos] !== QUOTE) return -1;
  const start = ++pos;
  for (;;) {
    if (pos >= end) return -1;
    const c = buf[pos];
    if (c === QUOTE) break;
    if (c < 0x20 || c === BACKSLASH) return -1;
    pos++;
  }
  bounds.push(start, pos);
  pos = skipSpace(buf, pos + 1, end);
  return buf[pos] === CLOSE_BRACE ? pos + 1 : -1;
}

function finish(body: Buffer, bounds: number[]): ScannedBatch | null {
  if (bounds.length === 0) return null;
  let max = 0;
  for (let i = 0; i < bounds.length; i += 2) {
    const n = bounds[i + 1] - bounds[i];
    if (n > max) max = n;
  }
  // The bytes must be valid UTF-8 for the stored bytes to equal what decoding and re-encoding gives.
  if (!isUtf8(body)) return null;
  return new ScannedBatch(body, bounds, max);
}

/** `{"messages":[{"message":"..."}, ...]}`, or null for any other body. */
export function scanJsonBatch(body: Buffer): ScannedBatch | null {
  const end = body.length;
  let pos = skipSpace(body, 0, end);
  if (body[pos] !== OPEN_BRACE) return null;
  pos = skipSpace(body, pos + 1, end);
  if (!matches(body, pos, MESSAGES_KEY)) return null;
  pos = skipSpace(body, pos + MESSAGES_KEY.length, end);
  if (body[pos] !== COLON) return null;
  pos = skipSpace(body, pos + 1, end);
  if (body[pos] !== OPEN_BRACKET) return null;
  pos = skipSpace(body, pos + 1, end);
  const bounds: number[] = [];
  for (;;) {
    pos = scanMessage(body, pos, end, bounds);
    if (pos < 0) return null;
    pos = skipSpace(body, pos, end);
    if (body[pos] === COMMA) pos = skipSpace(body, pos + 1, end);
    else if (body[pos] === CLOSE_BRACKET) break;
    else return null;
  }
  pos = skipSpace(body, pos + 1, end);
  if (body[pos] !== CLOSE_BRACE) return null;
  if (skipSpace(body, pos + 1, end) !== end) return null;
  return finish(body, bounds);
}

/** NDJSON lines `{"message":"..."}` (blank lines skipped, as the general path does), or null. */
export function scanNdjsonBatch(body: Buffer): ScannedBatch | null {
  const end = body.length;
  const bounds: number[] = [];
  let pos = 0;
  while (pos < end) {
    pos = skipSpace(body, pos, end);
    if (pos >= end) break;
    pos = scanMessage(body, pos, end, bounds);
    if (pos < 0) return null;
    // The rest of the line: only whitespace (the general path trims each line), then its newline.
    while (pos < end && body[pos] !== NEWLINE) {
      const c = body[pos];
      if (c !== 0x20 && c !== 0x0d && c !== 0x09) return null;
      pos++;
    }
  }
  return finish(body, bounds);
}
