// Everything main.ts and the tests both apply to the app, so tests exercise the exact production pipeline.
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { refuseOversizedBodies } from './common/http/body-limit';
import { closeConnectionsWhileDraining } from './common/http/drain';
import { answerClientErrorsWithJson } from './common/http/client-errors';
import { refuseUnsupportedBodies } from './common/http/content-type';
import { synchronousChain } from './common/http/synchronous-chain';
import { ApiExceptionFilter } from './common/filters/api-exception.filter';
import { BoundedValidationPipe } from './common/pipes/bounded-validation.pipe';
import { APP_CONFIG, type AppConfig } from './config/app-config';
import { MetricsService } from './metrics/metrics.service';
import { requestMetrics } from './metrics/request-metrics.middleware';
import { readBatchBodies } from './messages/batch-body';
import { buildOpenApiDocument } from './openapi/document';
import { StorageService } from './storage/storage.service';

export function configureApp(app: NestExpressApplication): INestApplication {
  const config = app.get<AppConfig>(APP_CONFIG);
  app.useLogger(app.get(Logger));
  const storage = app.get(StorageService);
  app.use(synchronousChain(requestMetrics(app.get(MetricsService)), closeConnectionsWhileDraining(() => storage.draining)));
  // Swagger UI needs inline scripts and styles; everything else gets helmet's strict defaults.
  app.use(helmet({ contentSecurityPolicy: { directives: { 'script-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] } } }));
  if (config.corsOrigins.length > 0) {
    app.enableCors({ origin: config.corsOrigins.includes('*') ? true : config.corsOrigins, exposedHeaders: ['Retry-After', 'X-Request-Id', 'Wait-Ms-Used'] });
  }
  app.use(synchronousChain(refuseOversizedBodies(config.maxBodyBytes), refuseUnsupportedBodies()));
  // Batch produce reads its own body (one Buffer, the plain shape scanned in place); the parsers below skip it.
  app.use(readBatchBodies(config.maxBodyBytes));
  app.useBodyParser('json', { limit: config.maxBodyBytes });
  // NDJSON batches (one message per line) arrive as text and are split by the batch route.
  app.useBodyParser('text', { type: 'application/x-ndjson', limit: config.maxBodyBytes });
  app.useGlobalPipes(
    new BoundedValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      forbidUnknownValues: false,
      transformOptions: { enableImplicitConversion: false },
    }),
  );
  app.useGlobalFilters(new ApiExceptionFilter());
  app.disable('x-powered-by');
  // Broker answers change with every produce and are never cached: hashing each body for an ETag is waste.
  app.set('etag', false);
  answerClientErrorsWithJson(app.getHttpServer());
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    customSiteTitle: 'mini-kafka API',
    swaggerOptions: { persistAuthorization: true },
  });
  return app;
}
