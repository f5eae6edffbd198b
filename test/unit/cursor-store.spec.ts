// CursorStore: commit semantics, durability on resolve and across reopen, torn tails, and compaction.
import { appendFileSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CursorStore } from '../../src/storage/cursor-store';
import { fileSize, flipByte, makeTempDir, range, removeDir } from './support';

describe('CursorStore', () => {
  let dir: string;
  let path: string;
  const stores: CursorStore[] = [];
  const open = (p = path) => {
    const s = CursorStore.open(p, 'always');
    stores.push(s);
    return s;
  };

  beforeEach(() => {
    dir = makeTempDir();
    path = join(dir, 'cursors.log');
  });

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    removeDir(dir);
  });

  it('creates an empty file and knows no cursor at first', () => {
    const store = open();
    expect(existsSync(path)).toBe(true);
    expect(store.get('c', 0)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('commits and gets cursors per consumer and partition', async () => {
    const store = open();
    expect(await store.commit('alice', 0, 5, true)).toBe(true);
    expect(await store.commit('alice', 1, 9, true)).toBe(true);
    expect(await store.commit('bob', 0, 2, false)).toBe(true);
    expect(store.get('alice', 0)).toBe(5);
    expect(store.get('alice', 1)).toBe(9);
    expect(store.get('bob', 0)).toBe(2);
    expect(store.get('bob', 1)).toBeUndefined();
    expect(store.size).toBe(3);
    expect([...store.all()].sort((a, b) => (a.consumerId + a.partition).localeCompare(b.consumerId + b.partition))).toEqual([
      { consumerId: 'alice', partition: 0, offset: 5 },
      { consumerId: 'alice', partition: 1, offset: 9 },
      { consumerId: 'bob', partition: 0, offset: 2 },
    ]);
  });

  it('never moves a cursor backwards with onlyForward (ack), but does without it (seek)', async () => {
    const store = open();
    await store.commit('c', 0, 10, true);
    expect(await store.commit('c', 0, 4, true)).toBe(false);
    expect(store.get('c', 0)).toBe(10);
    expect(await store.commit('c', 0, 10, true)).toBe(false);
    expect(await store.commit('c', 0, 11, true)).toBe(true);
    expect(store.get('c', 0)).toBe(11);
    expect(await store.commit('c', 0, 3, false)).toBe(true);
    expect(store.get('c', 0)).toBe(3);
    expect(await store.commit('c', 0, 0, false)).toBe(true);
    expect(store.get('c', 0)).toBe(0);
    expect(await store.commit('c', 0, 1, true)).toBe(true);
    // Backward moves are durable too.
    await store.close();
    expect(open().get('c', 0)).toBe(1);
  });

  it('keeps the newest value when concurrent acks arrive out of order', async () => {
    const store = open();
    const offsets = [3, 9, 1, 7, 12, 2, 11];
    await Promise.all(offsets.map((o) => store.commit('c', 0, o, true)));
    expect(store.get('c', 0)).toBe(12);
    await store.close();
    expect(open().get('c', 0)).toBe(12);
  });

  it('has a commit on disk by the time it resolves, without a close', async () => {
    const store = open();
    await store.commit('durable', 3, 42, true);
    // A second reader of the same file sees it: the bytes were written (and fsynced) before resolving.
    const other = CursorStore.open(path, 'always');
    expect(other.get('durable', 3)).toBe(42);
    await other.close();
  });

  it('does not answer a repeated or late ack before the cursor it relies on is on disk', async () => {
    const store = open();
    const first = store.commit('c', 0, 8, true);
    const repeated = store.commit('c', 0, 8, true);
    const late = store.commit('c', 0, 5, true);
    expect(await repeated).toBe(false);
    const reader = CursorStore.open(path, 'never');
    expect(reader.get('c', 0)).toBe(8);
    await reader.close();
    expect(await late).toBe(false);
    expect(await first).toBe(true);
  });

  it('survives close and reopen with every cursor', async () => {
    const store = open();
    const ids = range(0, 40).map((i) => `consumer-${i}`);
    await Promise.all(ids.map((id, i) => store.commit(id, i % 3, i * 10, true)));
    await Promise.all(ids.map((id, i) => store.commit(id, i % 3, i * 10 + 1, true)));
    await store.close();
    const again = open();
    expect(again.size).toBe(40);
    ids.forEach((id, i) => expect(again.get(id, i % 3)).toBe(i * 10 + 1));
  });

  it('refuses commits once closing', async () => {
    const store = open();
    await store.close();
    await expect(store.commit('c', 0, 1, true)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  describe('damaged file', () => {
    async function writeThenOneMore(): Promise<{ before: number; after: number }> {
      const store = CursorStore.open(path, 'always');
      await store.commit('a', 0, 1, true);
      await store.commit('b', 0, 2, true);
      await store.commit('a', 0, 3, true);
      const before = fileSize(path);
      await store.commit('last-consumer', 0, 77, true);
      await store.close();
      return { before, after: fileSize(path) };
    }

    it('cuts a torn last record at open and keeps appending after the earlier ones', async () => {
      const { before, after } = await writeThenOneMore();
      const pristine = readFileSync(path);
      for (const cut of [before + 1, before + 8, Math.floor((before + after) / 2), after - 1]) {
        writeFileSync(path, pristine);
        truncateSync(path, cut);
        const store = CursorStore.open(path, 'always');
        expect(fileSize(path)).toBe(before);
        expect(store.get('a', 0)).toBe(3);
        expect(store.get('b', 0)).toBe(2);
        expect(store.get('last-consumer', 0)).toBeUndefined();
        await store.commit('b', 0, 5, true);
        await store.close();
        const again = CursorStore.open(path, 'always');
        expect([again.get('a', 0), again.get('b', 0), again.get('last-consumer', 0)]).toEqual([3, 5, undefined]);
        await again.close();
      }
    });

    it('cuts a last record with a flipped byte, and garbage after the last record', async () => {
      const { before, after } = await writeThenOneMore();
      const pristine = readFileSync(path);
      for (let p = before; p < after; p += 3) {
        writeFileSync(path, pristine);
        flipByte(path, p);
        const store = CursorStore.open(path, 'always');
        expect({ p, size: fileSize(path) }).toEqual({ p, size: before });
        expect(store.get('last-consumer', 0)).toBeUndefined();
        expect(store.get('a', 0)).toBe(3);
        await store.close();
      }
      writeFileSync(path, pristine);
      appendFileSync(path, Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]));
      const store = CursorStore.open(path, 'always');
      expect(fileSize(path)).toBe(after);
      expect(store.get('last-consumer', 0)).toBe(77);
      await store.close();
    });
  });

  describe('compaction', () => {
    it('rewrites a file of mostly superseded commits into one record per cursor, keeping every value', async () => {
      const store = open();
      const consumers = range(0, 20).map((i) => `group-${i}`);
      const latest = new Map<string, number>();
      let written = 0;
      let maxSize = 0;
      // Each round is one group commit of many records; together they are far more than the 1 MiB threshold.
      for (let round = 0; round < 24; round++) {
        const commits: Array<Promise<boolean>> = [];
        for (let k = 0; k < 4000; k++) {
          const id = consumers[k % consumers.length];
          const offset = round * 4000 + k;
          latest.set(id, offset);
          commits.push(store.commit(id, 0, offset, true));
        }
        await Promise.all(commits);
        written += 4000 * (8 + 14 + 'group-00'.length);
        maxSize = Math.max(maxSize, fileSize(path));
      }
      expect(written).toBeGreaterThan(2.5 * 1024 * 1024);
      // The file never held much more than the threshold plus one round, and ends small.
      expect(maxSize).toBeLessThan(1024 * 1024 + 4000 * 40);
      expect(fileSize(path)).toBeLessThan(1024 * 1024);
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      consumers.forEach((id) => expect(store.get(id, 0)).toBe(latest.get(id)));

      // Commits after a compaction land in the new file, at its end.
      await store.commit('after-compaction', 2, 5, true);
      await store.commit(consumers[0], 0, latest.get(consumers[0])! + 1, true);
      latest.set(consumers[0], latest.get(consumers[0])! + 1);
      await store.close();

      const again = open();
      expect(again.size).toBe(consumers.length + 1);
      consumers.forEach((id) => expect(again.get(id, 0)).toBe(latest.get(id)));
      expect(again.get('after-compaction', 2)).toBe(5);
    });
  });
});
