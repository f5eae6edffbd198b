// The disk's own write+fdatasync latency, to read the group-commit figures against: 100-byte-ish overwrites of a
// preallocated file in the temp dir (DIR=... elsewhere), each followed by fdatasync. Usage: node bench/fsync-probe.mjs [N=1000 env]
import { openSync, writeSync, fdatasyncSync, closeSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os'; import { join } from 'node:path';
const dir = mkdtempSync(join(process.env.DIR ?? tmpdir(), 'fsp-')); const f = join(dir, 'x');
const fd = openSync(f, 'w+'); writeSync(fd, Buffer.alloc(4 << 20), 0, 4 << 20, 0); fdatasyncSync(fd);
const buf = Buffer.alloc(150, 1); const t = [];
for (let i = 0; i < Number(process.env.N ?? 1000); i++) { const s = performance.now(); writeSync(fd, buf, 0, 150, i * 150); fdatasyncSync(fd); t.push(performance.now() - s); }
closeSync(fd); rmSync(dir, { recursive: true });
t.sort((a, b) => a - b); const p = (q) => t[Math.floor(q * t.length)].toFixed(3);
console.log(`write+fdatasync n=${t.length}: p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, p99 ${p(0.99)} ms, mean ${(t.reduce((a, b) => a + b) / t.length).toFixed(3)} ms`);
