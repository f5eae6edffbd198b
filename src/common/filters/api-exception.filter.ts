// One exception filter for the whole API: domain errors, validation errors and framework errors all become
// JSON `{detail, code, status}` with the right status; nothing leaks a stack trace.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { resourceExhausted, StorageError, type StorageErrorCode } from '../../storage/errors';
import { NoNewMessages } from '../errors';
import { ThrottledWarning } from './throttled-warning';

const STATUS: Record<StorageErrorCode, number> = {
  INVALID_NAME: 400,
  TOPIC_NOT_FOUND: 404,
  TOPIC_EXISTS: 409,
  PARTITION_NOT_FOUND: 404,
  OFFSET_OUT_OF_RANGE: 409,
  MESSAGE_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  BACK_PRESSURE: 503,
  STORAGE_UNAVAILABLE: 503,
  CORRUPT_RECORD: 500,
  CLOSED: 503,
  GROUP_NOT_FOUND: 404,
  TOO_MANY_GROUPS: 409,
  LEASE_EXPIRED: 409,
  INVALID_LEASE: 400,
  IDEMPOTENCY_KEY_REUSED: 422,
};

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');
  /** Per error code: a full disk or back pressure answers every request with a 503 but logs once per window. */
  private readonly storageWarnings = new ThrottledWarning(10_000, (m) => this.logger.warn(m));

  catch(thrown: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    // A resource limit hit anywhere (EMFILE opening a file, a full disk met outside the log's write path, such as
    // topic metadata) is a 503 the client retries, logged once per window: never a 500 with a stack trace.
    const exception = resourceExhausted(thrown) ?? thrown;
    if (exception instanceof NoNewMessages) {
      res.status(404).json({ detail: 'No new messages' });
      return;
    }
    if (exception instanceof StorageError) {
      const status = STATUS[exception.code];
      if (exception.retryAfterSeconds) res.setHeader('Retry-After', String(exception.retryAfterSeconds));
      if (status >= 500) this.storageWarnings.warn(exception.code, `${exception.code}: ${exception.message}`);
      res.status(status).json({ detail: exception.message, code: exception.code, status });
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const code = CODE_BY_STATUS[status] ?? 'ERROR';
      if (typeof body === 'object' && body !== null && !('message' in body)) {
        // Structured bodies (health checks) keep their fields; `detail` is added so every error has one.
        res.status(status).json({ detail: status === 503 ? 'Service unavailable' : exception.message, code, ...body });
        return;
      }
      res.status(status).json({ detail: describeHttpException(exception), code, status });
      return;
    }
    // Errors thrown by body-parser before routing carry a status (400 bad JSON, 413 too large, 415 charset).
    const withStatus = exception as { status?: number; statusCode?: number; type?: string; message?: string };
    const parserStatus = withStatus?.status ?? withStatus?.statusCode;
    if (typeof parserStatus === 'number' && parserStatus >= 400 && parserStatus < 500) {
      res.status(parserStatus).json({ detail: describeParserError(withStatus), code: CODE_BY_STATUS[parserStatus] ?? 'BAD_REQUEST', status: parserStatus });
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    res.status(HttpStatus.INTERNAL_SERVER_ERROR).json({ detail: 'Internal server error', code: 'INTERNAL', status: 500 });
  }
}

function describeHttpException(e: HttpException): string {
  const body = e.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string') return message;
  return e.message;
}

function describeParserError(e: { type?: string; message?: string }): string {
  switch (e.type) {
    case 'entity.too.large':
      return 'Request body is larger than MAX_BODY_BYTES';
    case 'entity.parse.failed':
      return 'Request body is not valid JSON';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'Unsupported request body encoding';
    default:
      return e.message ?? 'Bad request';
  }
}
