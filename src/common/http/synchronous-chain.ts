// Several small middlewares run as one Express layer: each layer costs a path match and a `next` hop per request,
// and these run on every request. Only for middlewares that, before returning, either call `next()` (without
// an error) or answer the request themselves.
import type { NextFunction, Request, Response } from 'express';

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

export function synchronousChain(...steps: Middleware[]): Middleware {
  // One `next` for every request: a step runs to completion before the next request's steps start.
  let passed = false;
  const pass = (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    passed = true;
  };
  return (req, res, next) => {
    for (const step of steps) {
      passed = false;
      step(req, res, pass);
      if (!passed) return; // the step answered the request
    }
    next();
  };
}
