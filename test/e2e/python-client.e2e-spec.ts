// The Python client's own pytest suite (clients/python/tests) against real brokers: one open, one with API keys.
// Needs Debian's python3 with httpx, pytest, pytest-asyncio, yaml, setuptools, wheel, venv and mypy (.ci/run installs them);
// a missing one fails this spec with the packages to install, rather than skipping it.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const execFileAsync = promisify(execFile);
const root = resolve(__dirname, '../..');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const API_KEY = 'py-client-test-key-0123456789';
const AUTH_KEYS = [{ name: 'python-client', key: API_KEY, rights: [{ topics: 'py-*', actions: ['produce', 'consume', 'admin'] }] }];

/** Python module → the Debian package that provides it. */
const MODULES: Record<string, string> = {
  httpx: 'python3-httpx',
  pytest: 'python3-pytest',
  pytest_asyncio: 'python3-pytest-asyncio',
  yaml: 'python3-yaml',
  setuptools: 'python3-setuptools',
  wheel: 'python3-wheel',
  ensurepip: 'python3-venv',
  mypy: 'python3-mypy',
};

async function missingPackages(): Promise<string[]> {
  const script = `import importlib.util, json; print(json.dumps([m for m in ${JSON.stringify(Object.keys(MODULES))} if importlib.util.find_spec(m) is None]))`;
  try {
    const { stdout } = await execFileAsync(python, ['-c', script], { encoding: 'utf8' });
    return (JSON.parse(stdout) as string[]).map((m) => MODULES[m]);
  } catch {
    return ['python3', ...Object.values(MODULES)];
  }
}

describe('the Python client (clients/python)', () => {
  let open: TestApp;
  let auth: TestApp;
  beforeAll(async () => {
    [open, auth] = await Promise.all([startApp(), startApp({ AUTH_KEYS: JSON.stringify(AUTH_KEYS) })]);
  });
  afterAll(async () => {
    for (const t of [open, auth]) {
      if (!t) continue;
      await t.close();
      removeDir(t.dataDir);
    }
  });

  it('passes its pytest suite against the brokers', async () => {
    const missing = await missingPackages();
    if (missing.length > 0) {
      throw new Error(`${python} lacks Debian packages for the Python client tests: apt-get install ${missing.join(' ')}`);
    }
    const env = {
      ...process.env,
      MINI_KAFKA_URL: open.url,
      MINI_KAFKA_AUTH_URL: auth.url,
      MINI_KAFKA_API_KEY: API_KEY,
      PYTHONDONTWRITEBYTECODE: '1',
    };
    // Async child: the brokers under test answer from this process. -rs lists skips, which must not happen.
    const args = ['-m', 'pytest', '-p', 'no:cacheprovider', '-rs', '-q', 'clients/python/tests'];
    const run = await execFileAsync(python, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }).then(
      ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
      (e: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, output: `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    if (!run.ok) throw new Error(`pytest failed:\n${run.output}`);
    const summary = run.output.trim().split('\n').pop() ?? '';
    expect(summary).toMatch(/\d+ passed/);
    expect(summary).not.toMatch(/skipped|failed|error/);
  }, 360_000);
});
