// The two storage drivers side by side: the embedded log (FSYNC=always) and JetStream on a local 3-node
// cluster (R3), under single produce at 64 connections and batch produce, measured in interleaved slices.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from '../lib/load.mjs';
import { natsServerAvailable, startNatsCluster } from '../lib/nats-cluster.mjs';
import { batchBody, PRODUCE_BODY, VALUE_BYTES } from '../lib/payloads.mjs';
import { count, markdownTable, ms, rssMb } from '../lib/report.mjs';
import { startBroker } from '../lib/servers.mjs';

export const usesBaselines = false;

const WORKLOADS = [
  { label: 'single produce', path: '/topics/bench-driver/messages', body: PRODUCE_BODY, connections: 64, messagesPerRequest: 1 },
  { label: 'batch ×100', path: '/topics/bench-driver-batch/messages/batch', body: batchBody(100), connections: 16, messagesPerRequest: 100 },
  { label: 'batch ×1000', path: '/topics/bench-driver-batch/messages/batch', body: batchBody(1000), connections: 16, messagesPerRequest: 1000 },
];

export async function run(ctx) {
  if (!(await natsServerAvailable())) {
    console.error('  nats-server is not installed: driver scenario skipped (apt-get install nats-server)');
    return { sections: [{ title: 'Storage drivers side by side', body: 'Skipped: nats-server is not installed.' }] };
  }
  const cluster = await startNatsCluster(ctx.workDir, 3);
  const brokers = [];
  try {
    const start = async (name, env) => {
      const dataDir = mkdtempSync(join(ctx.workDir, `${name}-`));
      const broker = await startBroker({ name, dataDir, env, logPath: join(ctx.workDir, `${name}.log`), cpuProfDir: ctx.settings.cpuProfDir });
      broker.dataDir = dataDir;
      brokers.push(broker);
      return broker;
    };
    const embedded = await start('embedded (FSYNC=always)', { FSYNC: 'always' });
    const jetstream = await start('jetstream (3 nodes, R3)', { STORAGE: 'jetstream', NATS_URLS: cluster.urls });
    const targets = [embedded, jetstream].map((server) => ({ server, isBaseline: false }));
    const rows = [];
    for (const w of WORKLOADS) {
      const workload = { ...w, method: 'POST', valueBytes: VALUE_BYTES, baselineMessages: true };
      const results = await measure(targets, workload, ctx.settings);
      for (const r of results) {
        console.error(`  ${w.label} ${r.target}: ${count(r.reqPerSec)} req/s, ${count(r.msgPerSec)} msg/s, p99 ${ms(r.p99)} ms`);
        rows.push([w.label, r.target, String(r.connections), count(r.reqPerSec), count(r.msgPerSec), ms(r.p50), ms(r.p99), rssMb(r.rssPeak), count(r.failed)]);
      }
    }
    const table = markdownTable(['workload', 'driver', 'conn', 'req/s', 'msg/s', 'p50 ms', 'p99 ms', 'broker RSS MB', 'failed'], rows);
    return {
      sections: [
        {
          title: 'Storage drivers side by side',
          body:
            'The same HTTP API on the embedded log (one fsync per group commit) and on NATS JetStream (a publish per message, ' +
            'answered after a Raft quorum of a local 3-node cluster stored it). 100-byte messages. The three nats-server ' +
            'processes share the machine with the broker and the load generator; their memory is not in the RSS column.\n\n' +
            table,
        },
      ],
    };
  } finally {
    for (const b of brokers) {
      await b.stop();
      rmSync(b.dataDir, { recursive: true, force: true });
    }
    await cluster.stop();
  }
}
