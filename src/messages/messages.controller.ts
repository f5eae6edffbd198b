// Produce, poll, fetch and ack (the seed's routes plus keys, partitions, batches and long polling), and the
// consumer cursor routes. Thin: parsing and HTTP status here, the work in MessagesService.
import { BadRequestException, Body, Controller, Get, Headers, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiAuth } from '../auth/api-auth.decorator';
import { Requires } from '../auth/requires.decorator';
import { ErrorBody, NoNewMessages } from '../common/errors';
import { ConsumerIdPipe, OffsetPipe, OptionalIntPipe, TopicNamePipe } from '../common/pipes/name.pipes';
import { announceWait, WAIT_MS_QUERY, WAIT_MS_USED_HEADER, WaitMsPipe } from '../common/pipes/wait-ms.pipe';
import {
  AckResponse,
  CommitBody,
  ConsumerListResponse,
  CursorResponse,
  FetchResponse,
  MessageListResponse,
  PolledMessage,
  ProduceBatchBody,
  ProduceBatchResponse,
  ProduceBody,
  ProduceResponse,
  SeekBody,
} from './message.dto';
import type { ScannedBatch } from './batch-scan';
import { MessagesService } from './messages.service';
import { ProduceBatchBodyPipe, ProduceBodyPipe } from './produce-body.pipes';

const TOPIC = { name: 'topic', description: 'Topic name: [A-Za-z0-9._-]{1,249}', example: 'my-topic' };
const CONSUMER_Q = { name: 'consumer_id', description: 'Consumer id: [A-Za-z0-9._:@-]{1,255}', example: 'my-consumer' };
const PARTITION_Q = { name: 'partition', required: false, description: 'Partition (default: 0, or the whole topic where noted)', schema: { type: 'integer', minimum: 0 } };
const IDEMPOTENCY = {
  name: 'Idempotency-Key',
  required: false,
  description:
    'At most once per key: a retry with the same key (per topic, within IDEMPOTENCY_WINDOW_MS, across restarts and crashes) answers the ' +
    'original offsets with `Idempotent-Replayed: true` instead of writing again. The key is stored in the same record batch as the ' +
    'messages. A different request under a used key (another body, message keys, headers, timestamps or partition) is a 422.',
};

@ApiTags('messages')
@ApiAuth()
@Controller('topics/:topic')
@ApiParam(TOPIC)
@ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid name, number or body' })
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  /**
   * Appends one message (the seed's produce): `?message=TEXT`, or a JSON body with `message` (text) or
   * `value` (text, JSON or base64), optional `key`, `headers`, `timestamp`, `partition`. Answered once durable.
   */
  @Post('messages')
  @HttpCode(200)
  @ApiOperation({ operationId: 'produceMessage' })
  @Requires('produce')
  @ApiQuery({ name: 'message', required: false, type: String, description: 'The message text (seed style)', example: 'Hello, Mini Kafka!' })
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ type: ProduceBody, required: false })
  @ApiOkResponse({ type: ProduceResponse, description: 'Stored (durable per FSYNC)' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'Topic missing and AUTO_CREATE_TOPICS=false' })
  @ApiPayloadTooLargeResponse({ type: ErrorBody, description: 'Message larger than MAX_MESSAGE_BYTES' })
  @ApiUnprocessableEntityResponse({ type: ErrorBody, description: 'Idempotency-Key already used for a different request (IDEMPOTENCY_KEY_REUSED)' })
  @ApiResponse({ status: 414, type: ErrorBody, description: 'URL and headers over 16 KiB, usually a long ?message=: send it in a JSON body' })
  @ApiUnsupportedMediaTypeResponse({ type: ErrorBody, description: 'A body that is not application/json (the text can go in ?message= instead)' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Disk full, write error or back-pressure; retry after Retry-After' })
  async produce(
    @Param('topic', TopicNamePipe) topic: string,
    @Query('message') message: unknown,
    @Body(ProduceBodyPipe) body: Record<string, unknown>,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ProduceResponse> {
    const answer = await this.messages.produce(topic, message, body, idempotencyKey);
    if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return answer.body;
  }

  /**
   * Appends many messages, JSON `{"messages": [...]}` or NDJSON (application/x-ndjson, one message per line):
   * one write and one fsync per partition. 200 when all are stored; 207 when some were invalid (those are
   * reported per message, the valid ones are stored).
   */
  @Post('messages/batch')
  @HttpCode(200)
  @ApiOperation({ operationId: 'produceBatch' })
  @Requires('produce')
  @ApiQuery(PARTITION_Q)
  @ApiHeader(IDEMPOTENCY)
  @ApiBody({ type: ProduceBatchBody })
  @ApiOkResponse({ type: ProduceBatchResponse, description: 'All stored' })
  @ApiResponse({ status: 207, type: ProduceBatchResponse, description: 'Some messages were invalid: see results; the others are stored' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'Topic missing and AUTO_CREATE_TOPICS=false' })
  @ApiPayloadTooLargeResponse({ type: ErrorBody, description: 'More than MAX_BATCH_MESSAGES, or the body is too large' })
  @ApiUnprocessableEntityResponse({ type: ErrorBody, description: 'Idempotency-Key already used for a different request (IDEMPOTENCY_KEY_REUSED)' })
  @ApiUnsupportedMediaTypeResponse({ type: ErrorBody, description: 'A body that is neither application/json nor application/x-ndjson' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Disk full, write error or back-pressure' })
  async produceBatch(
    @Param('topic', TopicNamePipe) topic: string,
    @Query('partition', new OptionalIntPipe('partition', 1023)) partition: number | undefined,
    @Body(ProduceBatchBodyPipe) messages: unknown[] | ScannedBatch,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ProduceBatchResponse> {
    const answer = await this.messages.produceBatch(topic, messages, partition, idempotencyKey);
    if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(answer.status);
    return answer.body;
  }

  /**
   * The seed's poll: the first message at or after the consumer's committed cursor (on `partition`, or the
   * whole topic). Polling again without an ack answers the same message. 404 `{"detail": "No new messages"}`
   * when caught up (after waiting up to `wait_ms`).
   */
  @Get('messages')
  @ApiOperation({ operationId: 'pollMessage' })
  @Requires('consume')
  @ApiQuery(CONSUMER_Q)
  @ApiQuery(PARTITION_Q)
  @ApiQuery(WAIT_MS_QUERY)
  @ApiOkResponse({ type: PolledMessage, description: 'The next message for this consumer (the seed shape)', headers: WAIT_MS_USED_HEADER })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No new messages, or no such topic', headers: WAIT_MS_USED_HEADER })
  async poll(
    @Param('topic', TopicNamePipe) topic: string,
    @Query('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OptionalIntPipe('partition', 1023)) partition: number | undefined,
    @Query('wait_ms', WaitMsPipe) waitMs: number,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PolledMessage> {
    announceWait(res, waitMs);
    const m = await this.messages.poll(topic, consumerId, partition, waitMs);
    if (!m) throw new NoNewMessages();
    return m;
  }

  /** Acknowledges a message: commits the consumer's cursor to message_id + 1 (never backwards). */
  @Post('messages/:message_id/ack')
  @HttpCode(200)
  @ApiOperation({ operationId: 'ackMessage' })
  @Requires('consume')
  @ApiParam({ name: 'message_id', description: 'Offset of the message to acknowledge', schema: { type: 'integer', minimum: 0 } })
  @ApiQuery(CONSUMER_Q)
  @ApiQuery({ ...PARTITION_Q, description: 'Partition of the message (required on topics with several)' })
  @ApiOkResponse({ type: AckResponse, description: 'Cursor committed (durable)' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  @ApiConflictResponse({ type: ErrorBody, description: 'The offset was never produced' })
  async ack(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('message_id', new OffsetPipe('message_id')) messageId: number,
    @Query('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OptionalIntPipe('partition', 1023)) partition: number | undefined,
  ): Promise<AckResponse> {
    await this.messages.ack(topic, consumerId, messageId, this.messages.resolveAckPartition(topic, partition));
    return { status: 'ok' };
  }

  /**
   * Reads from an offset without touching any cursor: up to `max` messages and about `max_bytes`, waiting up to
   * `wait_ms` when there are none yet. `Accept: application/x-ndjson` streams one message per line.
   */
  @Get('partitions/:partition/messages')
  @ApiOperation({ operationId: 'fetchMessages' })
  @Requires('consume')
  @ApiParam({ name: 'partition', schema: { type: 'integer', minimum: 0 } })
  @ApiQuery({ name: 'from_offset', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiQuery({ name: 'max', required: false, schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } })
  @ApiQuery({ name: 'max_bytes', required: false, schema: { type: 'integer', minimum: 1, default: 1048576 } })
  @ApiQuery(WAIT_MS_QUERY)
  @ApiProduces('application/json', 'application/x-ndjson')
  @ApiOkResponse({ type: FetchResponse, description: 'Messages from the offset on (possibly none)', headers: WAIT_MS_USED_HEADER })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic or partition' })
  async fetch(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('partition', new OffsetPipe('partition', undefined, 1023)) partition: number,
    @Query('from_offset', new OffsetPipe('from_offset', 0)) fromOffset: number,
    @Query('max', new OffsetPipe('max', 100, 10_000)) max: number,
    @Query('max_bytes', new OffsetPipe('max_bytes', 1024 * 1024, 64 * 1024 * 1024)) maxBytes: number,
    @Query('wait_ms', WaitMsPipe) waitMs: number,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FetchResponse | void> {
    announceWait(res, waitMs);
    const page = await this.messages.fetch(topic, partition, fromOffset, Math.max(max, 1), Math.max(maxBytes, 1), waitMs);
    if (accept?.includes('application/x-ndjson')) {
      res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
      res.setHeader('X-Next-Offset', String(page.next_offset));
      res.setHeader('X-End-Offset', String(page.end_offset));
      let text = '';
      for (const m of page.messages) text += JSON.stringify(m) + '\n';
      res.send(text);
      return;
    }
    return page;
  }

  /**
   * Batch poll for a consumer: up to `max` messages from its committed cursor (on `partition`, or the first
   * partition of the topic with news), long-polling up to `wait_ms`. Commit with the commit route.
   */
  @Get('consumers/:consumer_id/messages')
  @ApiOperation({ operationId: 'pollMessages' })
  @Requires('consume')
  @ApiParam({ name: 'consumer_id', example: 'my-consumer' })
  @ApiQuery(PARTITION_Q)
  @ApiQuery({ name: 'max', required: false, schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } })
  @ApiQuery({ name: 'max_bytes', required: false, schema: { type: 'integer', minimum: 1, default: 1048576 } })
  @ApiQuery(WAIT_MS_QUERY)
  @ApiOkResponse({ type: MessageListResponse, description: 'Messages (an empty list when none arrived in time)', headers: WAIT_MS_USED_HEADER })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  async pollMany(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OptionalIntPipe('partition', 1023)) partition: number | undefined,
    @Query('max', new OffsetPipe('max', 100, 10_000)) max: number,
    @Query('max_bytes', new OffsetPipe('max_bytes', 1024 * 1024, 64 * 1024 * 1024)) maxBytes: number,
    @Query('wait_ms', WaitMsPipe) waitMs: number,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MessageListResponse> {
    announceWait(res, waitMs);
    return { messages: await this.messages.pollMany(topic, consumerId, partition, Math.max(max, 1), Math.max(maxBytes, 1), waitMs) };
  }

  /** Batch ack: commits the consumer's cursor past `offset` on `partition` (never backwards). */
  @Post('consumers/:consumer_id/commit')
  @HttpCode(200)
  @ApiOperation({ operationId: 'commitCursor' })
  @Requires('consume')
  @ApiParam({ name: 'consumer_id', example: 'my-consumer' })
  @ApiOkResponse({ type: CursorResponse, description: 'The cursor after the commit (durable)' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  @ApiConflictResponse({ type: ErrorBody, description: 'The offset was never produced' })
  async commit(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('consumer_id', ConsumerIdPipe) consumerId: string,
    @Body() body: CommitBody,
  ): Promise<CursorResponse> {
    return this.messages.commit(topic, consumerId, body.offset, body.partition ?? 0);
  }

  /** Every consumer with a committed cursor on this topic. */
  @Get('consumers')
  @ApiOperation({ operationId: 'listConsumers' })
  @Requires('consume')
  @ApiOkResponse({ type: ConsumerListResponse, description: 'Committed cursors' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  async consumers(@Param('topic', TopicNamePipe) topic: string): Promise<ConsumerListResponse> {
    return { consumers: await this.messages.consumers(topic) };
  }

  /** A consumer's committed offset and lag on one partition. */
  @Get('consumers/:consumer_id')
  @ApiOperation({ operationId: 'getCursor' })
  @Requires('consume')
  @ApiParam({ name: 'consumer_id', example: 'my-consumer' })
  @ApiQuery(PARTITION_Q)
  @ApiOkResponse({ type: CursorResponse, description: 'The cursor (a new consumer starts at the log start)' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  cursor(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OffsetPipe('partition', 0, 1023)) partition: number,
  ): Promise<CursorResponse> {
    return this.messages.cursor(topic, consumerId, partition);
  }

  /** Seeks a consumer: to an offset, `beginning` / `end`, or the first message at or after a timestamp. */
  @Put('consumers/:consumer_id')
  @ApiOperation({ operationId: 'seekCursor' })
  @Requires('consume')
  @ApiParam({ name: 'consumer_id', example: 'my-consumer' })
  @ApiQuery(PARTITION_Q)
  @ApiOkResponse({ type: CursorResponse, description: 'The cursor after the seek (durable)' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  @ApiConflictResponse({ type: ErrorBody, description: 'Offset outside the log' })
  seek(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OffsetPipe('partition', 0, 1023)) partition: number,
    @Body() body: SeekBody,
  ): Promise<CursorResponse> {
    // null counts as not given (as for @IsOptional), or {"offset": null} would seek to nowhere.
    const given = [body?.offset, body?.position, body?.timestamp].filter((x) => x != null).length;
    if (given !== 1) {
      throw new BadRequestException('Give exactly one of `offset` (an integer), `position` ("beginning" or "end") or `timestamp` (ms since the epoch)');
    }
    const target = body.offset ?? body.position ?? { timestamp: body.timestamp! };
    return this.messages.seek(topic, consumerId, target, partition);
  }
}

