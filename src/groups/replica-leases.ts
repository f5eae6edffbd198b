// Lease ids that name the broker replica that issued them. Consumer groups keep their leases in one replica's
// DATA_DIR (until group state is shared, issue 11), so with several replicas over JetStream an ack, nack or
// extend that reaches another replica cannot be honoured there; tagging the id lets that replica answer the
// true reason (409 LEASE_UNKNOWN_TO_REPLICA: settle through the replica that leased it) instead of a
// misleading `lease_expired` for a lease with seconds left.
import { ConflictException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const REPLICA_ID = /^[0-9a-f]{8}$/;
/** Between the engine's lease id (base64url, no dots) and the replica id. */
const SEPARATOR = '.';

/**
 * This replica's id, stable across restarts: the leases live in DATA_DIR, so the id does too (created once,
 * by atomic rename, at startup: a synchronous read is fine there).
 */
export function replicaIdOf(dataDir: string): string {
  const path = join(dataDir, 'replica-id');
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (REPLICA_ID.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(4).toString('hex');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(`${path}.tmp`, `${id}\n`);
  renameSync(`${path}.tmp`, path);
  return id;
}

export class ReplicaLeases {
  constructor(readonly replicaId: string) {}

  /** The id a client sees: the engine's lease id and this replica's id. */
  tag(leaseId: string): string {
    return `${leaseId}${SEPARATOR}${this.replicaId}`;
  }

  /**
   * The engine's ids for the client's ones; 409 when any was issued by another replica (nothing is settled then,
   * so a client can send the whole request to the right replica). Untagged ids pass as they are.
   */
  untag(leaseIds: string[]): string[] {
    const foreign: Array<{ leaseId: string; replica: string }> = [];
    const own = leaseIds.map((id) => {
      const cut = id.lastIndexOf(SEPARATOR);
      if (cut < 0) return id;
      const replica = id.slice(cut + 1);
      if (replica !== this.replicaId && REPLICA_ID.test(replica)) foreign.push({ leaseId: id, replica });
      return replica === this.replicaId ? id.slice(0, cut) : id;
    });
    if (foreign.length === 0) return own;
    const replicas = [...new Set(foreign.map((f) => f.replica))];
    throw new ConflictException({
      detail:
        `Lease unknown to this replica: ${foreign.length === 1 ? `lease ${foreign[0].leaseId} was` : `${foreign.length} of the leases were`} ` +
        `issued by broker replica ${replicas.join(', ')}, and this is replica ${this.replicaId}. Consumer groups keep their leases in the ` +
        'replica that leased them: ack, nack or extend through that replica (the one that answered the receive; keep a group ' +
        "worker's requests on one replica, e.g. with sticky sessions). Nothing was settled; the lease is still live there until it expires.",
      code: 'LEASE_UNKNOWN_TO_REPLICA',
      status: 409,
      leased_by: replicas,
      replica: this.replicaId,
    });
  }
}
