// Bootstrap: build the app, apply the shared setup, listen; on SIGTERM drain, close the logs, exit 0.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { LOG_FLUSH_TIMEOUT_MS, StdoutLog } from './common/logging/logging.module';
import { configureApp } from './app.setup';
import { APP_CONFIG, type AppConfig } from './config/app-config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(), { bufferLogs: true });
  configureApp(app);
  const config = app.get<AppConfig>(APP_CONFIG);
  // Nest runs the shutdown sequence (readiness 503, stop accepting, finish in-flight requests, fsync and close
  // the logs) and then exits 0; the timer bounds it when a request or the disk hangs.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  // The timer fires flushMs early, so its own line gets a bounded flush and the exit still lands within the bound;
  // nothing at exit writes synchronously, so a log that takes no writes (full disk, stalled pipe) cannot hold it.
  const flushMs = Math.min(LOG_FLUSH_TIMEOUT_MS, Math.floor(config.shutdownTimeoutMs / 4));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        app.get(Logger).error(`Shutdown took longer than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; exiting`);
        void app.get(StdoutLog).sink.drained(flushMs).finally(() => process.exit(1));
      }, config.shutdownTimeoutMs - flushMs).unref();
    });
  }
  await app.listen(config.port, config.host);
  app.get(Logger).log(`mini-kafka listening on http://${config.host}:${config.port} (docs at /docs)`);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
