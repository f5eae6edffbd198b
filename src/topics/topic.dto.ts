// Request and response shapes of topic administration.
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import type { TopicInfo } from '../storage/broker';

/** One message for every way a partition count can be wrong. */
const PARTITIONS_RULE = { message: 'partitions must be an integer from 1 to 1024' };

export class CreateTopicBody {
  /**
   * Topic name: 1-249 characters from [A-Za-z0-9._-], not "." or "..".
   * @example "orders"
   */
  @IsString()
  name!: string;

  /**
   * Number of partitions (default 1).
   * @example 1
   */
  @IsOptional()
  @IsInt(PARTITIONS_RULE)
  @Min(1, PARTITIONS_RULE)
  @Max(1024, PARTITIONS_RULE)
  partitions?: number;

  /** Delete this topic's sealed segments older than this (ms); the broker's RETENTION_MS when absent. */
  @IsOptional()
  @IsInt()
  @Min(0)
  retention_ms?: number;

  /** Per partition, delete the oldest sealed segments above this size; the broker's RETENTION_BYTES when absent. */
  @IsOptional()
  @IsInt()
  @Min(0)
  retention_bytes?: number;
}

export class UpdateTopicBody {
  /** New partition count: partitions can grow, never shrink. */
  @IsInt(PARTITIONS_RULE)
  @Min(1, PARTITIONS_RULE)
  @Max(1024, PARTITIONS_RULE)
  partitions!: number;
}

/** Body of the seed's create route; optional. */
export class CreateTopicOptions {
  /** Number of partitions (default 1). */
  @IsOptional()
  @IsInt(PARTITIONS_RULE)
  @Min(1, PARTITIONS_RULE)
  @Max(1024, PARTITIONS_RULE)
  partitions?: number;
}

export class PartitionView {
  partition!: number;
  /** Offset of the oldest message still stored. */
  first_offset!: number;
  /** Offset the next message will get (the log end). */
  next_offset!: number;
  size_bytes!: number;
  segment_count!: number;
}

export class TopicView {
  /** @example "orders" */
  name!: string;
  partitions!: number;
  /** Messages currently stored (retention may have removed older ones). */
  message_count!: number;
  /** Bytes of log on disk. */
  size_bytes!: number;
  segment_count!: number;
  created_at!: string;
  /** This topic's retention override (ms), when it has one. */
  retention_ms?: number;
  /** This topic's retention override (bytes per partition), when it has one. */
  retention_bytes?: number;
  partition_details!: PartitionView[];
}

export class CreateTopicResponse {
  /** "created", or "exists" when the topic was already there with the settings asked for. */
  status!: string;
  topic!: TopicView;
}

/** 409 from a create: the topic exists with other settings, and is shown as it is. */
export class TopicExistsError {
  /** What differs, and what to do instead. */
  detail!: string;
  /** @example "TOPIC_EXISTS" */
  code!: string;
  /** @example 409 */
  status!: number;
  /** The existing topic, unchanged. */
  topic!: TopicView;
}

export class TopicListResponse {
  topics!: TopicView[];
  /** Present when `limit` cut the list: send it as `after` for the next page. */
  next?: string;
}

export class DeleteTopicResponse {
  /** @example "deleted" */
  status!: string;
}

export function toTopicView(t: TopicInfo): TopicView {
  return {
    name: t.name,
    partitions: t.partitions,
    message_count: t.messageCount,
    size_bytes: t.sizeBytes,
    segment_count: t.partitionDetails.reduce((n, p) => n + p.segmentCount, 0),
    created_at: t.createdAt,
    ...(t.retentionMs !== undefined ? { retention_ms: t.retentionMs } : {}),
    ...(t.retentionBytes !== undefined ? { retention_bytes: t.retentionBytes } : {}),
    partition_details: t.partitionDetails.map((p) => ({
      partition: p.partition,
      first_offset: p.startOffset,
      next_offset: p.endOffset,
      size_bytes: p.sizeBytes,
      segment_count: p.segmentCount,
    })),
  };
}
