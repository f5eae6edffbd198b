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
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controller, method) => method,
  });
  // No authentication is configured: say so explicitly rather than leave security undefined.
  document.security = [];
  return document;
}
