// The run's circumstances for the report header, so two latest.md files can be compared fairly.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ROOT, startCommand } from './servers.mjs';

function gitRevision() {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${rev} (src modified)` : rev;
  } catch {
    return 'unknown';
  }
}

function cpuModel() {
  const match = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return match ? match[1].trim() : cpus()[0]?.model ?? 'unknown';
}

export function describeRun(settings, elapsedMs) {
  const only = process.env.BENCH_ONLY ? ` BENCH_ONLY=${process.env.BENCH_ONLY}` : '';
  return [
    `- when: ${new Date().toISOString()} · commit ${gitRevision()} · Node ${process.version}`,
    `- machine: ${cpus().length} × ${cpuModel()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `- settings: BENCH_SECONDS=${settings.seconds} BENCH_SLICES=${settings.slices} BENCH_WARMUP_SECONDS=${settings.warmupSeconds} BENCH_FULL=${settings.full ? 1 : 0}${only}`,
    `- scenarios: ${settings.scenarios.join(', ')} · wall time ${(elapsedMs / 1000).toFixed(0)} s`,
    `- broker started as \`npm start\` does: \`${startCommand().script}\``,
  ].join('\n');
}
