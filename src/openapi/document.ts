// The OpenAPI document, generated from the controllers and DTOs (Swagger CLI plugin + decorators).
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('mini-kafka')
    .setDescription(
      'A Kafka-like message broker over HTTP: durable segmented log, produce / poll / ack with committed cursors. ' +
        'Every error answers JSON with a `detail` field.',
    )
    .setVersion('0.1.0')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('/', 'The broker serving this document')
    .addTag('topics', 'Topic administration')
    .addTag('messages', 'Produce, poll, fetch, ack and consumer cursors')
    .addTag('health', 'Liveness and readiness')
    .addTag('metrics', 'Prometheus metrics')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key from AUTH_KEYS / AUTH_KEYS_FILE' }, 'api-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The same API key as a bearer token' }, 'bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controller, method) => method,
  });
  // Public routes (health, metrics, docs) need no key; the guarded ones declare their schemes themselves.
  document.security = [];
  integersOnly(document);
  return document;
}

/**
 * Every number this API sends or takes is an integer (offsets, partitions, counts, bytes, milliseconds), but
 * TypeScript's `number` reaches the document as `type: number`, which generated clients turn into floats.
 */
function integersOnly(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(integersOnly);
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  if (o.type === 'number') o.type = 'integer';
  for (const v of Object.values(o)) integersOnly(v);
}
