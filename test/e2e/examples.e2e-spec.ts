// examples/ run for real: the TS producer and worker (type-checked, then run by Node's TypeScript support through the
// @mini-kafka/client package, i.e. clients/typescript built) and the seed tutorial's Python classes, via BROKER_URL.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const execFileAsync = promisify(execFile);
const root = resolve(__dirname, '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const python = process.env.PYTHON ?? '/usr/bin/python3';

describe('examples', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Async children throughout: the broker under test answers from this process.
    await execFileAsync('npm', ['run', '--silent', 'client:build'], { cwd: root, encoding: 'utf8' });
    t = await startApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    if (t) removeDir(t.dataDir);
  });

  it('the TypeScript examples type-check (tsc -p examples)', async () => {
    // tsc reports its diagnostics on stdout: compare that, so a failure shows them.
    const { stdout } = await execFileAsync(bin('tsc'), ['-p', join(root, 'examples/tsconfig.json')], { encoding: 'utf8' }).catch(
      (e: { stdout: string }) => ({ stdout: e.stdout || String(e) }),
    );
    expect(stdout).toBe('');
  }, 60_000);

  it('producer.ts sends, then worker.ts consumes and acks everything, with BROKER_URL', async () => {
    // Node runs .ts by stripping types from 22.18 / 23.6 on; npm scripts here run on Node 24.
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(major > 22 || (major === 22 && minor >= 18)).toBe(true);
    const env = { ...process.env, BROKER_URL: t.url, TOPIC: 'example-orders', COUNT: '4', STOP_WHEN_IDLE: 'true', WAIT_MS: '200' };
    const produced = await execFileAsync(process.execPath, ['examples/producer.ts'], { cwd: root, env, encoding: 'utf8' });
    expect(produced.stdout.trim().split('\n')).toEqual([
      'sent order 0 as message 0',
      'sent order 1 as message 1',
      'sent order 2 as message 2',
      'sent order 3 as message 3',
      'sent a batch as messages 4, 5, 6',
    ]);
    const worked = await execFileAsync(process.execPath, ['examples/worker.ts'], { cwd: root, env, encoding: 'utf8' });
    const lines = worked.stdout.trim().split('\n');
    expect(lines[0]).toBe(`worker order-worker consuming example-orders at ${t.url}`);
    expect(lines.slice(1, 5).map((l) => l.replace(/"at":"[^"]+"/, '"at":"…"'))).toEqual(
      [0, 1, 2, 3].map((i) => `processed message ${i}: {"order":${i},"at":"…"}`),
    );
    expect(lines.slice(5, 8)).toEqual(['processed message 4: batch-a', 'processed message 5: batch-b', 'processed message 6: batch-c']);
    expect(lines[8]).toBe('worker order-worker stopped after 7 message(s); committed offset 7, lag 0');
  }, 60_000);

  it('python/seed_example.py (the seed tutorial classes) runs against BROKER_URL', async () => {
    const env = { ...process.env, BROKER_URL: t.url };
    const { stdout } = await execFileAsync(python, [join(root, 'examples/python/seed_example.py')], { env, encoding: 'utf8' });
    const lines = stdout.trim().split('\n');
    for (let i = 0; i < 10; i++) {
      expect(lines).toContain(`Message sent with ID: ${i}`);
      expect(lines).toContain(`Received message: Hello, Mini Kafka! - message ${i} (ID: ${i})`);
      expect(lines).toContain(`Acknowledged message ID: ${i}`);
    }
    expect(lines[lines.length - 1]).toBe('DONE');
  }, 60_000);
});
