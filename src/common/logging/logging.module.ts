// Structured JSON logs with nestjs-pino: a request id per request (X-Request-Id honoured and echoed), the
// level from LOG_LEVEL, and never a message payload (URLs are logged without their query string). Lines go to
// stdout through a LogSink, so a log that cannot take writes never blocks the broker.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { LogSink } from './log-sink';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Log bytes held while stdout takes no writes (about 3,000 request lines); newer lines are dropped and counted. */
const LOG_BUFFER_BYTES = 1024 * 1024;
/** The last step of shutdown waits this long at most for buffered lines to reach stdout. */
export const LOG_FLUSH_TIMEOUT_MS = 500;

/** The process's stdout as a pino destination, and the last shutdown step: a bounded wait for its lines. */
@Injectable()
export class StdoutLog implements OnApplicationShutdown {
  readonly sink: LogSink;

  constructor(metrics: MetricsService) {
    // A failed write is tried again every 100 ms (sonic-boom's own pace for EAGAIN): one cheap syscall while the
    // disk is full, and the log resumes within 100 ms of space returning.
    this.sink = new LogSink({ fd: 1, maxBufferedBytes: LOG_BUFFER_BYTES, retryMs: 100, onDrop: () => metrics.logLinesDropped.inc() });
  }

  /**
   * What pino writes to. When process.stdout.write has been replaced (a test capturing the log), that
   * replacement, as pino itself does; otherwise the sink on fd 1.
   */
  get destination(): DestinationStream {
    const stdout = process.stdout;
    return stdout.write !== Object.getPrototypeOf(stdout).write ? stdout : this.sink;
  }

  /** A global module's hook runs after the feature modules' ones, so their last lines are in the buffer. */
  async onApplicationShutdown(): Promise<void> {
    await this.sink.drained(LOG_FLUSH_TIMEOUT_MS);
  }
}

@Global()
@Module({ providers: [StdoutLog], exports: [StdoutLog] })
class StdoutLogModule {}

@Module({
  imports: [
    StdoutLogModule,
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG, StdoutLog],
      useFactory: (config: AppConfig, stdout: StdoutLog) => ({
        pinoHttp: [
          {
            level: config.logLevel,
            genReqId: (req: IncomingMessage, res: ServerResponse) => {
              const given = req.headers['x-request-id'];
              const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
              res.setHeader('X-Request-Id', id);
              return id;
            },
            // Successful requests are the broker's steady state: logged at debug. Client errors at info
            // (except the empty poll, which is normal), server errors at error. A 503 (disk full, back
            // pressure, draining) is a "retry later" answered to every request while it lasts: debug here,
            // with one throttled warning per cause from the exception filter.
            customLogLevel: (req: IncomingMessage, res: ServerResponse, err?: Error) => {
              if (res.statusCode === 503 && !err) return 'debug';
              if (err || res.statusCode >= 500) return 'error';
              if (res.statusCode >= 400 && res.statusCode !== 404) return 'info';
              return 'debug';
            },
            // pino-http invents an Error (with a stack) for every 5xx answer nothing threw; the answer's status
            // says as much, and a real error is logged by the exception filter.
            customErrorObject: (req: IncomingMessage, res: ServerResponse, err: Error, val: Record<string, unknown>) =>
              err.message === `failed with status code ${res.statusCode}` ? { ...val, err: undefined } : val,
            serializers: {
              req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
              res: (res: { statusCode: number }) => ({ status: res.statusCode }),
            },
            redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
            quietReqLogger: true,
          },
          stdout.destination,
        ],
      }),
    }),
  ],
})
export class LoggingModule {}
