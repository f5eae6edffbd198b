// The contract: openapi.yaml equals what the code serves, lints clean, and a generated client works.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { toYaml } from '../../src/openapi/yaml';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const execFileAsync = promisify(execFile);
const root = resolve(__dirname, '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);

describe('OpenAPI contract', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('serves Swagger UI at /docs and the document at /docs-json', async () => {
    const ui = await request(t.url).get('/docs').redirects(1).expect(200);
    expect(ui.text).toContain('swagger-ui');
    const doc = await request(t.url).get('/docs-json').expect(200);
    expect(doc.body.paths['/topics/{topic}/messages'].post.operationId).toBe('produceMessage');
  });

  it('openapi.yaml is exactly what the code serves (run `npm run build && npm run openapi` after API changes)', async () => {
    const served = (await request(t.url).get('/docs-json').expect(200)).body;
    const committed = readFileSync(join(root, 'openapi.yaml'), 'utf8');
    expect(committed).toEqual(toYaml(served));
  });

  it('gives every operation an operationId and documents its error answers', async () => {
    const doc = (await request(t.url).get('/docs-json').expect(200)).body;
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, { operationId?: string; responses: Record<string, unknown> }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId).toMatch(/^[a-z][A-Za-z]+$/);
        expect(ids.has(op.operationId!)).toBe(false);
        ids.add(op.operationId!);
        if (path.includes('{topic}')) expect(Object.keys(op.responses)).toContain('400');
        expect(Object.keys(op.responses).some((s) => s.startsWith('2'))).toBe(true);
        void method;
      }
    }
    expect(ids.size).toBeGreaterThanOrEqual(13);
  });

  it('lints clean with @redocly/cli', async () => {
    const { stdout } = await execFileAsync(bin('redocly'), ['lint', 'openapi.yaml', '--format=stylish'], { cwd: root, encoding: 'utf8' });
    expect(stdout).not.toMatch(/error/i);
  }, 60_000);

  it('a client generated with openapi-typescript + openapi-fetch compiles and runs the seed cycle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mk-client-'));
    try {
      await execFileAsync(bin('openapi-typescript'), [join(root, 'openapi.yaml'), '-o', join(dir, 'schema.d.ts')]);
      copyFileSync(join(__dirname, 'client/seed-cycle.client.mts'), join(dir, 'seed-cycle.client.mts'));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            skipLibCheck: true,
            outDir: 'out',
            rootDir: '.',
            types: ['node'],
          },
          files: ['seed-cycle.client.mts', 'schema.d.ts'],
        }),
      );
      // The client resolves openapi-fetch (and @types/node) from the project's node_modules.
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
      // Type-check against the generated types: a contract change that breaks this client fails here.
      const tsc = await execFileAsync(bin('tsc'), ['-p', dir], { encoding: 'utf8' }).catch((err: { stdout?: string; stderr?: string }) => err);
      expect(`${tsc.stdout ?? ''}${tsc.stderr ?? ''}`).toBe('');
      // Async: the server under test lives in this process, so a sync child would block it from answering.
      const { stdout } = await execFileAsync(process.execPath, [join(dir, 'out/seed-cycle.client.mjs'), t.url], { encoding: 'utf8' });
      expect(JSON.parse(stdout)).toEqual({ ids: [0, 1, 2], received: ['one', 'two', 'three'], cursor: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
