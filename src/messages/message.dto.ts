// Request and response shapes of produce, poll, fetch, ack and the consumer cursor (documentation and
// validation source for OpenAPI; the produce routes validate with the hand-written checks in message-codec.ts).
import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Min } from 'class-validator';

/** Any JSON value: generated clients must accept text, numbers, objects and arrays alike. */
const ANY_VALUE = {
  oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'object', additionalProperties: true }, { type: 'array', items: {} }],
};

export class ProduceBody {
  /**
   * The message text (the seed's `message`). May also be given as the `message` query parameter.
   * @example "Hello, Mini Kafka!"
   */
  message?: string;
  /** Instead of `message`: the value, as UTF-8 text, any JSON value, or base64 bytes (see `encoding`). */
  @ApiProperty({ required: false, description: 'Text, any JSON value, or base64 bytes per `encoding`', example: { order: 42 }, ...ANY_VALUE })
  value?: unknown;
  /** How `value` is given and answered: utf8 (default for strings), json (default otherwise), base64. */
  @ApiProperty({ required: false, enum: ['utf8', 'json', 'base64'] })
  encoding?: 'utf8' | 'json' | 'base64';
  /**
   * Routes the message: the same key always goes to the same partition (Kafka's murmur2 partitioner).
   * @example "customer-17"
   */
  key?: string;
  /** String headers stored with the message. */
  @ApiProperty({ required: false, type: Object, additionalProperties: { type: 'string' }, example: { source: 'checkout' } })
  headers?: Record<string, string>;
  /** Producer timestamp (ms since the epoch), within MAX_TIMESTAMP_SKEW_MS of the broker's clock. */
  timestamp?: number;
  /** Target partition; otherwise by key, or sticky round-robin for unkeyed messages. */
  partition?: number;
}

export class ProduceResponse {
  /** Offset of the stored message in its partition. @example 0 */
  message_id!: number;
  /** Partition it was stored in (only on topics with several partitions: the seed's answer is {message_id}). */
  partition?: number;
}

export class PolledMessage {
  /** @example 0 */
  message_id!: number;
  /** The value: UTF-8 text (or the JSON value / base64 bytes for messages produced with `value`). */
  @ApiProperty({ description: 'Text (or JSON value / base64 per the encoding it was produced with)', example: 'Hello, Mini Kafka!', ...ANY_VALUE })
  data!: unknown;
  /** Only on topics with several partitions; pass it to the ack. */
  partition?: number;
}

export class ProduceBatchBody {
  /** Up to MAX_BATCH_MESSAGES messages, each shaped like a single produce body; one write and fsync per partition. */
  messages!: ProduceBody[];
}

export class BatchItemResult {
  /** 200 when stored, 400/413 when this message was invalid (the others are still stored). */
  status!: number;
  message_id?: number;
  partition?: number;
  detail?: string;
}

export class ProduceBatchResponse {
  /** Offset of each message in request order; null for a message that was not stored (see `results`). */
  @ApiProperty({ type: 'array', items: { type: 'integer', nullable: true } })
  message_ids!: (number | null)[];
  /** Partition of the first stored message. */
  partition!: number;
  /** Offset of the first stored message when all went to one partition. */
  base_offset?: number;
  /** Per-message outcome, in request order; present on 207 (some messages invalid). */
  results?: BatchItemResult[];
}

export class MessageView {
  /** Offset in its partition. @example 0 */
  message_id!: number;
  /** @example 0 */
  partition!: number;
  /** UTF-8 text, the JSON value, or base64 bytes, per `encoding`. */
  @ApiProperty({ description: 'Text, JSON value or base64 per encoding', example: 'Hello, Mini Kafka!', ...ANY_VALUE })
  data!: unknown;
  @ApiProperty({ enum: ['utf8', 'json', 'base64'] })
  encoding!: 'utf8' | 'json' | 'base64';
  /** Milliseconds since the epoch. */
  timestamp!: number;
  key?: string;
  @ApiProperty({ required: false, type: Object, additionalProperties: { type: 'string' } })
  headers?: Record<string, string>;
}

export class MessageListResponse {
  messages!: MessageView[];
}

export class FetchResponse {
  partition!: number;
  messages!: MessageView[];
  /** Offset to fetch from next. */
  next_offset!: number;
  /** Log end: the offset the next produced message will get. */
  end_offset!: number;
}

export class AckResponse {
  /** @example "ok" */
  status!: string;
}

export class CommitBody {
  /** Acknowledge everything up to and including this offset. */
  @IsInt()
  @Min(0)
  offset!: number;

  /** Partition (default 0). */
  @IsOptional()
  @IsInt()
  @Min(0)
  partition?: number;
}

export class SeekBody {
  /** Move to this offset (between the log start and the log end). */
  @IsOptional()
  @IsInt()
  @Min(0)
  offset?: number;

  /** Move to the oldest stored message or past the newest. */
  @IsOptional()
  @IsIn(['beginning', 'end'])
  position?: 'beginning' | 'end';

  /** Move to the first message with a timestamp at or after this time (ms since the epoch). */
  @IsOptional()
  @IsInt()
  @Min(0)
  timestamp?: number;
}

export class CursorResponse {
  consumer_id!: string;
  partition!: number;
  /** The next offset this consumer will be given (its committed position). */
  offset!: number;
  /** False for a consumer that never acked or sought: it starts at the log start. */
  committed!: boolean;
  log_start_offset!: number;
  log_end_offset!: number;
  /** Messages between the cursor and the log end. */
  lag!: number;
  /** True when retention removed messages before the consumer read them; it continues from the log start. */
  reset_to_log_start!: boolean;
}

export class ConsumerListResponse {
  consumers!: CursorResponse[];
}
