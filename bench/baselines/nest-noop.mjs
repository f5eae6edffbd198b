// Baseline B: the ceiling of our framework — Nest on Express with the broker's routes, DTO classes and
// global ValidationPipe, doing no work and answering {"message_id":0}. Plain JS: decorators are applied
// by hand, with the design:paramtypes metadata tsc would emit, so ValidationPipe sees the same metatypes.
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Param, Post, Query, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsInt, IsObject, IsOptional, IsString, Min, ValidateNested } from 'class-validator';

// The produce routes' contract (src/messages/message.dto.ts) as Nest's default pipeline checks it: DTO classes
// with class-validator decorators under the global ValidationPipe. The broker checks the same contract with
// hand-written code (src/messages/message-codec.ts); this baseline is the cost of doing it the stock way.
class ProduceBody {}
const field = (cls, name, ...decorators) => decorators.forEach((d) => d(cls.prototype, name));
field(ProduceBody, 'message', IsOptional(), IsString());
field(ProduceBody, 'value', IsOptional());
field(ProduceBody, 'encoding', IsOptional(), IsIn(['utf8', 'json', 'base64']));
field(ProduceBody, 'key', IsOptional(), IsString());
field(ProduceBody, 'headers', IsOptional(), IsObject());
field(ProduceBody, 'timestamp', IsOptional(), IsInt(), Min(0));
field(ProduceBody, 'partition', IsOptional(), IsInt(), Min(0));
class ProduceBatchBody {}
field(ProduceBatchBody, 'messages', ValidateNested({ each: true }), Type(() => ProduceBody), ArrayMinSize(1), ArrayMaxSize(10_000));

const ANSWER = { message_id: 0 };

class NoopMessagesController {
  produce() {
    return ANSWER;
  }
  produceBatch() {
    return ANSWER;
  }
  poll() {
    return ANSWER;
  }
  ack() {
    return ANSWER;
  }
  fetch() {
    return ANSWER;
  }
}

/** Applies method decorators, then parameter decorators with the parameter types tsc would record. */
function route(cls, method, methodDecorators, params) {
  const proto = cls.prototype;
  Reflect.defineMetadata('design:paramtypes', params.map(([, type]) => type), proto, method);
  params.forEach(([decorator], i) => decorator(proto, method, i));
  for (const decorate of methodDecorators) decorate(proto, method, Object.getOwnPropertyDescriptor(proto, method));
}

// Same paths and parameter lists as src/messages/messages.controller.ts, minus the name/offset pipes
// (those are the broker's own work, not the framework's).
route(NoopMessagesController, 'produce', [Post('messages'), HttpCode(200)], [
  [Param('topic'), String],
  [Query('message'), Object],
  [Body(), ProduceBody],
]);
route(NoopMessagesController, 'produceBatch', [Post('messages/batch'), HttpCode(200)], [
  [Param('topic'), String],
  [Body(), ProduceBatchBody],
]);
route(NoopMessagesController, 'poll', [Get('messages')], [
  [Param('topic'), String],
  [Query('consumer_id'), String],
  [Query('partition'), Number],
]);
route(NoopMessagesController, 'ack', [Post('messages/:message_id/ack'), HttpCode(200)], [
  [Param('topic'), String],
  [Param('message_id'), Number],
  [Query('consumer_id'), String],
  [Query('partition'), Number],
]);
route(NoopMessagesController, 'fetch', [Get('partitions/:partition/messages')], [
  [Param('topic'), String],
  [Param('partition'), Number],
  [Query('from_offset'), Number],
  [Query('max'), Number],
  [Query('max_bytes'), Number],
]);
Controller('topics/:topic')(NoopMessagesController);

class NoopModule {}
Module({ controllers: [NoopMessagesController] })(NoopModule);

const app = await NestFactory.create(NoopModule, { logger: ['error'] });
// Keep in step with src/app.setup.ts: the same body limit (MAX_BODY_BYTES default) and the same
// ValidationPipe options. Nest's stock pipe is the reference on purpose, so a faster path in the broker shows.
app.useBodyParser('json', { limit: 32 * 1024 * 1024 });
app.useGlobalPipes(
  new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: false,
    transformOptions: { enableImplicitConversion: false },
  }),
);
app.disable('x-powered-by');
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
