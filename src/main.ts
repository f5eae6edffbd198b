// Bootstrap: build the app, apply the shared setup, listen and log the start line; on SIGTERM/SIGINT drain, log the
// stop line, exit 0.
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { LOG_FLUSH_TIMEOUT_MS, StdoutLog } from './common/logging/logging.module';
import { configureApp } from './app.setup';
import { APP_CONFIG, type AppConfig } from './config/app-config';
import { RequestTracker, startLine, stopLine } from './lifecycle';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(), { bufferLogs: true });
  configureApp(app);
  const config = app.get<AppConfig>(APP_CONFIG);
  const logger = app.get(Logger);
  const requests = new RequestTracker(app.getHttpServer());
  // Nest's shutdown sequence (readiness 503, stop accepting, finish in-flight requests, fsync and close the logs),
  // then the stop line and exit 0; the timer bounds it when a request or the disk hangs. Run here rather than by
  // enableShutdownHooks so the stop line is written after everything closed, whatever ends the shutdown. Nothing
  // at exit writes synchronously: the log gets a bounded flush, so a log that takes no writes (full disk, stalled
  // pipe) cannot hold the exit; the timer fires flushMs early so its own lines get that flush within the bound.
  const flushMs = Math.min(LOG_FLUSH_TIMEOUT_MS, Math.floor(config.shutdownTimeoutMs / 4));
  const exit = (code: number) => void app.get(StdoutLog).sink.drained(flushMs).finally(() => process.exit(code));
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return; // a second signal while draining changes nothing
    stopping = true;
    const began = performance.now();
    requests.beginDrain();
    setTimeout(() => {
      logger.error(`Shutdown took longer than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; exiting`);
      logger.log(stopLine(`${signal}, shutdown timeout`, requests, began, 1), 'Lifecycle');
      exit(1);
    }, config.shutdownTimeoutMs - flushMs).unref();
    try {
      await app.close();
    } catch (err) {
      logger.error(`Shutdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      logger.log(stopLine(`${signal}, shutdown failed`, requests, began, 1), 'Lifecycle');
      exit(1);
      return;
    }
    logger.log(stopLine(signal, requests, began, 0), 'Lifecycle');
    exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stop(signal));
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(startLine(config, port), 'Lifecycle');
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
