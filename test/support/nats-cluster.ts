// A real JetStream cluster on localhost for the tests: three `nats-server -js` processes with cluster routes
// between them, each with its own store dir, started (asynchronously: the app under test may share this
// process) and torn down by the test that needs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? 'nats-server';
const READY_TIMEOUT_MS = 60_000;

const running = new Set<ChildProcess>();
// A failed or interrupted run must not leave servers behind holding ports.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface NatsNode {
  name: string;
  port: number;
  clusterPort: number;
  url: string;
  storeDir: string;
  configPath: string;
  child: ChildProcess | null;
  output: string;
}

export class NatsCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: NatsNode[],
  ) {}

  /** Client URLs of every node, as the broker's NATS_URLS wants them. */
  get urls(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  /** Starts `size` nodes (3: a real Raft quorum) and resolves once JetStream answers with a meta leader. */
  static async start(size = 3, clusterName = 'mk-test'): Promise<NatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'mk-nats-'));
    const nodes: NatsNode[] = [];
    for (let i = 1; i <= size; i++) {
      const name = `n${i}`;
      const port = await freePort();
      const clusterPort = await freePort();
      const storeDir = join(dir, name);
      mkdirSync(storeDir, { recursive: true });
      nodes.push({ name, port, clusterPort, url: `nats://127.0.0.1:${port}`, storeDir, configPath: join(dir, `${name}.conf`), child: null, output: '' });
    }
    for (const node of nodes) {
      const routes = nodes.filter((n) => n !== node).map((n) => `"nats-route://127.0.0.1:${n.clusterPort}"`);
      writeFileSync(
        node.configPath,
        [
          `server_name: "${node.name}"`,
          `listen: "127.0.0.1:${node.port}"`,
          // Room for MAX_MESSAGE_BYTES (1 MiB by default) plus the record's headers.
          'max_payload: 8MB',
          `jetstream { store_dir: "${node.storeDir}", max_memory_store: 256MB, max_file_store: 8GB }`,
          size > 1 ? `cluster { name: "${clusterName}", listen: "127.0.0.1:${node.clusterPort}", routes: [${routes.join(', ')}] }` : '',
          '',
        ].join('\n'),
      );
    }
    const cluster = new NatsCluster(dir, nodes);
    for (const node of nodes) cluster.spawnNode(node);
    await cluster.waitUntilReady();
    return cluster;
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no NATS node ${name}`);
    return node;
  }

  private spawnNode(node: NatsNode): void {
    const child = spawn(NATS_SERVER, ['-c', node.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      node.output = (node.output + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => keep(Buffer.from(`spawn failed: ${err.message}\n`)));
    running.add(child);
    child.once('exit', () => running.delete(child));
    node.child = child;
  }

  /** Kills one node (SIGKILL is a crash: no lame-duck, no flush) and waits until it is gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(name);
    const child = node.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill(signal);
    await exited;
    node.child = null;
  }

  /** Starts a stopped node again on its own store dir, so it catches up with the others. */
  async restart(name: string): Promise<void> {
    const node = this.node(name);
    if (node.child) throw new Error(`${name} is still running`);
    this.spawnNode(node);
    await this.waitUntilReady();
  }

  /** Stops every node (SIGTERM: a clean shutdown), keeping the store dirs for a restart. */
  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.name, 'SIGTERM')));
  }

  async startAll(): Promise<void> {
    for (const node of this.nodes) if (!node.child) this.spawnNode(node);
    await this.waitUntilReady();
  }

  /** Stops every node and deletes the store dirs. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.name, 'SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A client connection to the cluster (the caller closes it). */
  connect(): Promise<NatsConnection> {
    return connect({ servers: this.nodes.filter((n) => n.child).map((n) => n.url), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  }

  /**
   * Ready = every running node accepts clients and JetStream can place a stream on all of them: a replicated
   * stream needs a meta leader and enough current peers, which `$JS.API.INFO` alone does not show.
   */
  async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const live = this.nodes.filter((n) => n.child);
    let lastError = '';
    while (Date.now() < deadline) {
      for (const n of live) {
        if (n.child && n.child.exitCode !== null) throw new Error(`nats-server ${n.name} exited (${n.child.exitCode}):\n${n.output}`);
      }
      let nc: NatsConnection | null = null;
      try {
        nc = await connect({ servers: live.map((n) => n.url), timeout: 1000, maxReconnectAttempts: 0 });
        const jsm = await nc.jetstreamManager({ timeout: 2000 });
        const probe = `READY_${process.pid}_${Date.now()}`;
        await jsm.streams.add({ name: probe, subjects: [`ready.${probe}`], num_replicas: live.length, storage: 'memory' as never });
        await jsm.streams.delete(probe);
        for (const n of live) {
          const one = await connect({ servers: n.url, timeout: 1000, maxReconnectAttempts: 0 });
          await one.close();
        }
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      } finally {
        await nc?.close().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`NATS cluster not ready within ${READY_TIMEOUT_MS} ms (${lastError}):\n${live.map((n) => `--- ${n.name}\n${n.output}`).join('\n')}`);
  }

  /** The server name of the Raft leader of a stream (JetStream API: stream info → cluster.leader). */
  async streamLeader(stream: string): Promise<string> {
    const nc = await this.connect();
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(stream);
      if (!info.cluster?.leader) throw new Error(`stream ${stream} has no leader right now`);
      return info.cluster.leader;
    } finally {
      await nc.close();
    }
  }
}

/** A port nobody listens on right now: bind port 0, read it, close. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}
