// Maps the consumer group routes onto the engine's GroupRegistry and its results back to JSON; owns the
// registry's lifetime (waiting receives are answered when shutdown begins, the logs fsynced and closed after).
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { toMessageView } from '../messages/message-codec';
import { type GroupConfigChanges, GroupRegistry, type GroupView } from '../storage/consumer-groups';
import type { LeaseResult } from '../storage/group-delivery';
import { StorageService } from '../storage/storage.service';
import { ReplicaLeases, replicaIdOf } from './replica-leases';
import type { GroupMessage, GroupResponse, LeaseResultResponse, ReceiveResponse, RedriveResponse } from './group.dto';

export interface ReceiveQuery {
  max: number;
  waitMs: number;
  leaseMs?: number;
  partition?: number;
}

@Injectable()
export class GroupsService implements BeforeApplicationShutdown, OnApplicationShutdown {
  readonly registry: GroupRegistry;
  /** With JetStream several replicas serve one topic, each keeping its own leases: lease ids name their replica. */
  private readonly leases: ReplicaLeases | null;

  constructor(
    private readonly storage: StorageService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.registry = new GroupRegistry(storage.broker);
    this.leases = config.storage === 'jetstream' ? new ReplicaLeases(replicaIdOf(config.engine.dataDir)) : null;
  }

  async configure(topic: string, group: string, changes: GroupConfigChanges): Promise<{ created: boolean; group: GroupResponse }> {
    const { created, view } = await this.registry.configure(topic, group, changes);
    return { created, group: toGroupResponse(view) };
  }

  /** End offsets and lag as the leaders have them (writes through any replica count at once). */
  async describe(topic: string, group: string): Promise<GroupResponse> {
    await this.storage.syncViews(topic);
    return toGroupResponse(await this.registry.describe(topic, group));
  }

  async list(topic: string): Promise<GroupResponse[]> {
    await this.storage.syncViews(topic);
    return (await this.registry.list(topic)).map(toGroupResponse);
  }

  async receive(topic: string, group: string, q: ReceiveQuery): Promise<ReceiveResponse> {
    const deliveries = await this.registry.receive(topic, group, { ...q, waitMs: Math.min(q.waitMs, this.config.maxWaitMs) });
    return {
      messages: deliveries.map(
        (d): GroupMessage => ({
          ...toMessageView(d.record, d.partition),
          lease_id: this.leases ? this.leases.tag(d.leaseId) : d.leaseId,
          lease_expires_at: d.expiresAt,
          deliveries: d.deliveries,
        }),
      ),
    };
  }

  async ack(topic: string, group: string, leaseIds: string[]): Promise<LeaseResultResponse[]> {
    return this.settle(leaseIds, (ids) => this.registry.ack(topic, group, ids));
  }

  async nack(topic: string, group: string, leaseIds: string[], delayMs: number): Promise<LeaseResultResponse[]> {
    return this.settle(leaseIds, (ids) => this.registry.nack(topic, group, ids, delayMs));
  }

  async extend(topic: string, group: string, leaseIds: string[], leaseMs: number): Promise<LeaseResultResponse[]> {
    return this.settle(leaseIds, (ids) => this.registry.extend(topic, group, ids, leaseMs));
  }

  /** Runs a settle on the engine's lease ids (refused whole when one belongs to another replica), answering the client's ids. */
  private async settle(leaseIds: string[], run: (ids: string[]) => Promise<LeaseResult[]>): Promise<LeaseResultResponse[]> {
    const ids = this.leases ? this.leases.untag(leaseIds) : leaseIds;
    const results = await run(ids);
    return results.map((r, i) => toLeaseResult({ ...r, leaseId: leaseIds[i] }));
  }

  async redrive(topic: string, group: string, max: number): Promise<RedriveResponse> {
    const r = await this.registry.redrive(topic, group, max);
    return { redriven: r.redriven, dead_letter_topic: r.deadLetterTopic };
  }

  beforeApplicationShutdown(): void {
    this.registry.beginShutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}

function toGroupResponse(v: GroupView): GroupResponse {
  return {
    topic: v.topic,
    group: v.group,
    max_deliveries: v.config.maxDeliveries,
    per_key_ordering: v.config.perKeyOrdering,
    dead_letter_topic: v.config.deadLetterTopic,
    lease_ms: v.config.leaseMs,
    created_at: v.createdAt,
    partitions: v.partitions.map((p) => ({
      partition: p.partition,
      committed_offset: p.committedOffset,
      end_offset: p.endOffset,
      lag: p.lag,
      in_flight: p.inFlight,
      pending: p.pending,
      dead_lettered: p.deadLettered,
    })),
  };
}

function toLeaseResult(r: LeaseResult): LeaseResultResponse {
  return r.expiresAt === undefined ? { lease_id: r.leaseId, status: r.status } : { lease_id: r.leaseId, status: r.status, lease_expires_at: r.expiresAt };
}
