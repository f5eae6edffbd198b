// Consumer groups over HTTP, SQS / Pub/Sub style: workers of one group receive disjoint messages under leases
// and ack, nack or extend them; no joins or heartbeats. Thin: the engine's GroupRegistry does the work.
import { BadRequestException, Body, Controller, Get, HttpCode, Param, type PipeTransform, Post, Put, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiAuth } from '../auth/api-auth.decorator';
import { Requires } from '../auth/requires.decorator';
import { ErrorBody } from '../common/errors';
import { OffsetPipe, TopicNamePipe } from '../common/pipes/name.pipes';
import { announceWait, WAIT_MS_QUERY, WAIT_MS_USED_HEADER, WaitMsPipe } from '../common/pipes/wait-ms.pipe';
import { assertGroupName } from '../storage/consumer-groups';
import { StorageError } from '../storage/errors';
import {
  ConfigureGroupBody,
  ExtendBody,
  GROUP_LIMITS,
  GroupListResponse,
  GroupResponse,
  LeaseIdsBody,
  type LeaseResultResponse,
  LeaseResultsResponse,
  NackBody,
  ReceiveResponse,
  RedriveBody,
  RedriveResponse,
} from './group.dto';
import { GroupsService } from './groups.service';

const TOPIC = { name: 'topic', description: 'Topic name: [A-Za-z0-9._-]{1,249}', example: 'orders' };
const GROUP = { name: 'group', description: 'Consumer group: [A-Za-z0-9._:@-]{1,255}', example: 'billing' };
const SETTLE_207 = { status: 207, type: LeaseResultsResponse, description: 'Several lease ids and some failed: see each status' };
const SETTLE_409 = {
  type: ErrorBody,
  description:
    'A single lease id that is no longer current (LEASE_EXPIRED); or, with several broker replicas, a lease another replica issued (LEASE_UNKNOWN_TO_REPLICA: nothing settled, send it to that replica)',
};

class GroupNamePipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    try {
      assertGroupName(value as string);
    } catch (err) {
      if (err instanceof StorageError) throw new BadRequestException(err.message);
      throw err;
    }
    return value as string;
  }
}

@ApiTags('groups')
@ApiAuth()
@Controller('topics/:topic/groups')
@ApiParam(TOPIC)
@ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid name, number or body' })
@ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic (or group, for routes that need one)' })
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  /** Every consumer group of the topic with its settings, committed offsets, lag and leases. */
  @Get()
  @ApiOperation({ operationId: 'listGroups' })
  @Requires('consume')
  @ApiOkResponse({ type: GroupListResponse })
  async list(@Param('topic', TopicNamePipe) topic: string): Promise<GroupListResponse> {
    return { groups: await this.groups.list(topic) };
  }

  /**
   * Creates a consumer group or changes its settings (durable on return). Groups are also created with the
   * defaults by their first receive. 201 when created, 200 when it existed.
   */
  @Put(':group')
  @ApiOperation({ operationId: 'configureGroup' })
  @Requires('admin')
  @ApiParam(GROUP)
  @ApiBody({ type: ConfigureGroupBody })
  @ApiOkResponse({ type: GroupResponse, description: 'Settings changed' })
  @ApiCreatedResponse({ type: GroupResponse, description: 'Group created' })
  @ApiConflictResponse({ type: ErrorBody, description: 'The topic has too many groups' })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Could not store the settings; retry' })
  async configure(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('group', GroupNamePipe) group: string,
    @Body() body: ConfigureGroupBody,
    @Res({ passthrough: true }) res: Response,
  ): Promise<GroupResponse> {
    const r = await this.groups.configure(topic, group, {
      maxDeliveries: body.max_deliveries,
      perKeyOrdering: body.per_key_ordering,
      deadLetterTopic: body.dead_letter_topic,
      leaseMs: body.lease_ms,
    });
    res.status(r.created ? 201 : 200);
    return r.group;
  }

  /** A group's settings and, per partition, its committed offset, lag, leases in flight and dead letters. */
  @Get(':group')
  @ApiOperation({ operationId: 'getGroup' })
  @Requires('consume')
  @ApiParam(GROUP)
  @ApiOkResponse({ type: GroupResponse })
  describe(@Param('topic', TopicNamePipe) topic: string, @Param('group', GroupNamePipe) group: string): Promise<GroupResponse> {
    return this.groups.describe(topic, group);
  }

  /**
   * Leases up to `max` messages to this worker: each goes to one worker of the group at a time, until acked,
   * nacked, or its lease (`lease_ms`) expires and it is handed out again. With `wait_ms` the request waits (up
   * to MAX_WAIT_MS) for messages to arrive or come due; 200 with an empty list when none did. Creates the group
   * with default settings on first use.
   */
  @Get(':group/messages')
  @ApiOperation({ operationId: 'receiveGroupMessages' })
  @Requires('consume')
  @ApiParam(GROUP)
  @ApiQuery({ name: 'max', required: false, schema: { type: 'integer', minimum: 1, maximum: GROUP_LIMITS.maxReceive, default: 10 } })
  @ApiQuery(WAIT_MS_QUERY)
  @ApiQuery({ name: 'lease_ms', required: false, description: "Lease length (default: the group's lease_ms)", schema: { type: 'integer', minimum: 1, maximum: GROUP_LIMITS.maxLeaseMs } })
  @ApiQuery({ name: 'partition', required: false, description: 'Only this partition (default: all)', schema: { type: 'integer', minimum: 0 } })
  @ApiOkResponse({ type: ReceiveResponse, description: 'Leased messages (possibly none)', headers: WAIT_MS_USED_HEADER })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Could not store the leases, or too many waiting receives; retry' })
  receive(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('group', GroupNamePipe) group: string,
    @Query('max', new OffsetPipe('max', 10, GROUP_LIMITS.maxReceive)) max: number,
    @Query('wait_ms', WaitMsPipe) waitMs: number,
    @Query('lease_ms', new OffsetPipe('lease_ms', -1, GROUP_LIMITS.maxLeaseMs)) leaseMs: number,
    @Query('partition', new OffsetPipe('partition', -1, 1023)) partition: number,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ReceiveResponse> {
    announceWait(res, waitMs);
    return this.groups.receive(topic, group, {
      max: Math.max(1, max),
      waitMs,
      leaseMs: leaseMs < 0 ? undefined : Math.max(1, leaseMs),
      partition: partition < 0 ? undefined : partition,
    });
  }

  /**
   * Acknowledges messages: each is settled for the group and never handed out again. Durable on return. A
   * retried ack of a settled lease answers `already_acked`; a lease that expired and was handed to another
   * worker answers `lease_expired` (409 when it is the only lease id).
   */
  @Post(':group/ack')
  @HttpCode(200)
  @ApiOperation({ operationId: 'ackGroupMessages' })
  @Requires('consume')
  @ApiParam(GROUP)
  @ApiBody({ type: LeaseIdsBody })
  @ApiOkResponse({ type: LeaseResultsResponse, description: 'Every lease acked (or already acked)' })
  @ApiResponse(SETTLE_207)
  @ApiConflictResponse(SETTLE_409)
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Could not store the acks; retry' })
  async ack(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('group', GroupNamePipe) group: string,
    @Body() body: LeaseIdsBody,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LeaseResultsResponse> {
    return answer(await this.groups.ack(topic, group, body.lease_ids), res);
  }

  /**
   * Gives messages back: they are handed out again, at once or after `delay_ms`. A message nacked on its
   * max_deliveries-th delivery goes to the dead-letter topic instead (`dead_lettered`).
   */
  @Post(':group/nack')
  @HttpCode(200)
  @ApiOperation({ operationId: 'nackGroupMessages' })
  @Requires('consume')
  @ApiParam(GROUP)
  @ApiBody({ type: NackBody })
  @ApiOkResponse({ type: LeaseResultsResponse, description: 'Every lease released (or dead-lettered)' })
  @ApiResponse(SETTLE_207)
  @ApiConflictResponse(SETTLE_409)
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Could not store the change or write the dead letter; retry' })
  async nack(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('group', GroupNamePipe) group: string,
    @Body() body: NackBody,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LeaseResultsResponse> {
    return answer(await this.groups.nack(topic, group, body.lease_ids, body.delay_ms ?? 0), res);
  }

  /** Renews leases: each now ends `lease_ms` from now. A lease that already expired cannot be extended. */
  @Post(':group/extend')
  @HttpCode(200)
  @ApiOperation({ operationId: 'extendGroupLeases' })
  @Requires('consume')
  @ApiParam(GROUP)
  @ApiBody({ type: ExtendBody })
  @ApiOkResponse({ type: LeaseResultsResponse, description: 'Every lease extended' })
  @ApiResponse(SETTLE_207)
  @ApiConflictResponse(SETTLE_409)
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Could not store the change; retry' })
  async extend(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('group', GroupNamePipe) group: string,
    @Body() body: ExtendBody,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LeaseResultsResponse> {
    return answer(await this.groups.extend(topic, group, body.lease_ids, body.lease_ms), res);
  }

  /**
   * Moves up to `max` of this group's dead letters from its dead-letter topic back into the topic (same
   * partition, key and headers, minus the x-dlq- ones), where every group and consumer sees them again. A
   * redrive cursor on the dead-letter topic makes each dead letter go back once.
   */
  @Post(':group/redrive')
  @HttpCode(200)
  @ApiOperation({ operationId: 'redriveDeadLetters' })
  @Requires('admin')
  @ApiParam(GROUP)
  @ApiBody({ type: RedriveBody, required: false })
  @ApiOkResponse({ type: RedriveResponse })
  @ApiServiceUnavailableResponse({ type: ErrorBody, description: 'Could not write; retry' })
  redrive(
    @Param('topic', TopicNamePipe) topic: string,
    @Param('group', GroupNamePipe) group: string,
    @Body() body: RedriveBody,
  ): Promise<RedriveResponse> {
    return this.groups.redrive(topic, group, body?.max ?? 1000);
  }
}

const SUCCESS = new Set(['acked', 'already_acked', 'ok', 'dead_lettered']);

/** 200 when every lease succeeded; a single failed lease is its error; several with some failed are a 207. */
function answer(results: LeaseResultResponse[], res: Response): LeaseResultsResponse {
  const failed = results.filter((r) => !SUCCESS.has(r.status));
  if (failed.length === 0) return { results };
  if (results.length === 1) {
    const r = failed[0];
    if (r.status === 'invalid_lease') throw new StorageError('INVALID_LEASE', 'Invalid lease id: use a lease_id from a receive');
    throw new StorageError('LEASE_EXPIRED', 'The lease is no longer current: it expired and the message was handed out again, or was settled otherwise');
  }
  res.status(207);
  return { results };
}
