// The committed openapi.yaml is this exact serialization of the document, so drift checks compare bytes.
import { dump } from 'js-yaml';
import type { OpenAPIObject } from '@nestjs/swagger';

export function toYaml(document: OpenAPIObject): string {
  return dump(document, { noRefs: true, lineWidth: 120, sortKeys: false });
}
