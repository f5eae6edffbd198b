// The global ValidationPipe with a bound on how deeply a validated body may nest (class-transformer walks a
// body recursively, so a few KiB of `[[[[...]]]]` overflowed the stack and answered 500 instead of 400), and with
// one message per invalid field: `"partitions": "three"` broke three rules at once and the answer listed all three.
import { type ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

/** Far deeper than any DTO of this API nests. */
export const MAX_BODY_DEPTH = 32;

export class BoundedValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Parameters without a DTO class (strings, numbers, the produce routes' hand-checked bodies, headers) are
    // only converted, as ValidationPipe would, but answered as a plain value (Nest awaits whatever a pipe
    // returns): ValidationPipe's async transform cost two promises per parameter, and every route has several.
    if (!this.expectedType && !this.toValidate(metadata)) {
      return (this.isTransformEnabled ? this.transformPrimitive(value, metadata) : value) as Promise<unknown>;
    }
    // Only bodies this pipe validates (DTO classes) can nest.
    if (metadata.type === 'body' && nestsDeeperThan(value, MAX_BODY_DEPTH)) {
      return Promise.reject(new BadRequestException(`The request body nests deeper than ${MAX_BODY_DEPTH} levels`));
    }
    return super.transform(value, metadata);
  }

  protected override flattenValidationErrors(errors: ValidationError[]): string[] {
    return super.flattenValidationErrors(errors.map(firstRuleOnly));
  }
}

/** The rule a reader should fix first: the value's presence and type before its range or format. */
const FIRST_RULES = ['whitelistValidation', 'isDefined', 'isString', 'isInt', 'isNumber', 'isBoolean', 'isArray', 'isObject', 'isIn', 'isEnum'];

function firstRuleOnly(error: ValidationError): ValidationError {
  const children = error.children?.map(firstRuleOnly);
  const keys = Object.keys(error.constraints ?? {});
  const key = FIRST_RULES.find((k) => keys.includes(k)) ?? keys[0];
  const constraints = keys.length > 1 ? { [key]: error.constraints![key] } : error.constraints;
  return { ...error, children, constraints } as ValidationError;
}

function nestsDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  for (const key in value) {
    if (nestsDeeperThan((value as Record<string, unknown>)[key], levels - 1)) return true;
  }
  return false;
}
