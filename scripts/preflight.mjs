// `npm test` runs this first: checks that the machine has everything the suites use (browsers, servers, Python
// modules, Java, a Docker engine, root for the tmpfs test) and, where something is missing, installs it with
// scripts/install-test-deps.sh when it can (Debian/Ubuntu, root or passwordless sudo), saying what it installs.
// Otherwise it lists everything missing in one message with the command that installs it, and exits 1: a suite
// is never skipped because its tool is absent. PREFLIGHT_NO_INSTALL=1 only reports.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const installScript = 'scripts/install-test-deps.sh';
const dockerLocal = path.resolve(repo, '../shared/tools/docker-local');
const isRoot = process.getuid?.() === 0;

const ok = (cmd, args, timeout = 20_000) => spawnSync(cmd, args, { stdio: 'ignore', timeout }).status === 0;
const onPath = (bin) => ok('sh', ['-c', `command -v "${bin}"`]);
const executable = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Everything missing, each as {what, why, packages}; packages are Debian's (empty: nothing to install). */
function findMissing() {
  const missing = [];
  const need = (present, what, why, packages = []) => present || missing.push({ what, why, packages });

  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  need(executable(chromium), chromium, '/docs and /console in a real browser (e2e)', ['chromium']);
  const nats = process.env.NATS_SERVER_BIN ?? 'nats-server';
  need(onPath(nats), nats, 'a real 3-node JetStream cluster (e2e driver contract, crash failover)', ['nats-server']);
  need(onPath('curl'), 'curl', 'the README examples are run as pasted, with curl (e2e)', ['curl']);
  need(onPath('java'), 'java', 'Swagger Codegen generates the Python client (e2e)', ['default-jre-headless']);
  need(onPath('fusermount3'), 'fusermount3', 'power-cut tests on a FUSE file system', ['fuse3']);

  const python = process.env.PYTHON ?? '/usr/bin/python3';
  const modules = [
    ['requests', 'the seed tutorial\'s Python classes (e2e)', 'python3-requests'],
    ['urllib3', 'the generated Python client (e2e)', 'python3-urllib3'],
    ['six', 'the generated Python client (e2e)', 'python3-six'],
    ['certifi', 'the generated Python client (e2e)', 'python3-certifi'],
    ['dateutil', 'the generated Python client (e2e)', 'python3-dateutil'],
    ['httpx', 'the Python client (clients/python)', 'python3-httpx'],
    ['pytest', 'the Python client\'s tests', 'python3-pytest'],
    ['pytest_asyncio', 'the Python client\'s async tests', 'python3-pytest-asyncio'],
    ['yaml', 'the Python client\'s drift check against openapi.yaml', 'python3-yaml'],
    ['setuptools', 'the Python client\'s offline install', 'python3-setuptools'],
    ['wheel', 'the Python client\'s offline install', 'python3-wheel'],
    ['ensurepip', 'the Python client\'s install into a venv', 'python3-venv'],
    ['pip', 'the Python client\'s install into a venv', 'python3-pip'],
    ['mypy', 'the Python client is checked with mypy --strict', 'python3-mypy'],
    ['fusepy', 'power-cut tests', 'python3-fusepy'],
  ];
  if (!executable(python)) {
    need(false, python, 'the Python clients (e2e)', ['python3', ...modules.map((m) => m[2])]);
  } else {
    const probe = `import importlib.util as u\nfor m in ${JSON.stringify(modules.map((m) => m[0]))}:\n    u.find_spec(m) or print(m)`;
    const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', timeout: 20_000 });
    const absent = r.status === 0 ? r.stdout.split('\n').filter(Boolean) : modules.map((m) => m[0]);
    for (const [mod, why, pkg] of modules) need(!absent.includes(mod), `Python module ${mod} (${python})`, why, [pkg]);
  }

  need(isRoot, 'root', 'the disk-full test mounts a 1 MiB tmpfs (and docker-local needs root)');

  // The docker test uses the engine `docker info` reaches; where none answers it starts one with docker-local.
  const composeOk = () => ok('docker', ['compose', 'version']) || onPath('docker-compose');
  if (ok('docker', ['info'])) {
    need(composeOk(), 'docker compose or docker-compose', 'the docker test runs docker-compose.yml', ['docker-compose']);
  } else if (fs.existsSync(dockerLocal)) {
    const why = 'no engine answers `docker info`: the docker test starts one with ../shared/tools/docker-local';
    need(onPath('dockerd') && onPath('docker'), 'dockerd and docker', why, ['docker.io']);
    need(composeOk(), 'docker-compose', 'the docker test runs docker-compose.yml', ['docker-compose']);
    need(onPath('debootstrap'), 'debootstrap', 'docker-local builds the node base image locally (nothing can be pulled)', ['debootstrap']);
  } else {
    const why = `npm run test:docker builds and runs the image, and no engine answers \`docker info\` (DOCKER_HOST=${process.env.DOCKER_HOST ?? 'default'}): start Docker or point DOCKER_HOST at one`;
    need(false, 'a Docker engine', why, onPath('docker') ? [] : ['docker.io', 'docker-compose']);
  }
  return missing;
}

function canInstall() {
  if (process.env.PREFLIGHT_NO_INSTALL === '1' || process.platform !== 'linux' || !onPath('apt-get')) return false;
  return isRoot || ok('sudo', ['-n', 'true']);
}

function describe(missing) {
  return missing.map((m) => `  - ${m.what}: ${m.why}${m.packages.length ? ` [Debian: ${m.packages.join(' ')}]` : ''}`).join('\n');
}

let missing = findMissing();
if (missing.length > 0 && missing.some((m) => m.packages.length > 0) && canInstall()) {
  const pkgs = [...new Set(missing.flatMap((m) => m.packages))];
  process.stdout.write(`preflight: the test suite needs what this machine lacks:\n${describe(missing)}\n`);
  process.stdout.write(`preflight: installing Debian packages ${pkgs.join(' ')} with: bash ${installScript}\n`);
  const r = spawnSync('bash', [path.join(repo, installScript)], { stdio: 'inherit' });
  if (r.status !== 0) process.stderr.write(`preflight: ${installScript} exited ${r.status}\n`);
  missing = findMissing();
}
if (missing.length > 0) {
  const pkgs = missing.some((m) => m.packages.length > 0);
  process.stderr.write(
    `\npreflight: npm test cannot run; this machine lacks:\n${describe(missing)}\n` +
      (pkgs ? `Install the packages with:\n  ${isRoot ? '' : 'sudo '}bash ${installScript}\n` : '') +
      (missing.some((m) => m.what === 'root') ? 'and run the tests as root.\n' : '') +
      `(No suite is skipped: everything above is needed by npm test.)\n`,
  );
  process.exit(1);
}
process.stdout.write('preflight: chromium, nats-server, java, python3 modules, fuse3, root and a Docker engine (or docker-local) are here\n');
