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

/** JSON whitespace: space, tab, line feed, carriage return (without line feeds inside an NDJSON line). */
function skipSpace(buf: Buffer, pos: number, end: number, lineFeeds = true): number {
  while (pos < end) {
    const c = buf[pos];
    if (c !== 0x20 && (c !== 0x0a || !lineFeeds) && c !== 0x0d && c !== 0x09) break;
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
 * True when `buf` holds no backslash and no control byte but line feeds: then a string ends at its next quote
 * unless a line feed comes first, and both are found by indexOf (native) instead of a loop over every byte.
 * Checked four bytes at a time (SWAR: a byte below 0x20 or equal to 0x5c sets its high bit in the mask).
 */
function plainBytes(buf: Buffer): boolean {
  const words = buf.byteOffset % 4 === 0 ? buf.length >> 2 : 0;
  if (words > 0) {
    const w32 = new Int32Array(buf.buffer, buf.byteOffset, words);
    for (let i = 0; i < words; i++) {
      const w = w32[i];
      const v = w ^ 0x5c5c5c5c;
      if ((((w - 0x20202020) & ~w) | ((v - 0x01010101) & ~v)) & 0x80808080) {
        for (let k = 4 * i; k < 4 * i + 4; k++) if (!plainByte(buf[k])) return false;
      }
    }
  }
  for (let k = 4 * words; k < buf.length; k++) if (!plainByte(buf[k])) return false;
  return true;
}

function plainByte(c: number): boolean {
  return (c >= 0x20 || c === NEWLINE) && c !== BACKSLASH;
}

/** Where a scan is: the body, whether plainBytes holds for it, and the next line feed at or after `pos`. */
class Scan {
  nextNewline = -1;
  readonly bounds: number[] = [];

  constructor(
    readonly buf: Buffer,
    readonly plain: boolean,
    /** NDJSON: a message never spans lines. */
    readonly lineFeeds: boolean,
  ) {}

  /** The end of the string whose first byte is at `start` (its closing quote), or -1 when it is not plain text. */
  stringEnd(start: number): number {
    const buf = this.buf;
    if (!this.plain) {
      for (let pos = start; pos < buf.length; pos++) {
        const c = buf[pos];
        if (c === QUOTE) return pos;
        if (c < 0x20 || c === BACKSLASH) return -1;
      }
      return -1;
    }
    const end = buf.indexOf(QUOTE, start);
    if (end < 0) return -1;
    if (this.nextNewline !== Infinity && this.nextNewline < start) {
      const nl = buf.indexOf(NEWLINE, start);
      this.nextNewline = nl < 0 ? Infinity : nl;
    }
    return this.nextNewline < end ? -1 : end;
  }
}

/**
 * `{"message":"..."}` at `pos` (whitespace allowed between tokens), its string free of escapes and control
 * characters; pushes the string's byte range and returns the position after the closing brace, or -1.
 */
function scanMessage(scan: Scan, pos: number, end: number): number {
  const { buf, lineFeeds } = scan;
  if (buf[pos] !== OPEN_BRACE) return -1;
  pos = skipSpace(buf, pos + 1, end, lineFeeds);
  if (!matches(buf, pos, MESSAGE_KEY)) return -1;
  pos = skipSpace(buf, pos + MESSAGE_KEY.length, end, lineFeeds);
  if (buf[pos] !== COLON) return -1;
  pos = skipSpace(buf, pos + 1, end, lineFeeds);
  if (buf[pos] !== QUOTE) return -1;
  const start = pos + 1;
  const close = scan.stringEnd(start);
  if (close < 0) return -1;
  scan.bounds.push(start, close);
  pos = skipSpace(buf, close + 1, end, lineFeeds);
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
  const scan = new Scan(body, plainBytes(body), true);
  for (;;) {
    pos = scanMessage(scan, pos, end);
    if (pos < 0) return null;
    pos = skipSpace(body, pos, end);
    if (body[pos] === COMMA) pos = skipSpace(body, pos + 1, end);
    else if (body[pos] === CLOSE_BRACKET) break;
    else return null;
  }
  pos = skipSpace(body, pos + 1, end);
  if (body[pos] !== CLOSE_BRACE) return null;
  if (skipSpace(body, pos + 1, end) !== end) return null;
  return finish(body, scan.bounds);
}

/** NDJSON lines `{"message":"..."}` (blank lines skipped, as the general path does), or null. */
export function scanNdjsonBatch(body: Buffer): ScannedBatch | null {
  const end = body.length;
  const scan = new Scan(body, plainBytes(body), false);
  let pos = 0;
  while (pos < end) {
    pos = skipSpace(body, pos, end);
    if (pos >= end) break;
    pos = scanMessage(scan, pos, end);
    if (pos < 0) return null;
    // The rest of the line: only whitespace (the general path trims each line), then its newline.
    while (pos < end && body[pos] !== NEWLINE) {
      const c = body[pos];
      if (c !== 0x20 && c !== 0x0d && c !== 0x09) return null;
      pos++;
    }
  }
  return finish(body, scan.bounds);
}
