// OpenAPI side of authentication: the two ways to send a key and the 401/403/429 answers every guarded route has.
import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiSecurity, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorBody } from '../common/errors';

export const API_KEY_SCHEME = 'api-key';
export const BEARER_SCHEME = 'bearer';

export const ApiAuth = () =>
  applyDecorators(
    ApiSecurity(API_KEY_SCHEME),
    ApiBearerAuth(BEARER_SCHEME),
    ApiUnauthorizedResponse({ type: ErrorBody, description: 'API keys are configured and none, or an unknown one, was sent' }),
    ApiForbiddenResponse({ type: ErrorBody, description: 'The key lacks the right for this action on this topic' }),
    ApiTooManyRequestsResponse({ type: ErrorBody, description: 'Rate limit for this key exceeded; retry after Retry-After' }),
  );
