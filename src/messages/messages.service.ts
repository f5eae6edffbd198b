// Maps the HTTP shapes of messages and cursors onto the engine, and engine records back to JSON.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { CursorView, SeekTarget } from '../storage/broker';
import { MetricsService } from '../metrics/metrics.service';
import { StorageService } from '../storage/storage.service';
import type { CursorResponse, FetchResponse, PolledMessage, ProduceBatchResponse, ProduceResponse } from './message.dto';

@Injectable()
export class MessagesService {
  constructor(
    private readonly storage: StorageService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async produce(topic: string, message: string): Promise<ProduceResponse> {
    const r = await this.storage.broker.produce(topic, [{ value: message }], { autoCreate: this.config.autoCreateTopics });
    this.metrics.produced.inc({ topic }, 1);
    this.metrics.producedBytes.inc({ topic }, Buffer.byteLength(message));
    return { message_id: r.baseOffset };
  }

  async produceBatch(topic: string, messages: Array<{ message: string }>): Promise<ProduceBatchResponse> {
    const records = messages.map((m) => ({ value: m.message }));
    const r = await this.storage.broker.produce(topic, records, { autoCreate: this.config.autoCreateTopics });
    let bytes = 0;
    for (const m of messages) bytes += Buffer.byteLength(m.message);
    this.metrics.produced.inc({ topic }, r.count);
    this.metrics.producedBytes.inc({ topic }, bytes);
    const ids = new Array<number>(r.count);
    for (let i = 0; i < r.count; i++) ids[i] = r.baseOffset + i;
    return { partition: r.partition, base_offset: r.baseOffset, message_ids: ids };
  }

  async poll(topic: string, consumerId: string, partition: number): Promise<PolledMessage | null> {
    const r = await this.storage.broker.poll(topic, consumerId, partition);
    if (r) {
      this.metrics.consumed.inc({ topic }, 1);
      this.metrics.consumedBytes.inc({ topic }, r.value.length);
    }
    return r ? { message_id: r.offset, data: r.value.toString('utf8') } : null;
  }

  async fetch(topic: string, partition: number, from: number, max: number, maxBytes: number): Promise<FetchResponse> {
    const records = await this.storage.broker.fetch(topic, partition, from, max, maxBytes);
    let bytes = 0;
    for (const r of records) bytes += r.value.length;
    this.metrics.consumed.inc({ topic }, records.length);
    this.metrics.consumedBytes.inc({ topic }, bytes);
    const end = this.storage.broker.describeTopic(topic).partitionDetails[partition].endOffset;
    return {
      partition,
      messages: records.map((r) => ({ message_id: r.offset, data: r.value.toString('utf8'), timestamp: r.timestamp })),
      next_offset: records.length > 0 ? records[records.length - 1].offset + 1 : Math.min(Math.max(from, 0), end),
      end_offset: end,
    };
  }

  ack(topic: string, consumerId: string, offset: number, partition: number): Promise<void> {
    return this.storage.broker.ack(topic, consumerId, offset, partition);
  }

  cursor(topic: string, consumerId: string, partition: number): CursorResponse {
    return toCursorResponse(this.storage.broker.cursor(topic, consumerId, partition));
  }

  async seek(topic: string, consumerId: string, target: SeekTarget, partition: number): Promise<CursorResponse> {
    return toCursorResponse(await this.storage.broker.seek(topic, consumerId, target, partition));
  }

  consumers(topic: string): CursorResponse[] {
    return this.storage.broker.consumers(topic).map(toCursorResponse);
  }
}

function toCursorResponse(c: CursorView): CursorResponse {
  return {
    consumer_id: c.consumerId,
    partition: c.partition,
    offset: c.offset,
    committed: c.committed,
    log_start_offset: c.logStartOffset,
    log_end_offset: c.logEndOffset,
    lag: c.lag,
    reset_to_log_start: c.resetToLogStart,
  };
}
