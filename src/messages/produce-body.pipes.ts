// Body parsing for the produce routes, the hottest paths of the broker: plain checks instead of
// class-transformer + class-validator, which cost more per request than storing the message does and, for a
// 10,000-message batch, seconds. The DTO classes in message.dto.ts stay the single source of the OpenAPI schema.
import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { ScannedBatch } from './batch-scan';

/** The single produce body: any object (its fields are checked with the message itself), or none at all. */
export class ProduceBodyPipe implements PipeTransform<unknown, Record<string, unknown>> {
  transform(body: unknown): Record<string, unknown> {
    if (body === undefined || body === null || body === '') return {};
    if (typeof body !== 'object' || Array.isArray(body)) throw new BadRequestException('The body must be a JSON object');
    return body as Record<string, unknown>;
  }
}

/**
 * The batch body: `{"messages": [...]}` as JSON, or one message object per line as NDJSON
 * (application/x-ndjson arrives as text). Elements are checked one by one later, so that one bad message
 * is reported in a 207 while the others are stored. A body of the plain shape arrives already scanned
 * (batch-body.ts): its values are byte ranges of the request, valid by construction.
 */
export class ProduceBatchBodyPipe implements PipeTransform<unknown, unknown[] | ScannedBatch> {
  transform(body: unknown): unknown[] | ScannedBatch {
    if (body instanceof ScannedBatch) return body;
    if (typeof body === 'string') return parseNdjson(body);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestException('The body must be a JSON object {"messages": [...]} or NDJSON lines');
    }
    for (const key in body) {
      if (key !== 'messages') throw new BadRequestException(`property ${key} should not exist`);
    }
    const messages = (body as { messages?: unknown }).messages;
    if (!Array.isArray(messages) || messages.length === 0) throw new BadRequestException('messages must be a non-empty array');
    return messages;
  }
}

function parseNdjson(text: string): unknown[] {
  const out: unknown[] = [];
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const s = raw.trim();
    if (!s) continue;
    try {
      out.push(JSON.parse(s));
    } catch {
      throw new BadRequestException(`NDJSON line ${line} is not valid JSON`);
    }
  }
  if (out.length === 0) throw new BadRequestException('The NDJSON body holds no messages');
  return out;
}
