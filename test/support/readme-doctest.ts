// Reads README.md's ```bash examples as doctests: the commands in order, each with the answer printed under it.
//
// The rules (README.md, "Development", says the same for writers):
// - Every ```bash block is run, in order, against one fresh broker, unless the line `<!-- not-tested: reason -->`
//   comes right before it (blank lines between are fine); a block that is run must hold a `curl` command.
// - A line ending in `\` continues on the next. `#` lines are comments; `# ...` text after a command is a trailing
//   bash comment and not checked.
// - The `# ` lines right under a command are its expected answer: an optional status line (`HTTP/1.1 404`, the
//   reason phrase may follow), optional `Header: value` lines, then JSON values (one per NDJSON line), then any
//   remark, e.g. `(again, until acknowledged)`, which is not checked. The JSON may span several `# ` lines, a
//   string too (the line break and the indentation after it read as one space).
// - In expected JSON, `...` is a wildcard: as a value it matches anything, as an object member it allows any other
//   members (`{...}` is any object), as the last array element any further elements, and inside a string any text
//   (`"AQAA..."`). Otherwise objects must have exactly the keys shown, and values must be equal.
// - A command with no expected answer must answer 2xx; one with JSON but no status line too.
// - `NAME=$(...)` lines set a shell variable for the commands after it, as they would in a terminal.

export interface Example {
  /** 1-based line of the command in README.md. */
  line: number;
  command: string;
  expected?: Expectation;
}

export interface Expectation {
  text: string;
  status?: number;
  headers: Array<[string, string]>;
  values: Pattern[];
}

export interface SkippedBlock {
  line: number;
  reason: string;
  text: string;
}

export type Pattern =
  | { kind: 'any' }
  | { kind: 'literal'; value: null | boolean | number }
  | { kind: 'string'; value: string }
  | { kind: 'array'; items: Pattern[]; open: boolean }
  | { kind: 'object'; entries: Array<[string, Pattern]>; open: boolean };

export function readExamples(markdown: string): { blocks: Array<{ line: number; examples: Example[] }>; skipped: SkippedBlock[] } {
  const lines = markdown.split('\n');
  const blocks: Array<{ line: number; examples: Example[] }> = [];
  const skipped: SkippedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```bash') continue;
    const start = i;
    const body: Array<{ line: number; text: string }> = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push({ line: i + 1, text: lines[i] });
    const marker = markerBefore(lines, start);
    if (marker !== undefined) skipped.push({ line: start + 1, reason: marker, text: body.map((b) => b.text).join('\n') });
    else blocks.push({ line: start + 1, examples: readBlock(body) });
  }
  return { blocks, skipped };
}

function markerBefore(lines: string[], fence: number): string | undefined {
  let j = fence - 1;
  while (j >= 0 && lines[j].trim() === '') j--;
  const m = /^<!--\s*not-tested:(.*)-->\s*$/.exec(lines[j]?.trim() ?? '');
  return m ? m[1].trim() : undefined;
}

function readBlock(body: Array<{ line: number; text: string }>): Example[] {
  const examples: Example[] = [];
  let current: Example | undefined;
  let expected: string[] = [];
  const finish = () => {
    if (current && expected.length > 0) current.expected = parseExpectation(expected.join('\n'), current.line);
    expected = [];
  };
  for (let k = 0; k < body.length; k++) {
    const { line, text } = body[k];
    const trimmed = text.trim();
    if (trimmed === '') {
      finish();
      current = undefined;
      continue;
    }
    if (trimmed.startsWith('#')) {
      // Comment lines right under a command are its answer; any others are headings.
      if (current) expected.push(trimmed.replace(/^#\s?/, ''));
      continue;
    }
    finish();
    let command = text;
    while (command.endsWith('\\') && k + 1 < body.length) command += '\n' + body[++k].text;
    current = { line, command };
    examples.push(current);
  }
  finish();
  return examples;
}

export function parseExpectation(text: string, line: number): Expectation {
  let rest = text.trim();
  let status: number | undefined;
  const statusLine = /^HTTP\/[\d.]+ (\d{3})(?: [A-Za-z][A-Za-z ]*?)?(?=\s|$)/.exec(rest);
  if (statusLine) {
    status = Number(statusLine[1]);
    rest = rest.slice(statusLine[0].length).trimStart();
  }
  const headers: Array<[string, string]> = [];
  for (let h = /^([A-Za-z][A-Za-z0-9-]*): ([^\n]*)(\n|$)/.exec(rest); h; h = /^([A-Za-z][A-Za-z0-9-]*): ([^\n]*)(\n|$)/.exec(rest)) {
    headers.push([h[1].toLowerCase(), h[2].trim()]);
    rest = rest.slice(h[0].length).trimStart();
  }
  const values: Pattern[] = [];
  while (rest.startsWith('{') || rest.startsWith('[')) {
    const p = new PatternParser(rest, line);
    values.push(p.value());
    rest = rest.slice(p.at).trimStart();
  }
  if (status === undefined && values.length === 0 && headers.length === 0) {
    throw new Error(`README.md:${line}: the comment under this command is not an answer the test can check: ${JSON.stringify(text)}`);
  }
  return { text, status, headers, values };
}

class PatternParser {
  at = 0;

  constructor(
    private readonly s: string,
    private readonly line: number,
  ) {}

  value(): Pattern {
    this.ws();
    const c = this.s[this.at];
    if (this.s.startsWith('...', this.at)) {
      this.at += 3;
      return { kind: 'any' };
    }
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return { kind: 'string', value: this.string() };
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.at));
    if (!m) this.fail('a JSON value or ...');
    this.at += m[0].length;
    return { kind: 'literal', value: JSON.parse(m[0]) as null | boolean | number };
  }

  private object(): Pattern {
    this.at++;
    const entries: Array<[string, Pattern]> = [];
    let open = false;
    for (;;) {
      this.ws();
      if (this.s[this.at] === '}') break;
      if (this.s.startsWith('...', this.at)) {
        this.at += 3;
        open = true;
      } else {
        const key = this.string();
        this.ws();
        if (this.s[this.at++] !== ':') this.fail('":"');
        entries.push([key, this.value()]);
      }
      this.ws();
      if (this.s[this.at] === ',') this.at++;
      else if (this.s[this.at] !== '}') this.fail('"," or "}"');
    }
    this.at++;
    return { kind: 'object', entries, open };
  }

  private array(): Pattern {
    this.at++;
    const items: Pattern[] = [];
    let open = false;
    for (;;) {
      this.ws();
      if (this.s[this.at] === ']') break;
      if (open) this.fail('"]" after a trailing ...');
      if (this.s.startsWith('...', this.at)) {
        this.at += 3;
        open = true;
      } else items.push(this.value());
      this.ws();
      if (this.s[this.at] === ',') this.at++;
      else if (this.s[this.at] !== ']') this.fail('"," or "]"');
    }
    this.at++;
    return { kind: 'array', items, open };
  }

  private string(): string {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(this.s.slice(this.at));
    if (!m) this.fail('a string');
    this.at += m[0].length;
    // A long string may go on over the next `# ` line: the line break and the indentation read as one space.
    return JSON.parse(m[0].replace(/\n\s*/g, ' ')) as string;
  }

  private ws(): void {
    while (/\s/.test(this.s[this.at] ?? '')) this.at++;
  }

  private fail(what: string): never {
    throw new Error(`README.md:${this.line}: expected ${what} at ${JSON.stringify(this.s.slice(this.at, this.at + 40))}`);
  }
}

/** Where `actual` differs from the pattern (a JSON path and what was expected), or undefined when it matches. */
export function mismatch(p: Pattern, actual: unknown, path = '$'): string | undefined {
  switch (p.kind) {
    case 'any':
      return undefined;
    case 'literal':
      return actual === p.value ? undefined : `${path}: expected ${JSON.stringify(p.value)}, got ${JSON.stringify(actual)}`;
    case 'string': {
      if (typeof actual !== 'string') return `${path}: expected a string, got ${JSON.stringify(actual)}`;
      const glob = new RegExp('^' + p.value.split('...').map(escapeRegExp).join('[\\s\\S]*') + '$');
      return glob.test(actual) ? undefined : `${path}: expected ${JSON.stringify(p.value)}, got ${JSON.stringify(actual)}`;
    }
    case 'array': {
      if (!Array.isArray(actual)) return `${path}: expected an array, got ${JSON.stringify(actual)}`;
      if (p.open ? actual.length < p.items.length : actual.length !== p.items.length) {
        return `${path}: expected ${p.items.length}${p.open ? ' or more' : ''} elements, got ${actual.length}: ${JSON.stringify(actual)}`;
      }
      for (let i = 0; i < p.items.length; i++) {
        const m = mismatch(p.items[i], actual[i], `${path}[${i}]`);
        if (m) return m;
      }
      return undefined;
    }
    case 'object': {
      if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return `${path}: expected an object, got ${JSON.stringify(actual)}`;
      const got = actual as Record<string, unknown>;
      for (const [key, value] of p.entries) {
        if (!(key in got)) return `${path}: expected a member "${key}", got ${JSON.stringify(actual)}`;
        const m = mismatch(value, got[key], `${path}.${key}`);
        if (m) return m;
      }
      if (!p.open) {
        const extra = Object.keys(got).filter((k) => !p.entries.some(([e]) => e === k));
        if (extra.length > 0) return `${path}: unexpected member(s) ${extra.join(', ')} (add ... to the example to allow others): ${JSON.stringify(actual)}`;
      }
      return undefined;
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
