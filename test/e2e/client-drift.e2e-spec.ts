// The TypeScript client's generated types (clients/typescript/src/schema.d.ts) match openapi.yaml, and the client
// compiles with its own tsconfig. After an API change: `npm run build && npm run openapi && npm run client:generate`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const root = resolve(__dirname, '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const clientDir = join(root, 'clients/typescript');

describe('TypeScript client drift', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mk-drift-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('schema.d.ts is exactly what openapi-typescript generates from openapi.yaml (run `npm run client:generate`)', async () => {
    const regenerated = join(tmp, 'schema.d.ts');
    // The same command as the client:generate script, written to a temp file instead of the committed one.
    await execFileAsync(bin('openapi-typescript'), ['openapi.yaml', '-o', regenerated], { cwd: root, encoding: 'utf8' });
    const committed = readFileSync(join(clientDir, 'src/schema.d.ts'), 'utf8');
    expect(committed).toEqual(readFileSync(regenerated, 'utf8'));
    const script = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(script['client:generate']).toBe('openapi-typescript openapi.yaml -o clients/typescript/src/schema.d.ts');
  }, 60_000);

  it('compiles with its own tsconfig (strict, DOM lib, no Node types), emitting JS and declarations', async () => {
    const out = join(tmp, 'dist');
    const { stdout } = await execFileAsync(bin('tsc'), ['-p', join(clientDir, 'tsconfig.json'), '--outDir', out], { encoding: 'utf8' }).catch(
      (e: { stdout: string }) => ({ stdout: e.stdout || String(e) }), // tsc's diagnostics, shown by the expectation below
    );
    expect(stdout).toBe('');
    expect(readFileSync(join(out, 'index.d.ts'), 'utf8')).toContain('export declare function createBrokerClient(');
    expect(readFileSync(join(out, 'index.js'), 'utf8')).toContain('export class Consumer');
  }, 60_000);
});
