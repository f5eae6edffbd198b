// The broker's start and stop lines: what runs (version, storage, data dir, fsync, auth, port), and how it stopped
// (reason, requests finished while draining, time taken), plus the count of HTTP requests in flight behind them.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { AppConfig } from './config/app-config';

/** package.json's version: dist/main.js and src/main.ts both sit one level below it (in the image too). */
export function brokerVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Fields and message of the one line logged once the broker listens. */
export function startLine(config: AppConfig, port: number): Record<string, unknown> {
  const version = brokerVersion();
  const dataDir = resolve(config.engine.dataDir);
  const fsync = config.engine.fsync === 'interval' ? `interval (${config.engine.fsyncIntervalMs} ms)` : config.engine.fsync;
  const auth = config.authKeysJson !== '' || config.authKeysFile !== '' ? 'on' : 'off';
  return {
    event: 'start',
    version,
    storage: config.storage,
    data_dir: dataDir,
    fsync: config.engine.fsync,
    auth,
    port,
    msg: `mini-kafka ${version} started: storage ${config.storage}, data dir ${dataDir}, fsync ${fsync}, auth ${auth}, port ${port}`,
  };
}

/** Counts HTTP requests in flight, and those that finished after draining began (the drained requests). */
export class RequestTracker {
  inFlight = 0;
  drained = 0;
  private draining = false;

  constructor(server: Server) {
    server.on('request', (_req, res) => {
      this.inFlight++;
      res.once('close', () => {
        this.inFlight--;
        if (this.draining) this.drained++;
      });
    });
  }

  beginDrain(): void {
    this.draining = true;
  }
}

/** Fields and message of the one line logged when the broker stops. */
export function stopLine(reason: string, tracker: RequestTracker, startedAt: number, exitCode: number): Record<string, unknown> {
  const ms = Math.round(performance.now() - startedAt);
  const cut = tracker.inFlight;
  return {
    event: 'stop',
    reason,
    drained_requests: tracker.drained,
    unfinished_requests: cut,
    duration_ms: ms,
    exit_code: exitCode,
    msg: `mini-kafka stopped (${reason}): ${tracker.drained} request(s) drained${cut ? `, ${cut} unfinished` : ''} in ${ms} ms, exit ${exitCode}`,
  };
}
