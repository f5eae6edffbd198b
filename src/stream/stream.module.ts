// Live topic streams over Server-Sent Events (GET /topics/{topic}/stream).
import { Module } from '@nestjs/common';
import { GroupsModule } from '../groups/groups.module';
import { StreamController } from './stream.controller';
import { StreamService } from './stream.service';

@Module({ imports: [GroupsModule], controllers: [StreamController], providers: [StreamService] })
export class StreamModule {}
