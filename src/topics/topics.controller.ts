// Topic administration: create (seed route and JSON), list, describe, delete.
import { BadRequestException, Body, ConflictException, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res, type PipeTransform } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthenticatedRequest } from '../auth/auth.guard';
import { Requires } from '../auth/requires.decorator';
import { ApiAuth } from '../auth/api-auth.decorator';
import { ErrorBody } from '../common/errors';
import { OptionalIntPipe, TopicNamePipe } from '../common/pipes/name.pipes';
import type { TopicInfo } from '../storage/broker';
import { StorageService } from '../storage/storage.service';
import {
  CreateTopicBody,
  CreateTopicOptions,
  CreateTopicResponse,
  DeleteTopicResponse,
  TopicExistsError,
  TopicListResponse,
  TopicView,
  toTopicView,
  UpdateTopicBody,
} from './topic.dto';

/** Most topics one page of GET /topics holds. */
const MAX_TOPICS_PAGE = 10_000;

/** `prefix` and `after` of the topic list: characters of topic names, up to a topic name's length. */
class TopicNamePartPipe implements PipeTransform<unknown, string | undefined> {
  constructor(private readonly what: string) {}

  transform(value: unknown): string | undefined {
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(value)) {
      throw new BadRequestException(`${this.what} must be 1 to 249 characters of [A-Za-z0-9._-] (the characters of topic names)`);
    }
    return value;
  }
}

class TopicPageLimitPipe implements PipeTransform<unknown, number | undefined> {
  private readonly inner = new OptionalIntPipe('limit', MAX_TOPICS_PAGE);

  transform(value: unknown): number | undefined {
    const n = this.inner.transform(value);
    if (n === 0) throw new BadRequestException(`limit must be an integer from 1 to ${MAX_TOPICS_PAGE}`);
    return n;
  }
}

const TOPIC_PARAM = { name: 'topic', description: 'Topic name: [A-Za-z0-9._-]{1,249}, not "." or ".."', example: 'my-topic' };

@ApiTags('topics')
@ApiAuth()
@Controller('topics')
export class TopicsController {
  constructor(private readonly storage: StorageService) {}

  /**
   * Creates a topic from a JSON body. Answers 201 when created, 200 when it already exists with the settings
   * asked for, 409 (with the existing topic) when it exists with another partition count or retention: like
   * Kafka's TOPIC_ALREADY_EXISTS, a create never changes a topic. Settings left out are not compared.
   */
  @Post()
  @ApiOperation({ operationId: 'createTopic' })
  @Requires('admin')
  @ApiCreatedResponse({ type: CreateTopicResponse, description: 'Created' })
  @ApiOkResponse({ type: CreateTopicResponse, description: 'Already existed with these settings (status "exists")' })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid name or partition count' })
  @ApiConflictResponse({ type: TopicExistsError, description: 'Exists with other settings (the body names the topic as it is)' })
  async create(@Body() body: CreateTopicBody, @Res({ passthrough: true }) res: Response): Promise<CreateTopicResponse> {
    const { created, topic } = await this.storage.broker.createTopic(new TopicNamePipe().transform(body.name), body.partitions ?? 1, {
      retentionMs: body.retention_ms,
      retentionBytes: body.retention_bytes,
    });
    if (!created) refuseOtherSettings(topic, body);
    res.status(created ? 201 : 200);
    return { status: created ? 'created' : 'exists', topic: toTopicView(topic) };
  }

  /**
   * Lists topics with their message counts, in name order: every topic by default, or a page of them. `prefix`
   * keeps names that start with it; `limit` caps the page, and when more topics follow, the answer's `next`
   * is the `after` to send for the next page (also in a `Link: <...>; rel="next"` header).
   */
  @Get()
  @ApiOperation({ operationId: 'listTopics' })
  @Requires('authenticated')
  // Listed last to first: the document shows prefix, after, limit.
  @ApiQuery({ name: 'limit', required: false, description: 'At most this many topics; all when absent', schema: { type: 'integer', minimum: 1, maximum: MAX_TOPICS_PAGE } })
  @ApiQuery({ name: 'after', required: false, type: String, description: "Only topics after this name in list order (a page's `next`)" })
  @ApiQuery({ name: 'prefix', required: false, type: String, description: 'Only topics whose name starts with this', example: 'orders.' })
  @ApiOkResponse({ type: TopicListResponse, description: 'The topics asked for, and `next` when more follow' })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid prefix, after or limit' })
  list(
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
    @Query('prefix', new TopicNamePartPipe('prefix')) prefix: string | undefined,
    @Query('after', new TopicNamePartPipe('after')) after: string | undefined,
    @Query('limit', new TopicPageLimitPipe()) limit: number | undefined,
  ): TopicListResponse {
    // With auth on, a key sees only the topics it has some right on (filtered before the limit: pages stay full).
    const key = req.apiKey;
    const visible = key ? (name: string) => key.canSee(name) : undefined;
    // One more than the page: whether another page follows is known without a second pass.
    const names = this.storage.broker.listTopicNames({ prefix, after, limit: limit === undefined ? undefined : limit + 1, visible });
    const more = limit !== undefined && names.length > limit;
    if (more) names.length = limit;
    const topics = names.map((name) => toTopicView(this.storage.broker.describeTopic(name)));
    if (!more) return { topics };
    const next = names[names.length - 1];
    const query = new URLSearchParams({ ...(prefix ? { prefix } : {}), after: next, limit: String(limit) });
    res.setHeader('Link', `</topics?${query}>; rel="next"`);
    return { topics, next };
  }

  /**
   * The seed's create route: creates the topic if needed (idempotent without a body). A `partitions` that differs
   * from an existing topic's count is a 409, as on `POST /topics`.
   */
  @Post(':topic/create')
  @HttpCode(200)
  @ApiOperation({ operationId: 'createTopicByName' })
  @Requires('admin')
  @ApiParam(TOPIC_PARAM)
  @ApiBody({ type: CreateTopicOptions, required: false })
  @ApiOkResponse({ type: CreateTopicResponse, description: 'Created, or already there (status "exists")' })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid topic name' })
  @ApiConflictResponse({ type: TopicExistsError, description: 'Exists with another partition count (the body names the topic as it is)' })
  async createByName(
    @Param('topic', TopicNamePipe) topic: string,
    @Body() options: CreateTopicOptions,
  ): Promise<CreateTopicResponse> {
    const { created, topic: info } = await this.storage.broker.createTopic(topic, options?.partitions ?? 1);
    if (!created) refuseOtherSettings(info, options ?? {});
    return { status: created ? 'created' : 'exists', topic: toTopicView(info) };
  }

  /** First and next offset, size on disk and segment count, per partition. */
  @Get(':topic')
  @ApiOperation({ operationId: 'describeTopic' })
  @Requires('visible')
  @ApiOkResponse({ type: TopicView, description: 'The topic' })
  @ApiParam(TOPIC_PARAM)
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid topic name' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  async describe(@Param('topic', TopicNamePipe) topic: string): Promise<TopicView> {
    await this.storage.syncViews(topic);
    return toTopicView(this.storage.broker.describeTopic(topic));
  }

  /** Adds partitions (never removes them): keyed messages then spread over the new count. */
  @Patch(':topic')
  @ApiOperation({ operationId: 'updateTopic' })
  @Requires('admin')
  @ApiParam(TOPIC_PARAM)
  @ApiOkResponse({ type: TopicView, description: 'The topic with its new partitions' })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid name or partition count' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  @ApiConflictResponse({ type: ErrorBody, description: 'Fewer partitions than the topic has' })
  async update(@Param('topic', TopicNamePipe) topic: string, @Body() body: UpdateTopicBody): Promise<TopicView> {
    return toTopicView(await this.storage.broker.growPartitions(topic, body.partitions));
  }

  /** Deletes a topic, its messages and its consumers' cursors. */
  @Delete(':topic')
  @ApiOperation({ operationId: 'deleteTopic' })
  @Requires('admin')
  @ApiOkResponse({ type: DeleteTopicResponse, description: 'Deleted with its messages and cursors' })
  @ApiParam(TOPIC_PARAM)
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid topic name' })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such topic' })
  async delete(@Param('topic', TopicNamePipe) topic: string): Promise<DeleteTopicResponse> {
    await this.storage.broker.deleteTopic(topic);
    return { status: 'deleted' };
  }
}

/**
 * A create of an existing topic must not silently drop what it asked for: each setting given that differs from
 * the topic's is named in a 409 whose body carries the topic as it is (Kafka's TOPIC_ALREADY_EXISTS).
 */
function refuseOtherSettings(topic: TopicInfo, asked: { partitions?: number; retention_ms?: number; retention_bytes?: number }): void {
  const differences: string[] = [];
  if (asked.partitions !== undefined && asked.partitions !== topic.partitions) {
    differences.push(`${topic.partitions} partitions (asked for ${asked.partitions})`);
  }
  if (asked.retention_ms !== undefined && asked.retention_ms !== topic.retentionMs) {
    differences.push(`retention_ms ${topic.retentionMs ?? 'unset'} (asked for ${asked.retention_ms})`);
  }
  if (asked.retention_bytes !== undefined && asked.retention_bytes !== topic.retentionBytes) {
    differences.push(`retention_bytes ${topic.retentionBytes ?? 'unset'} (asked for ${asked.retention_bytes})`);
  }
  if (differences.length === 0) return;
  const body: TopicExistsError = {
    detail:
      `Topic '${topic.name}' already exists with ${differences.join(', ')}. ` +
      `Use it as it is, add partitions with PATCH /topics/${topic.name}, or delete it first`,
    code: 'TOPIC_EXISTS',
    status: 409,
    topic: toTopicView(topic),
  };
  throw new ConflictException(body);
}
