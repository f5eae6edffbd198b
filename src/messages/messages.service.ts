// Maps the HTTP shapes of messages and cursors onto the engine, and engine records back to JSON.
import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import type { CursorView, SeekTarget } from '../storage/broker';
import { requestFingerprint } from '../storage/producer-marker';
import { StorageError } from '../storage/errors';
import { type ProducerRecord, type StoredRecord } from '../storage/record-batch';
import { StorageService } from '../storage/storage.service';
import { ScannedBatch } from './batch-scan';
import { type MessageLimits, type MessageView, requireProducerRecord, toMessageView, toProducerRecord } from './message-codec';
import type { BatchItemResult, CursorResponse, FetchResponse, PolledMessage, ProduceBatchResponse, ProduceResponse } from './message.dto';

export interface Answer<T> {
  status: number;
  body: T;
  replayed?: boolean;
}

@Injectable()
export class MessagesService {
  private readonly limits: MessageLimits;

  constructor(
    private readonly storage: StorageService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.limits = {
      maxHeaders: config.maxHeadersPerMessage,
      maxHeaderBytes: 16 * 1024,
      maxKeyBytes: 4096,
      maxTimestampSkewMs: config.maxTimestampSkewMs,
    };
  }

  private get broker() {
    return this.storage.broker;
  }

  /** An Idempotency-Key, checked, with the fingerprint that tells a retry from another request. */
  private idempotency(key: string | undefined, records: ProducerRecord[], partition: number | undefined, extra = '') {
    if (key === undefined) return undefined;
    if (!/^[\x21-\x7e]{1,200}$/.test(key)) throw new BadRequestException('Idempotency-Key must be 1-200 printable ASCII characters');
    return { key, fingerprint: requestFingerprint(records, partition, extra) };
  }

  /** One message: the seed's `?message=` text, or a body with message/value, key, headers, timestamp, partition. */
  async produce(topic: string, queryMessage: unknown, body: Record<string, unknown>, idempotencyKey?: string): Promise<Answer<ProduceResponse>> {
    let record: ProducerRecord;
    let partition: number | undefined;
    if (body.message === undefined && body.value === undefined) {
      if (typeof queryMessage !== 'string') {
        throw new BadRequestException('message is required: a `message` query parameter or a JSON body {"message": "..."}');
      }
      record = requireProducerRecord({ ...body, message: queryMessage }, this.limits);
    } else record = requireProducerRecord(body, this.limits);
    if (body.partition !== undefined) partition = this.partitionParam(body.partition);
    const idempotency = this.idempotency(idempotencyKey, [record], partition);
    const r = await this.broker.produce(topic, [record], { autoCreate: this.config.autoCreateTopics, partition, idempotency });
    if (!r.replayed) this.countProduced(topic, 1, r.valueBytes);
    // The seed's exact answer on single-partition topics; the partition is named where it is needed.
    const answer: ProduceResponse = { message_id: r.offsets[0] };
    if ((r.partitions ?? this.broker.partitionCount(topic)) > 1) answer.partition = r.placement[0];
    return { status: 200, body: answer, replayed: r.replayed };
  }

  /** Many messages: valid ones are stored (one write + fsync per partition); invalid ones reported (207). */
  async produceBatch(
    topic: string,
    messages: unknown[] | ScannedBatch,
    partition: number | undefined,
    idempotencyKey?: string,
  ): Promise<Answer<ProduceBatchResponse>> {
    if (messages instanceof ScannedBatch) {
      // Every value is valid UTF-8 text by construction; a too-large one, or an Idempotency-Key (whose
      // fingerprint is over the parsed messages), takes the general path with the same messages.
      if (idempotencyKey === undefined && messages.maxValueBytes <= this.config.engine.maxMessageBytes) return this.produceScanned(topic, messages, partition);
      messages = messages.toInputs();
    }
    const inputs = messages;
    const records: ProducerRecord[] = [];
    const slots: Array<number | string> = new Array(inputs.length);
    const now = Date.now();
    for (let i = 0; i < inputs.length; i++) {
      const r = toProducerRecord(inputs[i], this.limits, now);
      if (typeof r === 'string') slots[i] = r;
      else {
        const p = (inputs[i] as { partition?: unknown }).partition;
        if (p !== undefined && p !== partition) slots[i] = 'per-message partition is not supported in a batch; use ?partition=';
        else slots[i] = records.push(r) - 1;
      }
    }
    if (records.length === 0) {
      const first = slots.findIndex((x) => typeof x === 'string');
      throw new BadRequestException(`No valid message in the batch; messages.${first}: ${slots[first] as string}`);
    }
    // Invalid inputs never reach the engine: the fingerprint names them, so a retry must repeat them too.
    const invalid = slots.map((x, i) => (typeof x === 'string' ? i : -1)).filter((i) => i >= 0);
    const idempotency = this.idempotency(idempotencyKey, records, partition, `batch:${inputs.length}:${invalid.join(',')}`);
    const stored = await this.broker.produce(topic, records, { autoCreate: this.config.autoCreateTopics, partition, partial: true, idempotency });
    if (!stored.replayed) this.countProduced(topic, records.length - stored.rejected.length, stored.valueBytes);
    const engineRejected = new Map(stored.rejected.map((x) => [x.index, x]));
    // null marks a message that was not stored (its `results` entry says why): never a number that looks like an offset.
    const ids = new Array<number | null>(inputs.length);
    let failed = 0;
    let firstPartition = -1;
    let onePartition = true;
    let baseOffset = -1;
    for (let i = 0; i < inputs.length; i++) {
      const slot = slots[i];
      if (typeof slot === 'string' || engineRejected.has(slot)) {
        ids[i] = null;
        failed++;
        continue;
      }
      const offset = stored.offsets[slot];
      ids[i] = offset;
      const p = stored.placement[slot];
      if (firstPartition < 0) {
        firstPartition = p;
        baseOffset = offset;
      } else if (p !== firstPartition) onePartition = false;
    }
    const body: ProduceBatchResponse = { message_ids: ids, partition: firstPartition >= 0 ? firstPartition : (partition ?? 0) };
    if (onePartition && baseOffset >= 0) body.base_offset = baseOffset;
    // Per-message results only when some failed: for a clean 10,000-message batch they would be most of the answer.
    if (failed > 0) {
      body.results = inputs.map((_, i): BatchItemResult => {
        const slot = slots[i];
        if (typeof slot === 'string') return { status: 400, detail: slot };
        const x = engineRejected.get(slot);
        if (x) return { status: x.code === 'MESSAGE_TOO_LARGE' ? 413 : 400, detail: x.detail };
        return { status: 200, message_id: stored.offsets[slot], partition: stored.placement[slot] };
      });
    }
    return { status: failed > 0 ? 207 : 200, body, replayed: stored.replayed };
  }

  /** The plain batch: values straight from the request's bytes into the record batch, all stored. */
  private async produceScanned(topic: string, batch: ScannedBatch, partition: number | undefined): Promise<Answer<ProduceBatchResponse>> {
    // No record can be refused by the engine: no keys or headers, and no value over MAX_MESSAGE_BYTES (checked by the caller).
    const stored = await this.broker.produce(topic, batch, { autoCreate: this.config.autoCreateTopics, partition });
    this.countProduced(topic, batch.count, stored.valueBytes);
    const first = stored.placement[0];
    const answer: ProduceBatchResponse = { message_ids: stored.offsets, partition: first };
    if (stored.placement.every((p) => p === first)) answer.base_offset = stored.offsets[0];
    return { status: 200, body: answer, replayed: false };
  }

  private countProduced(topic: string, messages: number, bytes: number): void {
    this.metrics.countProduced(topic, messages, bytes);
  }

  private countConsumed(topic: string, records: StoredRecord[]): void {
    let bytes = 0;
    for (const r of records) bytes += r.value.length;
    this.metrics.countConsumed(topic, records.length, bytes);
  }

  private partitionParam(value: unknown): number {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1023) throw new BadRequestException('partition must be an integer from 0 to 1023');
    return value as number;
  }

  /**
   * The seed's poll, plus partitions and long polling: the next message for this consumer, or null. It answers
   * the seed's exact shape {message_id, data}, adding `partition` on multi-partition topics (an ack needs it);
   * the batch poll and fetch routes answer the full message (key, headers, timestamp, encoding).
   */
  async poll(topic: string, consumerId: string, partition: number | undefined, waitMs: number): Promise<PolledMessage | null> {
    const m = (await this.pollMany(topic, consumerId, partition, 1, Number.MAX_SAFE_INTEGER, waitMs))[0];
    if (!m) return null;
    const answer: PolledMessage = { message_id: m.message_id, data: m.data };
    if (this.broker.partitionCount(topic) > 1) answer.partition = m.partition;
    return answer;
  }

  async pollMany(topic: string, consumerId: string, partition: number | undefined, max: number, maxBytes: number, waitMs: number): Promise<MessageView[]> {
    const wait = Math.min(waitMs, this.config.maxWaitMs);
    const deadline = Date.now() + wait;
    for (;;) {
      const { partition: p, records } =
        partition === undefined
          ? await this.broker.pollAny(topic, consumerId, max, maxBytes)
          : { partition, records: await this.broker.pollMany(topic, consumerId, partition, max, maxBytes) };
      if (records.length > 0) {
        this.countConsumed(topic, records);
        return records.map((r) => toMessageView(r, p));
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.storage.draining) return [];
      if (!(await this.broker.waitForConsumer(topic, consumerId, partition, left))) return [];
    }
  }

  async fetch(topic: string, partition: number, from: number, max: number, maxBytes: number, waitMs: number): Promise<FetchResponse> {
    const wait = Math.min(waitMs, this.config.maxWaitMs);
    let records = await this.broker.fetch(topic, partition, from, max, maxBytes);
    if (records.length === 0 && wait > 0 && (await this.broker.waitForData(topic, partition, from, wait))) {
      records = await this.broker.fetch(topic, partition, from, max, maxBytes);
    }
    this.countConsumed(topic, records);
    const end = this.broker.describeTopic(topic).partitionDetails[partition].endOffset;
    return {
      partition,
      messages: records.map((r) => toMessageView(r, partition)),
      next_offset: records.length > 0 ? records[records.length - 1].offset + 1 : Math.min(Math.max(from, 0), end),
      end_offset: end,
    };
  }

  /** Acks need a partition on multi-partition topics: an offset alone does not name a message there. */
  resolveAckPartition(topic: string, partition: number | undefined): number {
    if (partition !== undefined) return partition;
    const n = this.broker.partitionCount(topic);
    if (n > 1) throw new BadRequestException(`Topic '${topic}' has ${n} partitions: give ?partition= (the poll answer names it)`);
    return 0;
  }

  ack(topic: string, consumerId: string, offset: number, partition: number): Promise<void> {
    return this.broker.ack(topic, consumerId, offset, partition);
  }

  /** The commit route: an ack by offset, refused in the words of the route that was called. */
  async commit(topic: string, consumerId: string, offset: number, partition: number): Promise<CursorResponse> {
    try {
      await this.broker.ack(topic, consumerId, offset, partition);
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'OFFSET_OUT_OF_RANGE') throw err;
      const end = this.broker.cursor(topic, consumerId, partition).logEndOffset;
      throw new StorageError(
        'OFFSET_OUT_OF_RANGE',
        `Cannot commit offset ${offset} of '${topic}' partition ${partition}: ` +
          (end === 0 ? 'the partition is empty' : `its messages run from 0 to ${end - 1}`) +
          '. Commit the offset of the last message you processed (the cursor moves to offset + 1)',
      );
    }
    return this.cursor(topic, consumerId, partition);
  }

  /** A cursor view showing every ack, seek and produce answered through any broker replica before it. */
  async cursor(topic: string, consumerId: string, partition: number): Promise<CursorResponse> {
    await this.storage.syncViews(topic, consumerId, partition);
    return toCursorResponse(this.broker.cursor(topic, consumerId, partition));
  }

  async seek(topic: string, consumerId: string, target: SeekTarget, partition: number): Promise<CursorResponse> {
    return toCursorResponse(await this.broker.seek(topic, consumerId, target, partition));
  }

  async consumers(topic: string): Promise<CursorResponse[]> {
    await this.storage.syncViews(topic);
    return this.broker.consumers(topic).map(toCursorResponse);
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
