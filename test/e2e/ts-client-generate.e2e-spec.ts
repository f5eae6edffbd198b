// Generating TypeScript types the way the README says, in a project on today's TypeScript (7): the README's npx line
// run verbatim (openapi-typescript with TypeScript 5 in npx's cache), its output equal to the committed
// clients/typescript/src/schema.d.ts, and a client using it type-checked by TypeScript 7's tsc. Needs the npm registry.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const root = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

/** The README's command line for generating types (the one starting with `npx ... openapi-typescript@`). */
function readmeCommand(): string {
  const line = readFileSync(join(root, 'README.md'), 'utf8')
    .split('\n')
    .find((l) => /^npx .*openapi-typescript@\S+ openapi-typescript /.test(l));
  if (!line) throw new Error('README.md has no `npx ... openapi-typescript@<version> openapi-typescript ...` line');
  return line.trim();
}

describe('TypeScript types generated as the README says, in a TypeScript 7 project', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mk-ts7-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the README pins the openapi-typescript version this repo uses', () => {
    const pinned = /openapi-typescript@(\S+)/.exec(readmeCommand())?.[1];
    expect(pinned).toBe(pkg.devDependencies['openapi-typescript']);
  });

  it('runs the README line verbatim, writes the committed schema.d.ts, and TypeScript 7 type-checks a client with it', async () => {
    copyFileSync(join(root, 'openapi.yaml'), join(dir, 'openapi.yaml'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'ts7-project', private: true, type: 'module' }));
    const npm = (args: string[]) => execFileAsync('npm', args, { cwd: dir, encoding: 'utf8', timeout: 240_000 });
    await npm(['install', '--no-audit', '--no-fund', 'typescript@7', `openapi-fetch@${pkg.devDependencies['openapi-fetch']}`]);
    const tsVersion = (JSON.parse(readFileSync(join(dir, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }).version;
    expect(tsVersion).toMatch(/^7\./);

    await execFileAsync('sh', ['-c', readmeCommand()], { cwd: dir, encoding: 'utf8', timeout: 240_000 });
    expect(readFileSync(join(dir, 'schema.d.ts'), 'utf8')).toEqual(readFileSync(join(root, 'clients/typescript/src/schema.d.ts'), 'utf8'));

    writeFileSync(
      join(dir, 'client.ts'),
      [
        "import createClient from 'openapi-fetch';",
        "import type { paths } from './schema.js';",
        "const api = createClient<paths>({ baseUrl: 'http://localhost:8000' });",
        'export async function produce(text: string): Promise<number> {',
        "  const { data, error } = await api.POST('/topics/{topic}/messages', { params: { path: { topic: 'orders' }, query: { message: text } } });",
        '  if (error) throw new Error(error.detail);',
        '  return data.message_id;',
        '}',
        // A wrong field must be an error: the check below sees TypeScript 7 really type-check against the schema.
        "export const wrong = async () => (await api.GET('/topics/{topic}/messages', { params: { path: { topic: 't' }, query: { consumer_id: 'c' } } })).data?.no_such_field;",
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true }, files: ['client.ts'] }),
    );
    const tsc = await execFileAsync(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    // Exactly one diagnostic: the deliberate wrong field; everything else compiles.
    expect(tsc.out.trim().split('\n')).toEqual([expect.stringMatching(/^client\.ts\(9,\d+\): error TS2339: Property 'no_such_field' does not exist/)]);
    expect(tsc.code).not.toBe(0);
  }, 300_000);
});
