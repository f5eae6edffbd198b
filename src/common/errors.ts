// The API's error body: every error answers JSON with `detail` (the seed's FastAPI shape) and a stable code.
import { ApiProperty } from '@nestjs/swagger';

export class ErrorBody {
  /** What went wrong, for a human. */
  @ApiProperty({ description: 'What went wrong, for a human', example: 'No new messages' })
  detail!: string;
  /** Stable machine-readable code, e.g. TOPIC_NOT_FOUND. */
  @ApiProperty({ required: false })
  code?: string;
  /** HTTP status, repeated for clients that only see the body. */
  @ApiProperty({ required: false })
  status?: number;
}

/** Thrown by the seed's poll route when the consumer is caught up; answers exactly {"detail": "No new messages"}. */
export class NoNewMessages extends Error {
  constructor() {
    super('No new messages');
  }
}
