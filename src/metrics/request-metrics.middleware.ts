// Counts every HTTP answer by method, route pattern (not the raw path: bounded label values) and status.
import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from './metrics.service';

type CountOne = { inc(): void };

/** Stands for "no route matched" in the cache (requests that never reached a route). */
const UNMATCHED = {};

export function requestMetrics(metrics: MetricsService) {
  // Per route (Express keeps one Route object per registered path and method), per method, per status: a
  // PendingCount, so an answer is counted without building a label object and hashing it every time.
  const children = new WeakMap<object, Map<string, Map<number, CountOne>>>();
  function counterFor(req: Request, status: number): CountOne {
    const route: { path?: string } | undefined = req.route;
    // A route mounted under a base path is labelled with it, and looked up by that full label.
    const key = route?.path ? (req.baseUrl ? labelKey(`${req.baseUrl}${route.path}`) : route) : UNMATCHED;
    let byMethod = children.get(key);
    if (!byMethod) children.set(key, (byMethod = new Map()));
    let byStatus = byMethod.get(req.method);
    if (!byStatus) byMethod.set(req.method, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) {
      const label = route?.path ? `${req.baseUrl}${route.path}` : 'unmatched';
      byStatus.set(status, (child = metrics.pendingCount(metrics.requests, { method: req.method, route: label, status: String(status) })));
    }
    return child;
  }
  // One listener function for every response (`this` is the response): no closure per request.
  function onFinish(this: Response): void {
    counterFor(this.req, this.statusCode).inc();
  }
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.on('finish', onFinish);
    next();
  };
}

/** Interned keys for mounted routes' full labels (rare: Nest mounts every route at the root). */
const labelKeys = new Map<string, object>();
function labelKey(label: string): object {
  let key = labelKeys.get(label);
  if (!key) labelKeys.set(label, (key = {}));
  return key;
}
