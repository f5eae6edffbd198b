// A 3-node NATS JetStream cluster on localhost for the `driver` scenario: nats-server processes with cluster
// routes and their own store dirs under the run's temp dir (the tests have the same in test/support).
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { freePort } from './servers.mjs';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? 'nats-server';
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Whether nats-server is installed (the scenario is skipped without it). */
export function natsServerAvailable() {
  return new Promise((resolve) => {
    const child = spawn(NATS_SERVER, ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

export async function startNatsCluster(dir, size = 3) {
  const nodes = [];
  for (let i = 1; i <= size; i++) {
    nodes.push({ name: `n${i}`, port: await freePort(), clusterPort: await freePort(), storeDir: join(dir, `nats-n${i}`) });
  }
  for (const node of nodes) {
    mkdirSync(node.storeDir, { recursive: true });
    const routes = nodes.filter((n) => n !== node).map((n) => `"nats-route://127.0.0.1:${n.clusterPort}"`);
    const config = join(dir, `nats-${node.name}.conf`);
    writeFileSync(
      config,
      [
        `server_name: "${node.name}"`,
        `listen: "127.0.0.1:${node.port}"`,
        'max_payload: 8MB',
        `jetstream { store_dir: "${node.storeDir}" }`,
        `cluster { name: "mk-bench", listen: "127.0.0.1:${node.clusterPort}", routes: [${routes.join(', ')}] }`,
        '',
      ].join('\n'),
    );
    const fd = openSync(join(dir, `nats-${node.name}.log`), 'a');
    node.child = spawn(NATS_SERVER, ['-c', config], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    running.add(node.child);
    node.child.on('exit', () => running.delete(node.child));
  }
  const urls = nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  await waitUntilReady(urls, size);
  return {
    urls,
    nodes,
    async stop() {
      await Promise.all(
        nodes.map(
          (n) =>
            new Promise((resolve) => {
              if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
              n.child.once('exit', resolve);
              n.child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** Ready = JetStream can place a stream on every node (a meta leader and current peers). */
async function waitUntilReady(urls, replicas) {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    let nc = null;
    try {
      nc = await connect({ servers: urls.split(','), timeout: 1000, maxReconnectAttempts: 0 });
      const jsm = await nc.jetstreamManager({ timeout: 2000 });
      const name = `READY_${Date.now()}`;
      await jsm.streams.add({ name, subjects: [`ready.${name}`], num_replicas: replicas, storage: 'memory' });
      await jsm.streams.delete(name);
      return;
    } catch (err) {
      last = err.message;
    } finally {
      await nc?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`NATS cluster not ready: ${last}`);
}
