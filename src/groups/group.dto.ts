// Request and response shapes of the consumer group routes (validated by the global ValidationPipe).
import { ApiProperty } from '@nestjs/swagger';
import { MessageView } from '../messages/message.dto';
import { ArrayMaxSize, ArrayMinSize, IsBoolean, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';

/** Bounds shared by the DTOs and the controller. */
export const GROUP_LIMITS = {
  maxLeaseIds: 1000,
  maxLeaseMs: 12 * 3600 * 1000,
  maxDeliveries: 1000,
  maxReceive: 1000,
  maxRedrive: 100_000,
};

export class ConfigureGroupBody {
  /** Deliveries before a message goes to the dead-letter topic; 0 = unlimited. Default 5. @example 5 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(GROUP_LIMITS.maxDeliveries)
  max_deliveries?: number;

  /** While a key has a message in flight, later messages with that key are not handed out. Default false. */
  @IsOptional()
  @IsBoolean()
  per_key_ordering?: boolean;

  /** Where messages past max_deliveries go; null restores the default `{topic}.dlq`. @example "orders.dlq" */
  @ApiProperty({ required: false, nullable: true, type: String, example: 'orders.dlq' })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,249}$/, { message: 'dead_letter_topic must be a topic name: [A-Za-z0-9._-]{1,249}' })
  dead_letter_topic?: string | null;

  /** Lease length of a receive that does not give lease_ms. Default 30000. @example 30000 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(GROUP_LIMITS.maxLeaseMs)
  lease_ms?: number;
}

export class GroupPartitionResponse {
  partition!: number;
  /** Lowest unsettled offset: every message below it is acked or dead-lettered. */
  committed_offset!: number;
  /** Log end of the partition. */
  end_offset!: number;
  /** Messages from the committed offset to the log end that are not settled yet. */
  lag!: number;
  /** Messages leased to a worker right now. */
  in_flight!: number;
  /** Messages waiting to be handed out again (nacked, expired, delayed, or held behind their key). */
  pending!: number;
  /** Messages this group moved to its dead-letter topic from this partition. */
  dead_lettered!: number;
}

export class GroupResponse {
  /** @example "orders" */
  topic!: string;
  /** @example "billing" */
  group!: string;
  max_deliveries!: number;
  per_key_ordering!: boolean;
  /** @example "orders.dlq" */
  dead_letter_topic!: string;
  lease_ms!: number;
  /** When the group was created (ISO 8601). */
  created_at!: string;
  partitions!: GroupPartitionResponse[];
}

export class GroupListResponse {
  groups!: GroupResponse[];
}

/** A delivered message: the message view every consume route answers, plus its lease. */
export class GroupMessage extends MessageView {
  /** Pass it to ack, nack or extend. Opaque. */
  lease_id!: string;
  /** When the lease ends (ms since the epoch): unless acked or extended by then, the message is redelivered. */
  lease_expires_at!: number;
  /** How many times this message was handed out, this time included. @example 1 */
  deliveries!: number;
}

export class ReceiveResponse {
  /** Up to `max` messages; empty when none arrived within wait_ms. */
  messages!: GroupMessage[];
}

export class LeaseIdsBody {
  /** One or more lease ids from a receive. */
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(GROUP_LIMITS.maxLeaseIds)
  lease_ids!: string[];
}

export class NackBody extends LeaseIdsBody {
  /** Hand the messages out again only after this many milliseconds (default 0: at once). */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(GROUP_LIMITS.maxLeaseMs)
  delay_ms?: number;
}

export class ExtendBody extends LeaseIdsBody {
  /** The leases end this many milliseconds from now. @example 30000 */
  @IsInt()
  @Min(1)
  @Max(GROUP_LIMITS.maxLeaseMs)
  lease_ms!: number;
}

export class LeaseResultResponse {
  lease_id!: string;
  /**
   * acked: settled now; already_acked: settled before by this lease (a retried ack); ok: nacked or extended;
   * dead_lettered: nacked past max_deliveries, moved to the dead-letter topic; lease_expired: the lease is no
   * longer current (expired and handed to another worker, or the message was dead-lettered); invalid_lease.
   */
  @ApiProperty({ enum: ['acked', 'already_acked', 'ok', 'dead_lettered', 'lease_expired', 'invalid_lease'] })
  status!: 'acked' | 'already_acked' | 'ok' | 'dead_lettered' | 'lease_expired' | 'invalid_lease';
  /** The new lease end, for extend (ms since the epoch). */
  lease_expires_at?: number;
}

export class LeaseResultsResponse {
  /** One result per lease id, in request order. */
  results!: LeaseResultResponse[];
}

export class RedriveBody {
  /** Most dead letters to move in this call (default 1000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(GROUP_LIMITS.maxRedrive)
  max?: number;
}

export class RedriveResponse {
  /** Dead letters moved back into the topic by this call. */
  redriven!: number;
  /** @example "orders.dlq" */
  dead_letter_topic!: string;
}
