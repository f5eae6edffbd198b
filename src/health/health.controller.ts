// Liveness (/healthz: the process answers) and readiness (/readyz: storage open, writable, not draining).
import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { StorageHealthIndicator } from './storage.health';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly storage: StorageHealthIndicator,
  ) {}

  /** Liveness: 200 while the process is up and its event loop answers. */
  @Get('healthz')
  @ApiOperation({ operationId: 'liveness' })
  @HealthCheck()
  liveness() {
    return this.health.check([]);
  }

  /** Readiness: 200 once storage is recovered and writable; 503 while draining or when the disk fails. */
  @Get('readyz')
  @ApiOperation({ operationId: 'readiness' })
  @ApiServiceUnavailableResponse({ description: 'Not ready: draining, or the data directory is not writable' })
  @HealthCheck()
  readiness() {
    return this.health.check([() => this.storage.check()]);
  }
}
