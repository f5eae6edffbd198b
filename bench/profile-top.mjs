// Summarizes a `node --cpu-prof` profile (e.g. from BENCH_CPU_PROF=<dir> npm run bench): the functions and
// the packages/files where the CPU time went, by self time.
// Usage: node bench/profile-top.mjs FILE [N] [--last=SECONDS]  (--last: only the final seconds, e.g. to
// leave out start-up and prefill and keep the measured load).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './lib/servers.mjs';

const args = process.argv.slice(2);
const lastArg = args.find((a) => a.startsWith('--last='));
const [file, topArg] = args.filter((a) => a !== lastArg);
if (!file) {
  console.error('usage: node bench/profile-top.mjs FILE.cpuprofile [N] [--last=SECONDS]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

// Sample i happened at startTime + the sum of timeDeltas up to i (µs); keep those in the window.
const sampleTimes = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) sampleTimes.push((t += delta));
const windowStart = lastArg ? profile.endTime - Number(lastArg.slice('--last='.length)) * 1e6 : -Infinity;

// Self time per node: samples are node ids, timeDeltas the time each sample stands for.
const selfUs = new Map();
profile.samples.forEach((id, i) => {
  if (sampleTimes[i] >= windowStart) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** Where code lives, short: a package name, a path inside the repo, or node's own. */
function place(url) {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return pkg ? pkg[1] : relative(ROOT, path);
}

const byFunction = new Map();
const byPlace = new Map();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (!us) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'}  ${place(url)}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byPlace.set(place(url), (byPlace.get(place(url)) ?? 0) + us);
}

function print(title, map, n) {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  }
}

console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
print('by function (self time)', byFunction, top);
print('by package / file (self time)', byPlace, 15);
