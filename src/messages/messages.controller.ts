// Produce, poll, fetch and ack (the seed's routes plus batches), and the consumer cursor routes.
import { BadRequestException, Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiOkResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Requires } from '../auth/requires.decorator';
import { ApiAuth } from '../auth/api-auth.decorator';
import { ErrorBody, NoNewMessages } from '../common/errors';
import { ConsumerIdPipe, OffsetPipe, TopicNamePipe } from '../common/pipes/name.pipes';
import { MessagesService } from './messages.service';
import { type BatchInput, ProduceBatchBodyPipe, ProduceBodyPipe, type ProduceInput } from './produce-body.pipes';
import {
  AckResponse,
  ConsumerListResponse,
  CursorResponse,
  FetchResponse,
  PolledMessage,
  ProduceBatchBody,
  ProduceBatchResponse,
  ProduceBody,
  ProduceResponse,
  SeekBody,
} from './message.dto';

const TOPIC = { name: 'topic', description: 'Topic name: [A-Za-z0-9._-]{1,249}', example: 'my-topic' };
const CONSUMER_Q = { name: 'consumer_id', description: 'Consumer id: [A-Za-z0-9._:@-]{1,255}', example: 'my-consumer' };
const PARTITION_Q = { name: 'partition', required: false, description: 'Partition (default 0)', schema: { type: 'integer', minimum: 0, default: 0 } };

@ApiTags('messages')
@ApiAuth()
@Controller('topics/:topic')
@ApiParam(TOPIC)
@ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid name, number or body' })
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  /**
   * Appends one message (the seed's produce). The text comes from the `message` query parameter or a JSON
   * body `{"message": ...}`. Answered once the message is durable (FSYNC). Auto-creates the topic unless
   * AUTO_CREATE_TOPICS=false.
   */
  @Post('messages')
  @HttpCode(200)
  @ApiOperation({ operationId: 'produceMessage' })
  @Requires('produce')
  @ApiBody({ type: ProduceBody, required: false })
  @ApiOkResponse({ type: ProduceResponse, description: 'Stored (durable per FSYNC)' })
  @ApiQuery({ name: 'message', required: false, description: 'The message text (seed style)', example: 'Hello, Mini Kafka!' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'Topic missing and AUTO_CREATE_TOPICS=false' })
  @ApiPayloadTooLargeResponse({ type: ErrorBody, description: 'Message larger than MAX_MESSAGE_BYTES' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Disk full, write error or back-pressure; retry after Retry-After' })
  produce(
    @Param('topic', TopicNamePipe) topic: string,
    @Query('message') message: unknown,
    @Body(ProduceBodyPipe) body: ProduceInput,
  ): Promise<ProduceResponse> {
    const text = body?.message ?? message;
    if (typeof text !== 'string') {
      throw new BadRequestException('message is required: a `message` query parameter or a JSON body {"message": "..."}');
    }
    return this.messages.produce(topic, text);
  }

  /** Appends many messages with one write and one fsync; answers every message's offset. */
  @Post('messages/batch')
  @HttpCode(200)
  @ApiOperation({ operationId: 'produceBatch' })
  @Requires('produce')
  @ApiBody({ type: ProduceBatchBody })
  @ApiOkResponse({ type: ProduceBatchResponse, description: 'All stored with one write and one fsync' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'Topic missing and AUTO_CREATE_TOPICS=false' })
  @ApiPayloadTooLargeResponse({ type: ErrorBody, description: 'A message or the batch is too large' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Disk full, write error or back-pressure' })
  produceBatch(
    @Param('topic', TopicNamePipe) topic: string,
    @Body(ProduceBatchBodyPipe) body: BatchInput,
  ): Promise<ProduceBatchResponse> {
    return this.messages.produceBatch(topic, body.messages);
  }

  /**
   * The seed's poll: the first message at or after the consumer's committed cursor. Polling again without an
   * ack answers the same message. 404 `{"detail": "No new messages"}` when the consumer is caught up.
   */
  @Get('messages')
  @ApiOperation({ operationId: 'pollMessage' })
  @Requires('consume')
  @ApiOkResponse({ type: PolledMessage, description: 'The next message for this consumer' })
  @ApiQuery(CONSUMER_Q)
  @ApiQuery(PARTITION_Q)
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No new messages, or no such topic' })
  async poll(
    @Param('topic', TopicNamePipe) topic: string,
    @Query('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OffsetPipe('partition', 0, 1023)) partition: number,
  ): Promise<PolledMessage> {
    const m = await this.messages.poll(topic, consumerId, partition);
    if (!m) throw new NoNewMessages();
    return m;
  }

  /** Acknowledges a message: commits the consumer's cursor to message_id + 1 (never backwards). */
  @Post('messages/:message_id/ack')
  @HttpCode(200)
  @ApiOperation({ operationId: 'ackMessage' })
  @Requires('consume')
  @ApiOkResponse({ type: AckResponse, description: 'Cursor committed (durable)' })
  @ApiParam({ name: 'message_id', description: 'Offset of the message to acknowledge', schema: { type: 'integer', minimum: 0 } })
  @ApiQuery(CONSUMER_Q)
  @ApiQuery(PARTITION_Q)
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  @ApiConflictResponse({ type: ErrorBody, description: 'The offset was never produced' })
  async ack(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('message_id', new OffsetPipe('message_id')) messageId: number,
    @Query('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OffsetPipe('partition', 0, 1023)) partition: number,
  ): Promise<AckResponse> {
    await this.messages.ack(topic, consumerId, messageId, partition);
    return { status: 'ok' };
  }

  /** Reads from an offset without touching any cursor: up to `max` messages and about `max_bytes`. */
  @Get('partitions/:partition/messages')
  @ApiOperation({ operationId: 'fetchMessages' })
  @Requires('consume')
  @ApiOkResponse({ type: FetchResponse, description: 'Messages from the offset on (possibly none)' })
  @ApiParam({ name: 'partition', schema: { type: 'integer', minimum: 0 } })
  @ApiQuery({ name: 'from_offset', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiQuery({ name: 'max', required: false, schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } })
  @ApiQuery({ name: 'max_bytes', required: false, schema: { type: 'integer', minimum: 1, default: 1048576 } })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic or partition' })
  fetch(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('partition', new OffsetPipe('partition', undefined, 1023)) partition: number,
    @Query('from_offset', new OffsetPipe('from_offset', 0)) fromOffset: number,
    @Query('max', new OffsetPipe('max', 100, 10_000)) max: number,
    @Query('max_bytes', new OffsetPipe('max_bytes', 1024 * 1024, 64 * 1024 * 1024)) maxBytes: number,
  ): Promise<FetchResponse> {
    return this.messages.fetch(topic, partition, fromOffset, Math.max(max, 1), Math.max(maxBytes, 1));
  }

  /** Every consumer with a committed cursor on this topic. */
  @Get('consumers')
  @ApiOperation({ operationId: 'listConsumers' })
  @Requires('consume')
  @ApiOkResponse({ type: ConsumerListResponse, description: 'Committed cursors' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  consumers(@Param('topic', TopicNamePipe) topic: string): ConsumerListResponse {
    return { consumers: this.messages.consumers(topic) };
  }

  /** A consumer's committed offset and lag. */
  @Get('consumers/:consumer_id')
  @ApiOperation({ operationId: 'getCursor' })
  @Requires('consume')
  @ApiOkResponse({ type: CursorResponse, description: 'The cursor (a new consumer starts at the log start)' })
  @ApiParam({ name: 'consumer_id', example: 'my-consumer' })
  @ApiQuery(PARTITION_Q)
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  cursor(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OffsetPipe('partition', 0, 1023)) partition: number,
  ): CursorResponse {
    return this.messages.cursor(topic, consumerId, partition);
  }

  /** Seeks a consumer: to an offset, or to `beginning` / `end`. Moving backwards replays messages. */
  @Put('consumers/:consumer_id')
  @ApiOperation({ operationId: 'seekCursor' })
  @Requires('consume')
  @ApiOkResponse({ type: CursorResponse, description: 'The cursor after the seek (durable)' })
  @ApiParam({ name: 'consumer_id', example: 'my-consumer' })
  @ApiQuery(PARTITION_Q)
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  @ApiConflictResponse({ type: ErrorBody, description: 'Offset outside the log' })
  seek(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('consumer_id', ConsumerIdPipe) consumerId: string,
    @Query('partition', new OffsetPipe('partition', 0, 1023)) partition: number,
    @Body() body: SeekBody,
  ): Promise<CursorResponse> {
    const given = (body?.offset !== undefined ? 1 : 0) + (body?.position !== undefined ? 1 : 0);
    if (given !== 1) throw new BadRequestException('Give exactly one of `offset` (an integer) or `position` ("beginning" or "end")');
    return this.messages.seek(topic, consumerId, body.offset ?? body.position!, partition);
  }
}
