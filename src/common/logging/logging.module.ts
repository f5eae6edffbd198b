// Structured JSON logs with nestjs-pino: a request id per request (X-Request-Id honoured and echoed), the
// level from LOG_LEVEL, and never a message payload (URLs are logged without their query string). Lines go to
// stdout through a LogSink, so a log that cannot take writes never blocks the broker.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { type DestinationStream, type Logger, type Level, stdSerializers } from 'pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { LogSink } from './log-sink';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Log bytes held while stdout takes no writes (about 3,000 request lines); newer lines are dropped and counted. */
const LOG_BUFFER_BYTES = 1024 * 1024;
/** The last step of shutdown waits this long at most for buffered lines to reach stdout. */
export const LOG_FLUSH_TIMEOUT_MS = 500;

/** The level of a request's completion line. */
function requestLogLevel(res: ServerResponse, err?: Error): Level {
  if (res.statusCode === 503 && !err) return 'debug';
  if (err || res.statusCode >= 500) return 'error';
  if (res.statusCode >= 400 && res.statusCode !== 404) return 'info';
  return 'debug';
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

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
            // with one throttled warning per cause from the exception filter. A level the logger would drop
            // is answered 'silent', so pino-http returns before building the line's objects.
            customLogLevel: (req: IncomingMessage, res: ServerResponse, err?: Error) => {
              const level = requestLogLevel(res, err);
              return (res as ServerResponse & { log?: Logger }).log?.isLevelEnabled(level) === false ? 'silent' : level;
            },
            // pino-http invents an Error (with a stack) for every 5xx answer nothing threw; the answer's status
            // says as much, and a real error is logged by the exception filter.
            customErrorObject: (req: IncomingMessage, res: ServerResponse, err: Error, val: Record<string, unknown>) =>
              err.message === `failed with status code ${res.statusCode}` ? { ...val, err: undefined } : val,
            // The serializers are an allow-list (id, method, path without its query; the status): no header, key
            // or payload can reach a line, so no redaction pass is needed. They read the raw request and response
            // (wrapSerializers: false): pino-http binds the request to a child logger on every request, and the
            // wrapped serializers first copied all its headers into a new object, then a redaction cloned it.
            wrapSerializers: false,
            serializers: {
              req: (req: IncomingMessage & { id: string; originalUrl?: string }) => ({ id: req.id, method: req.method, path: pathOf(req.originalUrl ?? req.url ?? '') }),
              res: (res: ServerResponse) => ({ status: res.statusCode }),
              err: stdSerializers.err,
            },
            // One child logger per request, bound to the request (its id, method and path), used for the lines
            // logged while it runs and for its completion line. pino-http's quietReqLogger made two (one with
            // `reqId`, then its child with `req`), and a child of a per-request child costs V8 a new prototype
            // each time: about half of the broker's own CPU per produce. The id is in `req.id` either way.
            quietReqLogger: false,
          },
          stdout.destination,
        ],
      }),
    }),
  ],
})
export class LoggingModule {}
