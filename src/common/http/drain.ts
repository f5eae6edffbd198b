// While the app drains for shutdown, every response closes its connection. Node's server.close() refuses new
// connections but keeps serving requests on open keep-alive ones, so a busy client kept the server open until
// SHUTDOWN_TIMEOUT_MS ran out and the process exited 1, cutting whatever was in flight.
import type { NextFunction, Request, Response } from 'express';

export function closeConnectionsWhileDraining(draining: () => boolean) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (draining()) res.setHeader('Connection', 'close');
    next();
  };
}
