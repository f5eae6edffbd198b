// README.md's curl examples, pasted in order into a shell against a fresh broker, answer what the README says
// under each of them (the doctest rules are in test/support/readme-doctest.ts). Real curl, run by bash.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Example, mismatch, parseExpectation, readExamples } from '../support/readme-doctest';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const execFileAsync = promisify(execFile);
const README = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
const STATUS_MARK = '\n__README_TEST_STATUS__:';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe('README examples', () => {
  let parsed: ReturnType<typeof readExamples> = { blocks: [], skipped: [] };
  let unreadable: unknown;
  try {
    parsed = readExamples(README);
  } catch (err) {
    unreadable = err;
  }
  const { blocks, skipped } = parsed;
  let t: TestApp;
  /** Shell variables set by `NAME=$(...)` lines, for the commands after them. */
  const vars: Record<string, string> = {};

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t?.close();
    if (t) removeDir(t.dataDir);
  });

  /** The command as a user runs it, against this test's broker instead of localhost:8000. */
  const localize = (command: string) => command.replaceAll('localhost:8000', t.url.replace(/^http:\/\//, ''));

  // Async children only: the broker under test answers from this process.
  const bash = (script: string) =>
    execFileAsync('bash', ['-c', script], { env: { ...process.env, ...vars }, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });

  async function run(example: Example): Promise<Answer | undefined> {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(example.command.trim());
    if (assignment) {
      const { stdout } = await bash(`${localize(example.command)}\nprintf %s "$${assignment[1]}"`);
      vars[assignment[1]] = stdout;
      return undefined;
    }
    if (!/^curl\s/.test(example.command.trim())) throw new Error(`README.md:${example.line}: only curl commands and NAME=$(...) lines can run here`);
    // -sS: no progress meter, errors still shown; -w: the status after the body, whatever -i or -o say.
    const command = localize(example.command.trim()).replace(/^curl\s/, `curl -sS --max-time 50 -w '${STATUS_MARK}%{http_code}' `);
    const { stdout } = await bash(command);
    const at = stdout.lastIndexOf(STATUS_MARK);
    let body = stdout.slice(0, at);
    const headers: Record<string, string> = {};
    if (/^HTTP\/[\d.]+ \d{3}/.test(body)) {
      // -i: the head, then the body.
      const end = body.indexOf('\r\n\r\n');
      for (const line of body.slice(0, end).split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      body = body.slice(end + 4);
    }
    return { status: Number(stdout.slice(at + STATUS_MARK.length)), headers, body };
  }

  it('marks every example it does not run, with a reason', () => {
    expect(unreadable).toBeUndefined();
    expect(blocks.length).toBeGreaterThan(0);
    for (const s of skipped) expect([s.line, s.reason.length > 0]).toEqual([s.line, true]);
    // Only examples that need what a test cannot give them (docker, a long-lived stream, a build) stay unrun.
    expect(skipped.length).toBeLessThanOrEqual(8);
    for (const b of blocks) expect([b.line, b.examples.some((e) => /^curl\s/.test(e.command.trim()))]).toEqual([b.line, true]);
  });

  it('runs every example in order and gets the answer shown under it', async () => {
    let ran = 0;
    for (const block of blocks) {
      for (const example of block.examples) {
        const answer = await run(example);
        if (!answer) continue;
        ran++;
        const where = `README.md:${example.line}: ${example.command}\nanswered ${answer.status}: ${answer.body.slice(0, 2000)}`;
        const expected = example.expected;
        if (expected?.status !== undefined) expect([where, answer.status]).toEqual([where, expected.status]);
        else expect([where, answer.status >= 200 && answer.status < 300]).toEqual([where, true]);
        for (const [name, value] of expected?.headers ?? []) expect([where, name, answer.headers[name]]).toEqual([where, name, value]);
        if (!expected || expected.values.length === 0) continue;
        const actual = parseJsonValues(answer.body, where);
        expect([where, actual.length]).toEqual([where, expected.values.length]);
        expected.values.forEach((pattern, i) => expect([where, mismatch(pattern, actual[i])]).toEqual([where, undefined]));
      }
    }
    expect(ran).toBeGreaterThan(30);
  }, 300_000);

  it('checks what it claims to: wildcards match only where written', () => {
    const check = (expected: string, actual: unknown) => mismatch(parseExpectation(expected, 0).values[0], actual);
    expect(check('{"status":"created","topic":{...}}', { status: 'created', topic: { name: 'x' } })).toBeUndefined();
    expect(check('{"status":"created","topic":{...}}', { status: 'exists', topic: {} })).toMatch(/\$\.status/);
    expect(check('{"message_id":0}', { message_id: 0, partition: 1 })).toMatch(/unexpected member\(s\) partition/);
    expect(check('{"message_id":0,...}', { message_id: 0, partition: 1 })).toBeUndefined();
    expect(check('{"lease_id":"AQAA..."}', { lease_id: 'AQAAxyz' })).toBeUndefined();
    expect(check('{"lease_id":"AQAA..."}', { lease_id: 'BQAA' })).toBeDefined();
    expect(check('[1,...]', [1, 2, 3])).toBeUndefined();
    expect(check('[1,2]', [1, 2, 3])).toBeDefined();
    expect(parseExpectation('HTTP/1.1 404  {"detail":"No new messages"}', 0)).toMatchObject({ status: 404, values: [{ kind: 'object' }] });
    expect(parseExpectation('HTTP/1.1 200 OK\nIdempotent-Replayed: true\n{"a":1}  (a remark)', 0)).toMatchObject({
      status: 200,
      headers: [['idempotent-replayed', 'true']],
    });
    expect(() => parseExpectation('201, or 200 if it exists', 7)).toThrow(/README.md:7/);
  });
});

/** One JSON value, or NDJSON (one value per line). */
function parseJsonValues(body: string, where: string): unknown[] {
  try {
    return [JSON.parse(body)];
  } catch {
    try {
      return body
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as unknown);
    } catch {
      throw new Error(`${where}\nis not JSON`);
    }
  }
}
