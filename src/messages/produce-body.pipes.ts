// Hand-written validation for the produce routes, the hottest paths of the broker.
//
// They accept exactly what the ProduceBody / ProduceBatchBody DTOs document (and reject unknown properties,
// like the global ValidationPipe with whitelist + forbidNonWhitelisted), but with plain typeof checks:
// class-transformer + class-validator cost more per request than storing the message does, and for a
// 10,000-message batch they cost seconds. The DTO classes stay the single source of the OpenAPI schema.
import { BadRequestException, type PipeTransform } from '@nestjs/common';

export interface ProduceInput {
  message?: string;
}

export interface BatchInput {
  messages: Array<{ message: string }>;
}

export class ProduceBodyPipe implements PipeTransform<unknown, ProduceInput> {
  transform(body: unknown): ProduceInput {
    if (body === undefined || body === null) return {};
    if (typeof body !== 'object' || Array.isArray(body)) throw new BadRequestException('The body must be a JSON object');
    for (const key in body) {
      if (key !== 'message') throw new BadRequestException(`property ${key} should not exist`);
    }
    const message = (body as ProduceInput).message;
    if (message !== undefined && typeof message !== 'string') throw new BadRequestException('message must be a string');
    return body as ProduceInput;
  }
}

/** The batch's size limit (MAX_BATCH_MESSAGES, 413) is the engine's to enforce, like every other limit. */
export class ProduceBatchBodyPipe implements PipeTransform<unknown, BatchInput> {
  transform(body: unknown): BatchInput {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestException('The body must be a JSON object {"messages": [{"message": "..."}]}');
    }
    for (const key in body) {
      if (key !== 'messages') throw new BadRequestException(`property ${key} should not exist`);
    }
    const messages = (body as BatchInput).messages;
    if (!Array.isArray(messages) || messages.length === 0) throw new BadRequestException('messages must be a non-empty array');
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (typeof m !== 'object' || m === null || typeof m.message !== 'string') {
        throw new BadRequestException(`messages.${i}.message must be a string`);
      }
      for (const key in m) {
        if (key !== 'message') throw new BadRequestException(`messages.${i}.property ${key} should not exist`);
      }
    }
    return body as BatchInput;
  }
}
