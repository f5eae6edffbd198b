// Batch produce at the machine's limit: ×1000 of 100 B as JSON and as NDJSON, FSYNC=always, against the bare
// parse-and-fsync server (baselines/parse-fsync.mjs), the ceiling of a Node server that does only the
// irreducible work of a durable batch. All four rows are measured in interleaved slices.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from '../lib/load.mjs';
import { VALUE_BYTES } from '../lib/payloads.mjs';
import { count, markdownTable, mb, ms, progressLine, ratio, rssMb } from '../lib/report.mjs';
import { startParseFsyncBaseline } from '../lib/servers.mjs';
import { batchWorkload } from './batch.mjs';

export const usesBaselines = false;

const LIMIT_BATCH = 1000;
const CONNECTIONS = 16;

export async function run(ctx) {
  const broker = await ctx.startBroker('batch-limit', { FSYNC: 'always' });
  try {
    return { sections: [await againstParseFsync(ctx, broker)] };
  } finally {
    await ctx.discard(broker);
  }
}

/** Broker vs the bare parse-and-fsync server, JSON and NDJSON bodies, all four interleaved in one run. */
async function againstParseFsync(ctx, broker) {
  const bare = await startParseFsyncBaseline(mkdtempSync(join(ctx.workDir, 'parse-fsync-')), ctx.workDir);
  try {
    const json = batchWorkload(LIMIT_BATCH);
    const ndjson = batchWorkload(LIMIT_BATCH, true);
    const results = await measure([
      { server: broker, isBaseline: false, label: 'broker · JSON', workload: json },
      { server: bare, isBaseline: true, label: 'bare parse+fsync · JSON', workload: json },
      { server: broker, isBaseline: false, label: 'broker · NDJSON', workload: ndjson },
      { server: bare, isBaseline: true, label: 'bare parse+fsync · NDJSON', workload: ndjson },
    ], json, ctx.settings);
    for (const r of results) console.error(progressLine(`batch ×${LIMIT_BATCH} vs parse+fsync`, r));
    const [bj, pj, bn, pn] = results;
    const rows = [
      ['JSON', bj.target, bj, bj.reqPerSec / pj.reqPerSec],
      ['JSON', pj.target, pj, 1],
      ['NDJSON', bn.target, bn, bn.reqPerSec / pn.reqPerSec],
      ['NDJSON', pn.target, pn, 1],
    ].map(([body, target, r, x]) => [body, target, String(r.connections), count(r.reqPerSec), count(r.msgPerSec), mb(r.mbPerSec), ms(r.p50), ms(r.p99), rssMb(r.rssPeak), count(r.failed), ratio(x)]);
    const best = Math.max(bj.reqPerSec, bn.reqPerSec) / Math.max(pj.reqPerSec, pn.reqPerSec);
    const body = [
      `Batches of ${LIMIT_BATCH} × ${VALUE_BYTES} B at ${CONNECTIONS} connections, FSYNC=always, against a bare node:http server that does only the irreducible work (read the body, JSON.parse it or split and parse the NDJSON lines, frame the values into one buffer with one zlib.crc32, one group-committed write + fdatasync per turn of the event loop, answer base offset and ids). The four rows are measured in interleaved slices. × parse+fsync: broker req/s ÷ the bare server's with the same body.`,
      markdownTable(['body', 'target', 'conn', 'req/s', 'msg/s', 'MB/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'failed', '× parse+fsync'], rows),
      `Best of JSON/NDJSON through the broker ÷ best of the bare server: **${ratio(best)}**.`,
    ].join('\n\n');
    return { title: `Batch produce vs a bare parse-and-fsync server`, body };
  } finally {
    await bare.stop();
  }
}

