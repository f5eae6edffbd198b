// Health endpoints built on @nestjs/terminus.
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { StorageHealthIndicator } from './storage.health';

@Module({ imports: [TerminusModule.forRoot({ logger: false })], controllers: [HealthController], providers: [StorageHealthIndicator] })
export class HealthModule {}
