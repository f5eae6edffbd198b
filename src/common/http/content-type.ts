// Refuses a request body in a type no route reads. Without this, a text/plain or form body to produce was
// silently dropped by the JSON parser and the answer blamed the message ("message is required").
import type { NextFunction, Request, Response } from 'express';

/** Routes that read NDJSON as well as JSON. */
const NDJSON_ROUTE = /\/messages\/batch\/?$/;

export function refuseUnsupportedBodies() {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method === 'GET' || req.method === 'HEAD' || !hasBody(req)) return next();
    if (req.headers['content-type'] === 'application/json') return next(); // the common case, without parsing
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const ndjsonRoute = NDJSON_ROUTE.test(req.path);
    if (type === 'application/json' || (ndjsonRoute && type === 'application/x-ndjson')) return next();
    const accepted = ndjsonRoute
      ? 'application/json ({"messages": [...]}) or application/x-ndjson (one message per line)'
      : /\/messages\/?$/.test(req.path)
        ? 'application/json ({"message": "..."}), or no body and the text in ?message='
        : 'application/json';
    res.status(415).json({
      detail: `Unsupported Content-Type ${type ? `'${type}'` : '(none)'}: send ${accepted}`,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      status: 415,
    });
  };
}

/** A body is on its way when one is framed: a non-zero Content-Length or any Transfer-Encoding. */
function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}
