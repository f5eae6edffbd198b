// Refuses a body whose declared Content-Length is over MAX_BODY_BYTES from the header alone. body-parser answers
// 413 too, but only after reading and discarding all the client sends, so a client that announced a terabyte
// and trickled it held the connection and got no answer at all.
import type { NextFunction, Request, Response } from 'express';

export function refuseOversizedBodies(maxBodyBytes: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.headers['content-length']);
    // A compressed body is measured once inflated, by the body parser.
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity' || !(declared > maxBodyBytes)) return next();
    res.setHeader('Connection', 'close');
    res.status(413).json({ detail: 'Request body is larger than MAX_BODY_BYTES', code: 'PAYLOAD_TOO_LARGE', status: 413 });
  };
}
