// Lease ids that name their replica: an id from another replica is refused whole with the true reason, an
// id of this one or an untagged one passes, and the replica id survives a restart on the same DATA_DIR.
import { HttpException } from '@nestjs/common';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaLeases, replicaIdOf } from '../../src/groups/replica-leases';

describe('replica lease ids', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'mk-replica-id-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('keeps one id per DATA_DIR across restarts, different between DATA_DIRs', () => {
    const a = dir();
    const id = replicaIdOf(a);
    expect(id).toMatch(/^[0-9a-f]{8}$/);
    expect(replicaIdOf(a)).toBe(id);
    expect(readFileSync(join(a, 'replica-id'), 'utf8').trim()).toBe(id);
    expect(replicaIdOf(dir())).not.toBe(id);
  });

  it('strips its own tag, passes untagged ids, and refuses the whole request when one is from another replica', () => {
    const mine = new ReplicaLeases('0123abcd');
    const other = new ReplicaLeases('89abcdef');
    const engineId = 'AQAAAAAAAAAAAAAAAAE0q83vASNFZ4k';
    expect(mine.untag([mine.tag(engineId), engineId, 'not-a-lease'])).toEqual([engineId, engineId, 'not-a-lease']);
    let thrown: unknown;
    try {
      mine.untag([mine.tag(engineId), other.tag(engineId)]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HttpException);
    const e = thrown as HttpException;
    expect(e.getStatus()).toBe(409);
    expect(e.getResponse()).toMatchObject({ code: 'LEASE_UNKNOWN_TO_REPLICA', leased_by: ['89abcdef'], replica: '0123abcd' });
    expect((e.getResponse() as { detail: string }).detail).toMatch(/through that replica/);
  });
});
