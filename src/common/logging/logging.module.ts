// Structured JSON logs with nestjs-pino: a request id per request (X-Request-Id honoured and echoed), the
// level from LOG_LEVEL, and never a message payload (URLs are logged without their query string).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          genReqId: (req: IncomingMessage, res: ServerResponse) => {
            const given = req.headers['x-request-id'];
            const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
            res.setHeader('X-Request-Id', id);
            return id;
          },
          // Successful requests are the broker's steady state: logged at debug. Client errors at info
          // (except the empty poll, which is normal), server errors at error.
          customLogLevel: (req: IncomingMessage, res: ServerResponse, err?: Error) => {
            if (err || res.statusCode >= 500) return 'error';
            if (res.statusCode >= 400 && res.statusCode !== 404) return 'info';
            return 'debug';
          },
          serializers: {
            req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
            res: (res: { statusCode: number }) => ({ status: res.statusCode }),
          },
          redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
          quietReqLogger: true,
        },
      }),
    }),
  ],
})
export class LoggingModule {}
