// API keys and their rights: which actions (produce, consume, admin) a key may take on which topics.
// Plain TypeScript: parsed once at start from AUTH_KEYS (JSON) and/or AUTH_KEYS_FILE.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const ACTIONS = ['produce', 'consume', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

export interface KeyGrantConfig {
  /** Topic name pattern; `*` matches any run of characters. */
  topics: string;
  actions: Action[];
}

export interface ApiKeyConfig {
  name: string;
  /** The key itself (fine for AUTH_KEYS in small setups) ... */
  key?: string;
  /** ... or its SHA-256 in hex, so the file does not hold usable secrets. */
  sha256?: string;
  rights: KeyGrantConfig[];
}

export class ApiKey {
  private readonly grants: Array<{ pattern: RegExp; actions: Set<Action> }>;

  constructor(
    readonly name: string,
    readonly digest: Buffer,
    grants: KeyGrantConfig[],
  ) {
    this.grants = grants.map((g) => ({ pattern: globToRegExp(g.topics), actions: new Set(g.actions) }));
  }

  can(action: Action, topic: string): boolean {
    return this.grants.some((g) => g.actions.has(action) && g.pattern.test(topic));
  }

  canSee(topic: string): boolean {
    return this.grants.some((g) => g.pattern.test(topic));
  }
}

export class ApiKeyRing {
  private constructor(private readonly keys: ApiKey[]) {}

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  get names(): string[] {
    return this.keys.map((k) => k.name);
  }

  /** Compares the presented key's digest with every key's in constant time; null when none matches. */
  authenticate(presented: string): ApiKey | null {
    const digest = sha256(presented);
    let found: ApiKey | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.digest) && !found) found = key;
    }
    return found;
  }

  /** Reads both sources; throws an error that names the bad entry when the configuration is invalid. */
  static load(json: string, file: string): ApiKeyRing {
    const entries: unknown[] = [];
    if (json.trim()) entries.push(...asKeyList(parseJson(json, 'AUTH_KEYS'), 'AUTH_KEYS'));
    if (file.trim()) entries.push(...asKeyList(parseJson(readFileSync(file, 'utf8'), `AUTH_KEYS_FILE ${file}`), `AUTH_KEYS_FILE ${file}`));
    const keys = entries.map((e, i) => toApiKey(e, i));
    const names = new Set<string>();
    for (const k of keys) {
      if (names.has(k.name)) throw new Error(`API key name '${k.name}' is used twice`);
      names.add(k.name);
    }
    return new ApiKeyRing(keys);
  }
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not valid JSON: ${(err as Error).message}`);
  }
}

function asKeyList(value: unknown, source: string): unknown[] {
  const list = Array.isArray(value) ? value : (value as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error(`${source} must be a JSON array of keys or {"keys": [...]}`);
  return list;
}

function toApiKey(raw: unknown, i: number): ApiKey {
  const e = raw as Partial<ApiKeyConfig>;
  const where = `API key #${i}${typeof e?.name === 'string' ? ` ('${e.name}')` : ''}`;
  if (typeof e?.name !== 'string' || !/^[A-Za-z0-9._:@-]{1,100}$/.test(e.name)) throw new Error(`${where}: name must be 1-100 characters from [A-Za-z0-9._:@-]`);
  let digest: Buffer;
  if (typeof e.key === 'string' && e.key.length >= 16) digest = sha256(e.key);
  else if (typeof e.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(e.sha256)) digest = Buffer.from(e.sha256, 'hex');
  else throw new Error(`${where}: give "key" (at least 16 characters) or "sha256" (64 hex digits)`);
  if (!Array.isArray(e.rights) || e.rights.length === 0) throw new Error(`${where}: rights must be a non-empty array`);
  for (const g of e.rights) {
    if (typeof g?.topics !== 'string' || !/^[A-Za-z0-9._*-]{1,249}$/.test(g.topics)) throw new Error(`${where}: topics must be a topic name pattern ([A-Za-z0-9._-] and *)`);
    if (!Array.isArray(g.actions) || g.actions.length === 0 || !g.actions.every((a) => (ACTIONS as readonly string[]).includes(a))) {
      throw new Error(`${where}: actions must be a non-empty list of ${ACTIONS.join(', ')}`);
    }
  }
  return new ApiKey(e.name, digest, e.rights);
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.\\-]/g, (c) => `\\${c}`))
    .join('.*');
  return new RegExp(`^${body}$`);
}
