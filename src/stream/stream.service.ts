// Live streams of topics: where a stream starts (offset, position, a consumer's cursor, a Last-Event-ID), the cap on
// concurrent streams, their metrics, and ending them all when the broker shuts down.
import { BadRequestException, type BeforeApplicationShutdown, Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { StorageError } from '../storage/errors';
import { StorageService } from '../storage/storage.service';
import { parseEventId } from './stream-position';
import { type EndReason, type EventSink, type StreamLimits, type StreamPlan, TopicStream } from './topic-stream';

export interface StreamRequest {
  topic: string;
  /** Only this partition; all of them (and any added later) when absent. */
  partition?: number;
  /** Start every partition at this offset ... */
  fromOffset?: number;
  /** ... or at the oldest stored message / the log end (the default) ... */
  position?: 'beginning' | 'end';
  /** ... or at this consumer's committed cursor (read only: a stream never commits). */
  consumerId?: string;
  /** Resume: partitions it names continue exactly where the last event left them. */
  lastEventId?: string;
  /** A consumer group's committed offsets per partition (`group=`): start where the group has settled up to. */
  groupOffsets?: Map<number, number>;
}

/** Per read, per partition: enough to keep a fast client busy, small enough that a stream holds little memory. */
const BATCH_MESSAGES = 500;
const BATCH_BYTES = 256 * 1024;
const RETRY_MS = 1000;

@Injectable()
export class StreamService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Stream');
  private readonly streams = new Set<TopicStream>();
  private readonly running = new Set<Promise<EndReason>>();
  /** Admitted streams, counted before their first await so that concurrent requests cannot overshoot the cap. */
  private admitted = 0;
  private closing = false;
  /** Most bytes any stream had queued in its response (user space): stays near one frame past the socket's high-water mark. */
  peakQueuedBytes = 0;
  private readonly limits: StreamLimits;
  private readonly ended: Counter<'reason'>;

  constructor(
    private readonly storage: StorageService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const { heartbeatMs, drainTimeoutMs } = config.stream;
    this.limits = { heartbeatMs, drainTimeoutMs, batchMessages: BATCH_MESSAGES, batchBytes: BATCH_BYTES, retryMs: RETRY_MS };
    const self = this;
    new Gauge({
      name: 'minikafka_streams_open',
      help: 'Server-Sent Event streams open now (GET /topics/{topic}/stream)',
      registers: [metrics.registry],
      collect() {
        this.set(self.streams.size);
      },
    });
    this.ended = new Counter({
      name: 'minikafka_streams_ended_total',
      help: 'Server-Sent Event streams ended, by reason (slow_client: dropped after STREAM_DRAIN_TIMEOUT_MS without draining)',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    });
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Takes a slot or answers 503: the cap is MAX_STREAMS, and no new stream starts once shutdown has begun. Call release() if the stream never runs. */
  admit(): { release: () => void } {
    if (this.closing || this.storage.draining) throw new ServiceUnavailableException('The broker is shutting down');
    if (this.admitted >= this.config.stream.maxStreams) {
      throw new ServiceUnavailableException(`Too many open streams (MAX_STREAMS=${this.config.stream.maxStreams}); retry shortly`);
    }
    this.admitted++;
    let released = false;
    return {
      release: () => {
        if (!released) this.admitted--;
        released = true;
      },
    };
  }

  /** Where each partition starts; throws 400/404 for bad input (before any byte of the stream is sent). */
  async plan(req: StreamRequest): Promise<StreamPlan> {
    // Start positions clamp to the log: its bounds (and a consumer's cursor) as the leaders have them now, so a
    // resume or from_offset just past another replica's last write is never pulled back to an older end.
    await this.storage.syncViews(req.topic, req.consumerId, req.partition);
    const broker = this.storage.broker;
    const info = broker.describeTopic(req.topic);
    if (req.partition !== undefined && req.partition >= info.partitions) {
      throw new StorageError('PARTITION_NOT_FOUND', `Topic '${req.topic}' has no partition ${req.partition} (it has ${info.partitions})`);
    }
    const starts = [req.fromOffset, req.position, req.consumerId, req.groupOffsets].filter((x) => x !== undefined).length;
    if (starts > 1) throw new BadRequestException('Give at most one of from_offset, position, consumer_id and group');
    let resume: Map<number, number> | null = null;
    if (req.lastEventId !== undefined && req.lastEventId.trim() !== '') {
      resume = parseEventId(req.lastEventId);
      if (!resume) throw new BadRequestException('Last-Event-ID must be partition:offset pairs, e.g. "0:42" or "0:42,1:17" (the id of the last event received)');
    }
    const positions = new Map<number, number>();
    const partitions = req.partition !== undefined ? [req.partition] : info.partitionDetails.map((p) => p.partition);
    for (const p of partitions) {
      const { startOffset, endOffset } = info.partitionDetails[p];
      const wanted =
        resume?.get(p) ??
        req.fromOffset ??
        (req.groupOffsets ? (req.groupOffsets.get(p) ?? startOffset) : undefined) ??
        (req.consumerId !== undefined ? broker.cursor(req.topic, req.consumerId, p).offset : req.position === 'beginning' ? startOffset : endOffset);
      // Inside the log: retention may have removed older messages, and a lost unsynced tail may reuse newer offsets.
      positions.set(p, Math.min(Math.max(wanted, startOffset), endOffset));
    }
    return { topic: req.topic, positions, followNewPartitions: req.partition === undefined };
  }

  /** Runs a stream to its end on an admitted slot; never throws (the response has begun). */
  async serve(plan: StreamPlan, sink: EventSink, slot: { release: () => void }): Promise<EndReason> {
    const stopping = () => this.closing || this.storage.draining;
    const stream = new TopicStream(this.storage.broker, sink, plan, this.limits, stopping, (records) => {
      let bytes = 0;
      for (const r of records) bytes += r.value.length;
      this.metrics.consumed.inc({ topic: plan.topic }, records.length);
      this.metrics.consumedBytes.inc({ topic: plan.topic }, bytes);
    });
    this.streams.add(stream);
    const run = stream.run();
    this.running.add(run);
    try {
      const reason = await run;
      this.ended.inc({ reason });
      if (reason === 'slow_client') {
        this.logger.warn(`Dropped a stream of '${plan.topic}': the client accepted nothing for ${this.limits.drainTimeoutMs} ms (STREAM_DRAIN_TIMEOUT_MS)`);
      }
      return reason;
    } finally {
      this.running.delete(run);
      this.streams.delete(stream);
      this.peakQueuedBytes = Math.max(this.peakQueuedBytes, stream.maxQueuedBytes);
      slot.release();
    }
  }

  /** Before the HTTP server closes: every stream writes an `end` event and finishes, so the server can close. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    for (const s of this.streams) s.stop('shutdown');
    await Promise.all([...this.running]);
  }
}
