// The global ValidationPipe with a bound on how deeply a validated body may nest: class-transformer walks a
// body recursively, so a few KiB of `[[[[...]]]]` overflowed the stack and answered 500 instead of 400.
import { type ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';

/** Far deeper than any DTO of this API nests. */
export const MAX_BODY_DEPTH = 32;

export class BoundedValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Only bodies this pipe validates (DTO classes): the produce routes check their bodies by hand.
    if (metadata.type === 'body' && this.toValidate(metadata) && nestsDeeperThan(value, MAX_BODY_DEPTH)) {
      throw new BadRequestException(`The request body nests deeper than ${MAX_BODY_DEPTH} levels`);
    }
    return super.transform(value, metadata);
  }
}

function nestsDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  for (const key in value) {
    if (nestsDeeperThan((value as Record<string, unknown>)[key], levels - 1)) return true;
  }
  return false;
}
