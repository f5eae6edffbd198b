// Prometheus metrics with prom-client: HTTP requests, produce/consume traffic, group commits and fsync
// latency from the engine, and (computed at scrape time) consumer lag, segments and bytes on disk.
import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FlushObservation, StorageObserver } from '../storage/observer';
import type { StorageDriver } from '../storage/storage-driver';

/**
 * One label set's increments, summed in a plain number and handed to prom-client when the counter is read (a
 * scrape): counting a request is an addition. prom-client's own children hash their labels on every inc().
 */
export class PendingCount {
  private value = 0;

  constructor(readonly labels: Record<string, string>) {}

  inc(by = 1): void {
    this.value += by;
  }

  /** Hands the sum to the counter (from its collect(), at scrape time). */
  flushInto(counter: Counter<string>): void {
    if (this.value === 0) return;
    counter.inc(this.labels, this.value);
    this.value = 0;
  }
}

interface TopicCounters {
  produced: PendingCount;
  producedBytes: PendingCount;
  consumed: PendingCount;
  consumedBytes: PendingCount;
}

@Injectable()
export class MetricsService implements StorageObserver {
  readonly registry = new Registry();
  private broker: StorageDriver | null = null;

  /** Label sets counted through PendingCount, per counter: flushed into it whenever it is read. */
  private readonly pending = new Map<Counter<string>, PendingCount[]>();

  readonly requests = this.counter({
    name: 'minikafka_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
  });
  readonly produced = this.counter({ name: 'minikafka_messages_produced_total', help: 'Messages stored', labelNames: ['topic'] as const });
  readonly producedBytes = this.counter({ name: 'minikafka_bytes_produced_total', help: 'Value bytes stored', labelNames: ['topic'] as const });
  readonly consumed = this.counter({ name: 'minikafka_messages_consumed_total', help: 'Messages handed to consumers (poll and fetch)', labelNames: ['topic'] as const });
  readonly consumedBytes = this.counter({ name: 'minikafka_bytes_consumed_total', help: 'Value bytes handed to consumers', labelNames: ['topic'] as const });
  private readonly fsyncSeconds = new Histogram({
    name: 'minikafka_fsync_duration_seconds',
    help: 'Time of one log write + fsync (one group commit)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly commitMessages = new Histogram({
    name: 'minikafka_group_commit_messages',
    help: 'Messages written by one group commit (one write, one fsync)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384],
    registers: [this.registry],
  });
  private readonly writeErrors = new Counter({ name: 'minikafka_write_errors_total', help: 'Failed log writes (disk full, I/O errors)', registers: [this.registry] });
  readonly logLinesDropped = new Counter({
    name: 'minikafka_log_lines_dropped_total',
    help: 'Log lines dropped because stdout was not taking writes (full disk, stalled pipe) and its buffer was full',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const self = this;
    new Gauge({
      name: 'minikafka_consumer_lag',
      help: 'Messages between a consumer cursor and the log end',
      labelNames: ['topic', 'partition', 'consumer'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of self.broker?.listTopics() ?? []) {
          for (const c of self.broker!.consumers(t.name)) this.set({ topic: t.name, partition: String(c.partition), consumer: c.consumerId }, c.lag);
        }
      },
    });
    new Gauge({
      name: 'minikafka_log_segments',
      help: 'Segments per partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of self.broker?.listTopics() ?? []) for (const p of t.partitionDetails) this.set({ topic: t.name, partition: String(p.partition) }, p.segmentCount);
      },
    });
    new Gauge({
      name: 'minikafka_log_bytes',
      help: 'Bytes of log on disk per partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of self.broker?.listTopics() ?? []) for (const p of t.partitionDetails) this.set({ topic: t.name, partition: String(p.partition) }, p.sizeBytes);
      },
    });
  }

  /** Per topic, the traffic counters' children: counting a produce or a poll hashes no labels. */
  private readonly perTopic = new Map<string, TopicCounters>();

  /** Messages and value bytes stored on `topic`. */
  countProduced(topic: string, messages: number, bytes: number): void {
    const c = this.topicCounters(topic);
    c.produced.inc(messages);
    c.producedBytes.inc(bytes);
  }

  /** Messages and value bytes handed to consumers of `topic`. */
  countConsumed(topic: string, messages: number, bytes: number): void {
    const c = this.topicCounters(topic);
    c.consumed.inc(messages);
    c.consumedBytes.inc(bytes);
  }

  private topicCounters(topic: string): TopicCounters {
    let c = this.perTopic.get(topic);
    if (!c) {
      const labels = { topic };
      c = {
        produced: this.pendingCount(this.produced, labels),
        producedBytes: this.pendingCount(this.producedBytes, labels),
        consumed: this.pendingCount(this.consumed, labels),
        consumedBytes: this.pendingCount(this.consumedBytes, labels),
      };
      this.perTopic.set(topic, c);
    }
    return c;
  }

  /** A label set of `counter` to count into cheaply (keep it: each call adds one). */
  pendingCount(counter: Counter<string>, labels: Record<string, string>): PendingCount {
    const count = new PendingCount(labels);
    this.pending.get(counter)!.push(count);
    return count;
  }

  private counter<L extends string>(config: { name: string; help: string; labelNames: readonly L[] }): Counter<L> {
    const pending: PendingCount[] = [];
    const counter = new Counter<L>({
      ...config,
      registers: [this.registry],
      collect() {
        for (const p of pending) p.flushInto(this as unknown as Counter<string>);
      },
    });
    this.pending.set(counter as unknown as Counter<string>, pending);
    return counter;
  }

  attach(broker: StorageDriver): void {
    this.broker = broker;
  }

  onFlush(o: FlushObservation): void {
    this.fsyncSeconds.observe(o.writeMs / 1000);
    this.commitMessages.observe(o.messages);
  }

  onWriteError(): void {
    this.writeErrors.inc();
  }
}
