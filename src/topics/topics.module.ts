// Topic administration.
import { Module } from '@nestjs/common';
import { DeclaredTopics } from './declared-topics';
import { TopicsController } from './topics.controller';

@Module({ controllers: [TopicsController], providers: [DeclaredTopics] })
export class TopicsModule {}
