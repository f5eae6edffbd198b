// The consumer group state machine (pure, no I/O): leases, acks, nacks, expiry, dead-lettering, per-key
// ordering, the bounded window, lease ids, and replay of its own records into the same state.
import {
  decodeLeaseId,
  encodeLeaseId,
  GroupPartition,
  type GroupRecord,
  GroupState,
  keyIdOf,
  newNonce,
  NO_NONCE,
} from '../../src/storage/consumer-group';

const T0 = 1_000_000;

function partition(maxUnsettled = 100): { st: GroupPartition; outbox: GroupRecord[] } {
  const outbox: GroupRecord[] = [];
  return { st: new GroupPartition(0, maxUnsettled, outbox), outbox };
}

/** Admits offsets next..next+n-1 (keys optional) and leases those that are not held back. */
function take(st: GroupPartition, keys: Array<string | null>, now = T0, leaseMs = 1000, perKey = false) {
  const granted: Array<{ offset: number; nonce: string }> = [];
  for (const k of keys) {
    const offset = st.next;
    if (st.admit(offset, keyIdOf(k === null ? null : Buffer.from(k)), perKey)) {
      const e = st.grant(offset, now, leaseMs);
      granted.push({ offset, nonce: e.nonce });
    }
  }
  return granted;
}

/** Leases what `deliverable` offers now. */
function redeliver(st: GroupPartition, now: number, max = 100, perKey = false, leaseMs = 1000) {
  return st.deliverable(now, max, perKey).map((offset) => ({ offset, nonce: st.grant(offset, now, leaseMs).nonce }));
}

describe('lease ids', () => {
  it('encode partition, offset and nonce, opaque and url-safe', () => {
    const nonce = newNonce();
    const id = encodeLeaseId(7, 123_456_789_012, nonce);
    expect(id).toMatch(/^[A-Za-z0-9_-]{28}$/);
    expect(decodeLeaseId(id)).toEqual({ partition: 7, offset: 123_456_789_012, nonce });
  });

  it('reject anything malformed', () => {
    for (const bad of ['', 'x', 'a'.repeat(28), 'A'.repeat(27) + '!', encodeLeaseId(0, 1, newNonce()) + 'A']) {
      expect(decodeLeaseId(bad)).toBeNull();
    }
  });

  it('nonces differ and are never the no-lease marker', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(newNonce());
    expect(seen.size).toBe(2000);
    expect(seen.has(NO_NONCE)).toBe(false);
  });
});

describe('GroupPartition', () => {
  it('hands each message out once, acks settle it and the committed offset is the lowest unsettled one', () => {
    const { st } = partition();
    const leases = take(st, [null, null, null, null]);
    expect(leases.map((l) => l.offset)).toEqual([0, 1, 2, 3]);
    expect(st.inFlight).toBe(4);
    expect(st.ack(2, leases[2].nonce)).toBe('acked');
    expect(st.committed).toBe(0);
    expect(st.ack(0, leases[0].nonce)).toBe('acked');
    expect(st.committed).toBe(1);
    expect(st.ack(1, leases[1].nonce)).toBe('acked');
    expect(st.committed).toBe(3);
    expect(st.settled.size).toBe(0);
    expect(st.deliverable(T0, 10, false)).toEqual([]);
    st.checkInvariants();
  });

  it('answers a repeated ack as already acked, a stale lease as expired, a foreign nonce as expired', () => {
    const { st } = partition();
    const [a, b] = take(st, [null, null]);
    expect(st.ack(1, b.nonce)).toBe('acked');
    expect(st.ack(1, b.nonce)).toBe('already_acked'); // settled above committed, same lease
    expect(st.ack(1, newNonce())).toBe('lease_expired'); // settled by another lease
    expect(st.ack(0, newNonce())).toBe('lease_expired');
    expect(st.ack(0, NO_NONCE)).toBe('lease_expired');
    expect(st.ack(0, a.nonce)).toBe('acked');
    expect(st.ack(0, a.nonce)).toBe('already_acked'); // below committed
    expect(st.ack(0, b.nonce)).toBe('lease_expired'); // below committed, settled by another lease
    expect(st.ack(99, a.nonce)).toBe('lease_expired'); // never handed out
    st.checkInvariants();
  });

  it('redelivers an expired lease with a new nonce; the old lease may ack until then, not after', () => {
    const { st } = partition();
    const [first] = take(st, [null], T0, 100);
    expect(st.expire(T0 + 99, 5)).toEqual([]);
    expect(st.deliverable(T0 + 99, 10, false)).toEqual([]);
    expect(st.liveLeases(T0 + 100)).toBe(0);
    expect(st.expire(T0 + 100, 5)).toEqual([]);
    expect(st.inFlight).toBe(0);
    const [second] = redeliver(st, T0 + 100);
    expect(second.offset).toBe(0);
    expect(second.nonce).not.toBe(first.nonce);
    expect(st.entries.get(0)!.deliveries).toBe(2);
    expect(st.ack(0, first.nonce)).toBe('lease_expired');
    expect(st.ack(0, second.nonce)).toBe('acked');
    st.checkInvariants();
  });

  it('accepts the ack of an expired lease whose message was not handed out again', () => {
    const { st } = partition();
    const [l] = take(st, [null], T0, 100);
    st.expire(T0 + 500, 5);
    expect(st.ack(0, l.nonce)).toBe('acked');
    expect(st.committed).toBe(1);
  });

  it('nack makes a message available again, at once or after its delay', () => {
    const { st, outbox } = partition();
    const [a, b] = take(st, [null, null]);
    expect(st.nack(0, a.nonce, T0, 0, 5)).toBe('ok');
    expect(st.nack(1, b.nonce, T0, 500, 5)).toBe('ok');
    expect(st.nack(1, b.nonce, T0, 500, 5)).toBe('ok'); // same lease, still not handed out: harmless
    expect(st.nack(0, newNonce(), T0, 0, 5)).toBe('lease_expired');
    expect(st.deliverable(T0, 10, false)).toEqual([0]);
    expect(st.deliverable(T0 + 499, 10, false)).toEqual([0]);
    expect(st.deliverable(T0 + 500, 10, false)).toEqual([0, 1]);
    expect(st.nextWakeAt(T0)).toBe(T0 + 500);
    expect(outbox.filter((r) => r.type === 'pending')).toHaveLength(3);
    st.checkInvariants();
  });

  it('extends a live lease only', () => {
    const { st } = partition();
    const [l] = take(st, [null], T0, 100);
    expect(st.extend(0, l.nonce, T0 + 50, 1000)).toEqual({ status: 'ok', expiresAt: T0 + 1050 });
    expect(st.expire(T0 + 1000, 5)).toEqual([]);
    expect(st.inFlight).toBe(1);
    expect(st.extend(0, newNonce(), T0 + 50, 1000).status).toBe('lease_expired');
    expect(st.extend(0, l.nonce, T0 + 1050, 1000).status).toBe('lease_expired');
  });

  it('dead-letters a message once it used up max_deliveries, by expiry or by nack', () => {
    const { st } = partition();
    take(st, [null, null], T0, 10);
    // offset 0 expires twice (max 2); offset 1 is nacked on its second delivery
    st.expire(T0 + 10, 2);
    const again = redeliver(st, T0 + 10, 10, false, 10);
    expect(again.map((l) => l.offset)).toEqual([0, 1]);
    expect(st.nack(1, again[1].nonce, T0 + 11, 0, 2)).toBe('dead_lettered');
    expect(st.entries.get(1)!.state).toBe('dead-lettering');
    const dead = st.expire(T0 + 20, 2);
    expect(dead.map((e) => [e.offset, e.deliveries])).toEqual([[0, 2]]);
    expect(st.deliverable(T0 + 20, 10, false)).toEqual([]);
    st.settleDeadLettered(1, true);
    expect(st.ack(1, again[1].nonce)).toBe('lease_expired'); // dead-lettered is not acked
    expect(st.ack(0, again[0].nonce)).toBe('lease_expired');
    st.settleDeadLettered(0, true);
    expect(st.committed).toBe(2);
    expect(st.deadLettered).toBe(2);
    st.checkInvariants();
  });

  it('unlimited deliveries (0) never dead-letter', () => {
    const { st } = partition();
    take(st, [null], T0, 1);
    for (let i = 1; i < 50; i++) {
      expect(st.expire(T0 + i, 0)).toEqual([]);
      redeliver(st, T0 + i, 1, false, 1);
    }
    expect(st.entries.get(0)!.deliveries).toBe(50);
  });

  it('a failed dead-lettering puts the message back in pending, retried by the next sweep', () => {
    const { st } = partition();
    const [l] = take(st, [null]);
    expect(st.nack(0, l.nonce, T0, 0, 1)).toBe('dead_lettered');
    st.undoDeadLettering(0);
    expect(st.deliverable(T0, 10, false)).toEqual([0]); // the caller sweeps first; see next line
    expect(st.expire(T0, 1).map((e) => e.offset)).toEqual([0]);
    st.checkInvariants();
  });

  describe('per-key ordering', () => {
    it('holds later messages of a key while one is in flight, and releases them in order', () => {
      const { st } = partition();
      const granted = take(st, ['a', 'b', 'a', null, 'a', 'b'], T0, 1000, true);
      expect(granted.map((g) => g.offset)).toEqual([0, 1, 3]);
      expect(st.pendingCount).toBe(3);
      expect(redeliver(st, T0, 10, true)).toEqual([]);
      expect(st.ack(0, granted[0].nonce)).toBe('acked');
      const next = redeliver(st, T0, 10, true);
      expect(next.map((l) => l.offset)).toEqual([2]); // 4 waits behind 2
      expect(st.ack(1, granted[1].nonce)).toBe('acked');
      expect(redeliver(st, T0, 10, true).map((l) => l.offset)).toEqual([5]);
      st.checkInvariants();
    });

    it('a nacked message keeps its place: later messages of its key wait for it, even while it is delayed', () => {
      const { st } = partition();
      const [a0] = take(st, ['k'], T0, 1000, true);
      take(st, ['k', 'k'], T0, 1000, true);
      expect(st.nack(0, a0.nonce, T0, 300, 5)).toBe('ok');
      expect(redeliver(st, T0 + 100, 10, true)).toEqual([]);
      const again = redeliver(st, T0 + 300, 10, true);
      expect(again.map((l) => l.offset)).toEqual([0]);
      // a new message with the key is held too while older ones wait
      expect(st.admit(st.next, keyIdOf(Buffer.from('k')), true)).toBe(false);
      st.checkInvariants();
    });

    it('without per-key ordering keys do not matter', () => {
      const { st } = partition();
      expect(take(st, ['a', 'a', 'a']).map((g) => g.offset)).toEqual([0, 1, 2]);
    });
  });

  it('bounds the window: no new message beyond maxUnsettled until the oldest settles', () => {
    const { st } = partition(3);
    const leases = take(st, [null, null, null]);
    expect(st.room).toBe(0);
    expect(st.ack(1, leases[1].nonce)).toBe('acked');
    expect(st.room).toBe(0); // 0 still unsettled
    expect(st.ack(0, leases[0].nonce)).toBe('acked');
    expect(st.room).toBe(2);
    st.checkInvariants();
  });

  it('clamps to the log: messages removed by retention are skipped, a shorter log is forgotten', () => {
    const { st } = partition();
    const leases = take(st, [null, null, null, null]);
    st.clampToLog(2, 10);
    expect(st.committed).toBe(2);
    expect(st.entries.has(1)).toBe(false);
    expect(st.ack(1, leases[1].nonce)).toBe('already_acked');
    st.clampToLog(2, 3);
    expect(st.next).toBe(3);
    expect(st.entries.has(3)).toBe(false);
    st.checkInvariants();
  });
});

describe('replay', () => {
  function replay(records: GroupRecord[], maxUnsettled = 100): GroupState {
    const first = records.find((r) => r.type === 'config');
    const state = new GroupState(first?.type === 'config' ? first.config : cfg, maxUnsettled);
    for (const r of records) state.apply(r);
    return state;
  }
  const cfg = { maxDeliveries: 3, perKeyOrdering: true, deadLetterTopic: null, leaseMs: 1000, createdAt: 'c', topicCreatedAt: 't' };

  /** A random run of operations on two partitions; returns the live state and every record it produced. */
  function randomRun(seed: number) {
    let x = seed;
    const rand = (n: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    const live = new GroupState(cfg, 20);
    live.setConfig(cfg);
    const log: GroupRecord[] = [];
    let now = T0;
    const leases: Array<{ p: number; offset: number; nonce: string }> = [];
    for (let step = 0; step < 400; step++) {
      now += rand(50);
      const p = rand(2);
      const st = live.partition(p);
      const op = rand(5);
      if (op <= 1) {
        for (const e of st.expire(now, cfg.maxDeliveries)) st.settleDeadLettered(e.offset, rand(2) === 0);
        for (const offset of st.deliverable(now, 3, true)) leases.push({ p, offset, nonce: st.grant(offset, now, 200).nonce });
        for (let i = 0; i < 2 && st.room > 0; i++) {
          const offset = st.next;
          if (st.admit(offset, keyIdOf(Buffer.from(`k${rand(4)}`)), true)) leases.push({ p, offset, nonce: st.grant(offset, now, 200).nonce });
        }
      } else if (leases.length > 0) {
        const l = leases.splice(rand(leases.length), 1)[0];
        const s = live.partition(l.p);
        if (op === 2) s.ack(l.offset, l.nonce);
        else if (op === 3) s.nack(l.offset, l.nonce, now, rand(2) * 100, cfg.maxDeliveries) === 'dead_lettered' && s.settleDeadLettered(l.offset, true);
        else s.extend(l.offset, l.nonce, now, 300);
      }
      log.push(...live.drain());
      live.partition(0).checkInvariants();
      live.partition(1).checkInvariants();
    }
    return { live, log, now };
  }

  // An expired lease is swept to pending lazily and without a record: both forms mean the same.
  const summary = (s: GroupState, now: number) =>
    s.knownPartitions
      .filter((p) => p.next > 0)
      .map((p) => ({
      committed: p.committed,
      next: p.next,
      deadLettered: p.deadLettered,
      entries: [...p.entries.values()]
        .map((e) => {
          const live = e.state === 'leased' && e.expiresAt > now;
          return { ...e, state: live ? 'leased' : 'pending', expiresAt: live ? e.expiresAt : 0 };
        })
        .sort((a, b) => a.offset - b.offset),
      settled: [...p.settled].sort((a, b) => a[0] - b[0]),
    }));

  it.each([1, 2, 3, 42, 777])('rebuilds the same state from the records of a random run (seed %i)', (seed) => {
    const { live, log, now } = randomRun(seed);
    const rebuilt = replay(log, 20);
    expect(summary(rebuilt, now)).toEqual(summary(live, now));
    for (const p of rebuilt.knownPartitions) p.checkInvariants();
  });

  it('rebuilds the same state from a snapshot, and from a snapshot followed by records already in it', () => {
    const { live, log, now } = randomRun(9);
    const snap = live.snapshot();
    expect(summary(replay(snap, 20), now)).toEqual(summary(live, now));
    // compaction may race with appends: replaying the tail again over the snapshot changes nothing
    expect(summary(replay([...snap, ...log.slice(-40)], 20), now)).toEqual(summary(live, now));
  });
});
