// A stream's position as an SSE event id: the next offset to deliver on each partition it reads, as
// `partition:offset` pairs ("0:42", or "0:42,1:17,2:5"). Every id names every partition, so the last id a client
// saw is enough to resume the whole stream after a reconnect with neither gaps nor duplicates.

/** Partition → next offset to deliver, in partition order. */
export type StreamPositions = Map<number, number>;

/** Event ids never name more partitions than a topic can have. */
const MAX_PAIRS = 1024;
const PAIR = /^(\d{1,4}):(\d{1,16})$/;

export function formatEventId(positions: StreamPositions): string {
  let id = '';
  for (const [partition, offset] of positions) id += (id ? ',' : '') + partition + ':' + offset;
  return id;
}

/** Parses a Last-Event-ID; null when it is not a list of `partition:offset` pairs (each partition at most once). */
export function parseEventId(text: string): StreamPositions | null {
  const pairs = text.trim().split(',');
  if (pairs.length === 0 || pairs.length > MAX_PAIRS) return null;
  const positions: StreamPositions = new Map();
  for (const pair of pairs) {
    const m = PAIR.exec(pair.trim());
    if (!m) return null;
    const partition = Number(m[1]);
    const offset = Number(m[2]);
    if (!Number.isSafeInteger(offset) || positions.has(partition)) return null;
    positions.set(partition, offset);
  }
  return positions;
}
