// Request and response shapes of produce, poll, fetch, ack and the consumer cursor.
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsInt, IsOptional, IsString, Min, ValidateNested } from 'class-validator';

export class ProduceBody {
  /**
   * The message text (the seed's `message`). May also be given as the `message` query parameter.
   * @example "Hello, Mini Kafka!"
   */
  @IsOptional()
  @IsString()
  message?: string;
}

export class ProduceResponse {
  /** Offset of the stored message in its partition. @example 0 */
  message_id!: number;
}

export class BatchMessage {
  /** @example "Hello, Mini Kafka!" */
  @IsString()
  message!: string;
}

export class ProduceBatchBody {
  /** Up to MAX_BATCH_MESSAGES messages, stored together with one write and one fsync. */
  @ValidateNested({ each: true })
  @Type(() => BatchMessage)
  @ArrayMinSize(1)
  @ArrayMaxSize(100_000)
  messages!: BatchMessage[];
}

export class ProduceBatchResponse {
  partition!: number;
  /** Offset of the first message; message i got base_offset + i. */
  base_offset!: number;
  /** Offset of each message, in request order. */
  message_ids!: number[];
}

export class PolledMessage {
  /** @example 0 */
  message_id!: number;
  /** @example "Hello, Mini Kafka!" */
  data!: string;
}

export class FetchedMessage {
  message_id!: number;
  data!: string;
  /** Milliseconds since the epoch when the broker stored it. */
  timestamp!: number;
}

export class FetchResponse {
  partition!: number;
  messages!: FetchedMessage[];
  /** Offset to fetch from next. */
  next_offset!: number;
  /** Log end: the offset the next produced message will get. */
  end_offset!: number;
}

export class AckResponse {
  /** @example "ok" */
  status!: string;
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
