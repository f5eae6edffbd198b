// GET /topics/{topic}/stream: live messages as Server-Sent Events. Parses the request, answers 4xx/503 as JSON
// before the stream begins, then hands the response to StreamService.
import { BadRequestException, Controller, Get, Headers, HttpException, Param, Query, Res } from '@nestjs/common';
import {
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiBadRequestResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiAuth } from '../auth/api-auth.decorator';
import { Requires } from '../auth/requires.decorator';
import { ErrorBody } from '../common/errors';
import { ConsumerIdPipe, OptionalIntPipe, TopicNamePipe } from '../common/pipes/name.pipes';
import { GroupsService } from '../groups/groups.service';
import { StreamService } from './stream.service';

const STREAM_FORMAT = [
  'An event stream (text/event-stream). Events:',
  '`ready` once at the start, data `{"topic", "positions": [{"partition", "offset"}], "heartbeat_ms"}`;',
  '`message` per message, data shaped like a fetched message `{"message_id", "partition", "data", "encoding", "timestamp", "key"?, "headers"?}`;',
  '`end` when the server ends the stream, data `{"reason"}` (shutdown, topic_deleted, ...).',
  'Every `ready` and `message` event has an id: the next offset of every partition of the stream, `partition:offset` pairs',
  '(e.g. `0:42,1:17`). Send the last one back as `Last-Event-ID` (EventSource does on reconnect) to resume with no gap and',
  'no duplicate. A comment line (`: heartbeat`) is sent after STREAM_HEARTBEAT_MS without traffic.',
].join(' ');

@ApiTags('messages')
@ApiAuth()
@Controller('topics/:topic')
@ApiParam({ name: 'topic', description: 'Topic name: [A-Za-z0-9._-]{1,249}', example: 'my-topic' })
export class StreamController {
  constructor(
    private readonly streams: StreamService,
    private readonly groups: GroupsService,
  ) {}

  /**
   * Live messages as Server-Sent Events, from the log end (default), `position=beginning`, `from_offset`, or a
   * consumer's committed cursor (`consumer_id`) or a consumer group's committed offsets (`group`) — read only, the
   * stream never commits or leases — on one `partition` or all.
   * A client that stops reading is dropped after STREAM_DRAIN_TIMEOUT_MS, never buffered; at most MAX_STREAMS are open.
   */
  @Get('stream')
  @ApiOperation({ operationId: 'streamMessages' })
  @Requires('consume')
  @ApiQuery({ name: 'partition', required: false, description: 'Only this partition (default: every partition, including ones added later)', schema: { type: 'integer', minimum: 0 } })
  @ApiQuery({ name: 'from_offset', required: false, description: 'Start every partition at this offset (kept inside the log)', schema: { type: 'integer', minimum: 0 } })
  @ApiQuery({ name: 'position', required: false, description: 'Start at the oldest stored message or at the log end (default)', schema: { type: 'string', enum: ['beginning', 'end'] } })
  @ApiQuery({ name: 'consumer_id', required: false, description: "Start at this consumer's committed cursor (the stream never commits)", schema: { type: 'string', example: 'my-consumer' } })
  @ApiQuery({ name: 'group', required: false, description: "Start at this consumer group's committed offsets (read only: no leases are taken)", schema: { type: 'string', example: 'workers' } })
  @ApiQuery({ name: 'last_event_id', required: false, description: 'Same as the Last-Event-ID header, for clients that cannot set it', schema: { type: 'string', example: '0:42,1:17' } })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id (partition:offset pairs); wins over the start parameters', schema: { type: 'string', example: '0:42,1:17' } })
  // Only the 200 is an event stream: every error before it begins is the usual JSON.
  @ApiOkResponse({ description: STREAM_FORMAT, content: { 'text/event-stream': { schema: { type: 'string' } } } })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid name, number, start or Last-Event-ID' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic or partition' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'MAX_STREAMS streams are open, or the broker is shutting down; retry after Retry-After' })
  async stream(
    @Param('topic', TopicNamePipe) topic: string,
    @Query('partition', new OptionalIntPipe('partition', 1023)) partition: number | undefined,
    @Query('from_offset', new OptionalIntPipe('from_offset')) fromOffset: number | undefined,
    @Query('position') position: unknown,
    @Query('consumer_id') consumerId: unknown,
    @Query('group') group: unknown,
    @Query('last_event_id') lastEventIdQuery: unknown,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    if (position !== undefined && position !== 'beginning' && position !== 'end') throw new BadRequestException('position must be "beginning" or "end"');
    if (lastEventIdQuery !== undefined && typeof lastEventIdQuery !== 'string') throw new BadRequestException('last_event_id must be given once');
    const request = {
      topic,
      partition,
      fromOffset,
      position: position as 'beginning' | 'end' | undefined,
      consumerId: consumerId === undefined ? undefined : new ConsumerIdPipe().transform(consumerId),
      groupOffsets: group === undefined ? undefined : await this.groupOffsets(topic, group),
      lastEventId: lastEventIdHeader ?? (lastEventIdQuery as string | undefined),
    };
    let slot: { release: () => void };
    try {
      slot = this.streams.admit();
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() === 503) res.setHeader('Retry-After', '1');
      throw err;
    }
    let plan;
    try {
      plan = await this.streams.plan(request);
    } catch (err) {
      slot.release();
      throw err;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store, no-transform');
    // Reverse proxies (nginx) would otherwise buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    await this.streams.serve(plan, res, slot);
  }

  /** A group's committed offset per partition (404 GROUP_NOT_FOUND for a group that does not exist). */
  private async groupOffsets(topic: string, group: unknown): Promise<Map<number, number>> {
    if (typeof group !== 'string') throw new BadRequestException('group must be given once');
    const view = await this.groups.registry.describe(topic, new ConsumerIdPipe().transform(group));
    return new Map(view.partitions.map((p) => [p.partition, p.committedOffset]));
  }
}
