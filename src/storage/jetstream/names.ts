// Names on the NATS side (streams, subjects, KV keys) derived from topic names and consumer ids, safely.
//
// Topic names allow `.` (the NATS token separator) and `_`; consumer ids also `:` and `@`, which KV keys do
// not. Every character outside [A-Za-z0-9-] is escaped as `_` + two upper-case hex digits (`.` → `_2E`,
// `_` → `_5F`), which is injective and yields a single subject token and a valid stream name / KV key. A
// topic whose escaped form is longer than MAX_TOKEN is named by a hash instead (`_H` + 32 hex digits: `_H`
// is never produced by escaping, so the two forms cannot collide), keeping stream names short enough to be
// directory names in the server's store.
import { createHash, randomBytes } from 'node:crypto';

const MAX_TOKEN = 64;

/** `a.b_c` → `a_2Eb_5Fc`: one NATS token, injective, reversible. */
export function escapeToken(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const plain = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
    out += plain ? value[i] : `_${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function unescapeToken(token: string): string {
  return token.replace(/_([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The topic's token in stream names, subjects and KV keys. */
export function topicToken(topic: string): string {
  const escaped = escapeToken(topic);
  if (escaped.length <= MAX_TOKEN) return escaped;
  return `_H${createHash('sha256').update(topic).digest('hex').slice(0, 32)}`;
}

/**
 * A topic's incarnation: a fresh id per create, part of its stream names and keys, so a topic deleted and
 * created again never meets streams or cursors the delete left behind (a crash mid-delete, another replica
 * still reading).
 */
export function newIncarnation(): string {
  return randomBytes(4).toString('hex');
}

/** Where one topic incarnation lives: stream names, subjects, key prefixes. */
export class TopicNames {
  readonly token: string;
  /** `<token>.<incarnation>`: the prefix of this topic's cursor and idempotency keys. */
  readonly keyPrefix: string;

  constructor(
    readonly prefix: string,
    readonly topic: string,
    readonly incarnation: string,
  ) {
    this.token = topicToken(topic);
    this.keyPrefix = `${this.token}.${incarnation}`;
  }

  /** `MK_<token>_<incarnation>_<partition>`: one stream per topic-partition. */
  stream(partition: number): string {
    return `${this.prefix}_${this.token}_${this.incarnation}_${partition}`;
  }

  /** `mk.<token>.<incarnation>.<partition>`: the stream's only subject. */
  subject(partition: number): string {
    return `${this.prefix.toLowerCase()}.${this.token}.${this.incarnation}.${partition}`;
  }

  cursorKey(partition: number, consumerId: string): string {
    return `${this.keyPrefix}.${partition}.${escapeToken(consumerId)}`;
  }

  idempotencyKey(key: string): string {
    return `${this.keyPrefix}.${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
  }
}

/** The topic catalog's key for a topic: its token (the name itself is in the value). */
export function topicKey(topic: string): string {
  return topicToken(topic);
}

/** Splits a cursor key back into its parts; null for a key this driver did not write. */
export function parseCursorKey(key: string): { keyPrefix: string; partition: number; consumerId: string } | null {
  const m = /^([^.]+\.[^.]+)\.(\d+)\.([^.]+)$/.exec(key);
  if (!m) return null;
  return { keyPrefix: m[1], partition: Number(m[2]), consumerId: unescapeToken(m[3]) };
}
