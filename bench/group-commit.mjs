// What the group commit does under a given load: runs the built broker, sends N single-message produces at C
// connections and reads the broker's own histograms (messages per commit, write+fsync time). Usage:
// npm run build && node bench/group-commit.mjs [FSYNC=always|interval|never] [CONNECTIONS=16] [REQUESTS=5000]
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from './lib/servers.mjs';
import { PRODUCE_BODY, JSON_HEADERS } from './lib/payloads.mjs';
const [fsync = 'always', conns = '16', n = '5000'] = process.argv.slice(2);
const work = mkdtempSync(join(tmpdir(), 'mk-groups-'));
const b = await startBroker({ dataDir: join(work, 'd'), env: { FSYNC: fsync }, logPath: join(work, 'log') });
const fire = (amount) => new Promise((res, rej) => autocannon({ url: `${b.url}/topics/g/messages`, method: 'POST', body: PRODUCE_BODY, headers: JSON_HEADERS, connections: Number(conns), amount }, (e, r) => (e ? rej(e) : res(r))));
await fire(1000);
const m0 = await (await fetch(`${b.url}/metrics`)).text();
const r = await fire(Number(n));
const m1 = await (await fetch(`${b.url}/metrics`)).text();
const get = (t, name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(t)?.[1] ?? 0);
const commits = get(m1, 'minikafka_group_commit_messages_count') - get(m0, 'minikafka_group_commit_messages_count');
const msgs = get(m1, 'minikafka_group_commit_messages_sum') - get(m0, 'minikafka_group_commit_messages_sum');
const fs = get(m1, 'minikafka_fsync_duration_seconds_sum') - get(m0, 'minikafka_fsync_duration_seconds_sum');
console.log(`FSYNC=${fsync} ${conns} conn: ${(r["2xx"] / r.duration).toFixed(0)} req/s, p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms; ${commits} commits for ${msgs} messages = ${(msgs / commits).toFixed(2)} per commit; write(+fsync) ${(1000 * fs / commits).toFixed(3)} ms avg`);
await b.stop(); rmSync(work, { recursive: true, force: true });
