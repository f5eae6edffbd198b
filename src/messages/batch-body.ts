// Reads the body of a batch produce itself instead of through body-parser: one bounded Buffer per request
// (sized from Content-Length when given), then the plain shape is scanned in place (batch-scan.ts) and
// everything else is parsed the way body-parser would (same decoding, strict JSON, same errors), so a batch
// of a thousand messages costs no JSON.parse, no string and no object per message.
// Bodies in another charset or compressed are left to body-parser, which runs after this.
import type { NextFunction, Request, Response } from 'express';
import { scanJsonBatch, scanNdjsonBatch } from './batch-scan';

/** Largest body buffer allocated from Content-Length before the bytes arrive. */
const PREALLOCATE_MAX = 1024 * 1024;
const BATCH_ROUTE = /^\/topics\/[^/]+\/messages\/batch\/?$/i;
const FIRST_CHAR = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d]|$)/;

/** The error body-parser would raise (Nest maps it to an HttpException with its message and status). */
function parserError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, type, expose: true });
}

/** body-parser's JSON error: the SyntaxError of JSON.parse, with a 400 status. */
function syntaxError(err: unknown): Error {
  return Object.assign(err instanceof SyntaxError ? err : new SyntaxError(String(err)), { status: 400, statusCode: 400, type: 'entity.parse.failed', expose: true });
}

/** body-parser's strict mode: a body that is not an object or array fails as JSON.parse fails on that token. */
function strictViolation(text: string, char: string | undefined): Error {
  const index = char === undefined ? -1 : text.indexOf(char);
  const partial = index === -1 ? '' : text.substring(0, index) + '#'.repeat(text.length - index);
  try {
    JSON.parse(partial);
    return syntaxError(new SyntaxError('strict violation'));
  } catch (e) {
    const err = e as SyntaxError;
    err.message = err.message.replace(/#+/g, (placeholder) => text.substring(index, index + placeholder.length));
    return syntaxError(err);
  }
}

/** What body-parser's json() (strict) or text() would have put in req.body, or the scanned batch. */
function decode(body: Buffer, ndjson: boolean): unknown {
  const fast = ndjson ? scanNdjsonBatch(body) : scanJsonBatch(body);
  if (fast) return fast;
  let text = body.toString('utf8');
  // iconv-lite, under body-parser, drops a UTF-8 byte order mark.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (ndjson) return text;
  if (text.length === 0) return {};
  if (text[0] !== '{' && text[0] !== '[') {
    const first = FIRST_CHAR.exec(text)?.[1] || undefined;
    if (first !== '{' && first !== '[') throw strictViolation(text, first);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw syntaxError(err);
  }
}

function mediaType(req: Request): { type: string; charset: string | null } {
  const [type, ...params] = String(req.headers['content-type'] ?? '').split(';');
  let charset: string | null = null;
  for (const p of params) {
    const [name, value] = p.split('=');
    if (name.trim().toLowerCase() === 'charset') charset = (value ?? '').trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { type: type.trim().toLowerCase(), charset };
}

export function readBatchBodies(maxBodyBytes: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (req.method !== 'POST' || !BATCH_ROUTE.test(req.path)) return next();
    const { type, charset } = mediaType(req);
    const ndjson = type === 'application/x-ndjson';
    if (!ndjson && type !== 'application/json') return next();
    if (charset !== null && charset !== 'utf-8') return next();
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') return next();
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const declared = chunked ? NaN : Number(req.headers['content-length'] ?? 0);
    if (!chunked && !(declared > 0)) return next();
    // refuseOversizedBodies has answered a declared length over the limit; a chunked body is counted as it comes.
    // A declared length is allocated at once only up to 1 MiB: a client announcing 32 MiB and sending nothing
    // must not get 32 MiB reserved before it sends them.
    let buf: Buffer | null = chunked || declared > PREALLOCATE_MAX ? null : Buffer.allocUnsafe(declared);
    let chunks: Buffer[] = [];
    let length = 0;
    let tooLarge = false;
    let finished = false;
    const done = (err: Error | null): void => {
      if (finished) return;
      finished = true;
      req.off('data', onData);
      if (err) return next(err);
      try {
        const body = buf ? (length === buf.length ? buf : buf.subarray(0, length)) : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
        buf = null;
        chunks = [];
        req.body = decode(body, ndjson);
      } catch (parseErr) {
        return next(parseErr);
      }
      next();
    };
    const onData = (chunk: Buffer): void => {
      if (tooLarge) return;
      if (length + chunk.length > (buf ? buf.length : maxBodyBytes)) {
        // Keep reading and dropping what comes (as body-parser does) so the client gets its 413.
        tooLarge = true;
        buf = null;
        chunks = [];
        return;
      }
      if (buf) chunk.copy(buf, length);
      else chunks.push(chunk);
      length += chunk.length;
    };
    req.on('data', onData);
    req.once('end', () => done(tooLarge ? parserError(413, 'entity.too.large', 'request entity too large') : null));
    req.once('error', (err) => done(parserError(400, 'request.aborted', err.message)));
    req.once('close', () => {
      if (!req.complete) done(parserError(400, 'request.aborted', 'request aborted'));
    });
  };
}
