// The web console at /console: topics, live tail over SSE, produce, consumer seeks and consumer groups.
import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller';

@Module({ controllers: [ConsoleController] })
export class ConsoleModule {}
