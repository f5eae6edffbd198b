// Counts every HTTP answer by method, route pattern (not the raw path: bounded label values) and status.
import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from './metrics.service';

export function requestMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.once('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
