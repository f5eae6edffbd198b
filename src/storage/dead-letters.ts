// Dead letters of consumer groups: the record written to the dead-letter topic (the message plus headers that
// say where it came from and why), and redrive, which moves a group's dead letters back into their topic.
import { createHash } from 'node:crypto';
import type { StorageDriver } from './storage-driver';
import type { ProducerRecord, StoredRecord } from './record-batch';

export const DLQ_HEADER_PREFIX = 'x-dlq-';
export const DLQ_HEADERS = {
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  group: 'x-dlq-group',
  reason: 'x-dlq-reason',
  deliveries: 'x-dlq-deliveries',
  deadLetteredAt: 'x-dlq-dead-lettered-at',
} as const;

export type DeadLetterReason = 'expired' | 'nacked';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  group: string;
  reason: DeadLetterReason;
  deliveries: number;
}

/** The message as it goes to the dead-letter topic: same value, key and encoding; its headers plus ours. */
export function deadLetterRecord(r: StoredRecord, source: DeadLetterSource, now = Date.now()): ProducerRecord {
  return {
    value: r.value,
    key: r.key,
    encoding: r.encoding,
    headers: {
      ...(r.headers ?? {}),
      [DLQ_HEADERS.sourceTopic]: source.topic,
      [DLQ_HEADERS.sourcePartition]: String(source.partition),
      [DLQ_HEADERS.sourceOffset]: String(r.offset),
      [DLQ_HEADERS.group]: source.group,
      [DLQ_HEADERS.reason]: source.reason,
      [DLQ_HEADERS.deliveries]: String(source.deliveries),
      [DLQ_HEADERS.deadLetteredAt]: new Date(now).toISOString(),
    },
  };
}

/** The consumer id of a group's redrive cursor on its dead-letter topic (a hash when the name is long). */
export function redriveConsumerId(group: string): string {
  const id = `redrive@${group}`;
  return id.length <= 255 ? id : `redrive@${createHash('sha256').update(group).digest('hex')}`;
}

const REDRIVE_CHUNK = 500;
const REDRIVE_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Moves up to `max` dead letters of `group` (from `topic`) in `dlqTopic` back into `topic`, to the partition they
 * came from, with their key, encoding and headers minus the x-dlq- ones. A redrive cursor per group on the
 * dead-letter topic (a committed consumer cursor, `redrive@{group}`) moves past what was handled, so each dead
 * letter is redriven once; other groups' dead letters sharing the topic are passed over. Callers serialize it.
 */
export async function redrive(broker: StorageDriver, topic: string, group: string, dlqTopic: string, max: number): Promise<number> {
  if (!broker.hasTopic(dlqTopic)) return 0;
  const consumerId = redriveConsumerId(group);
  const targetPartitions = broker.partitionCount(topic);
  const chunk = Math.max(1, Math.min(REDRIVE_CHUNK, broker.config.maxBatchMessages));
  let redriven = 0;
  for (let p = 0; p < broker.partitionCount(dlqTopic) && redriven < max; p++) {
    while (redriven < max) {
      const from = broker.cursor(dlqTopic, consumerId, p).offset;
      const records = await broker.fetch(dlqTopic, p, from, chunk, REDRIVE_CHUNK_BYTES);
      if (records.length === 0) break;
      const byPartition = new Map<number, ProducerRecord[]>();
      let taken = 0;
      let last = -1;
      for (const r of records) {
        const h = r.headers;
        const mine = h?.[DLQ_HEADERS.group] === group && h[DLQ_HEADERS.sourceTopic] === topic;
        if (mine && redriven + taken >= max) break;
        last = r.offset;
        if (!mine) continue;
        const source = Number(h[DLQ_HEADERS.sourcePartition]);
        const target = Number.isInteger(source) && source >= 0 && source < targetPartitions ? source : -1;
        let list = byPartition.get(target);
        if (!list) byPartition.set(target, (list = []));
        list.push(redrivenRecord(r));
        taken++;
      }
      if (last < 0) break;
      for (const [target, list] of byPartition) {
        await broker.produce(topic, list, { partition: target >= 0 ? target : undefined, autoCreate: false });
      }
      redriven += taken;
      await broker.ack(dlqTopic, consumerId, last, p);
    }
  }
  return redriven;
}

function redrivenRecord(r: StoredRecord): ProducerRecord {
  let headers: Record<string, string> | null = null;
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    if (name.startsWith(DLQ_HEADER_PREFIX)) continue;
    (headers ??= {})[name] = value;
  }
  return { value: r.value, key: r.key, encoding: r.encoding, headers };
}
