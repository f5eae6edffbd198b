// The topic list's order and paging, shared by both drivers: names sorted as `localeCompare` sorts them,
// filtered by prefix and visibility, then a page after a cursor name.

/** A page of the topic list: names starting with `prefix`, after the name `after`, at most `limit` of them. */
export interface TopicListQuery {
  prefix?: string;
  after?: string;
  limit?: number;
  /** With API keys on: only the names this key may see count (before the limit, so pages stay full). */
  visible?: (name: string) => boolean;
}

const collator = new Intl.Collator();

/** The list's order: what `localeCompare` gives, through one collator (10,000 names sort in milliseconds). */
export function compareTopicNames(a: string, b: string): number {
  return collator.compare(a, b);
}

/** The page of `sorted` (in compareTopicNames order) that `query` asks for. */
export function pageTopicNames(sorted: readonly string[], query: TopicListQuery): string[] {
  let from = 0;
  if (query.after !== undefined) {
    // Binary search: the first name after the cursor, whether or not the cursor names a topic still there.
    let hi = sorted.length;
    while (from < hi) {
      const mid = (from + hi) >>> 1;
      if (compareTopicNames(sorted[mid], query.after) <= 0) from = mid + 1;
      else hi = mid;
    }
  }
  const limit = query.limit ?? Number.MAX_SAFE_INTEGER;
  const out: string[] = [];
  for (let i = from; i < sorted.length && out.length < limit; i++) {
    const name = sorted[i];
    if (query.prefix !== undefined && !name.startsWith(query.prefix)) continue;
    if (query.visible && !query.visible(name)) continue;
    out.push(name);
  }
  return out;
}
