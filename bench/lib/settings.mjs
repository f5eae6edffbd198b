// Run settings from the environment, read once: durations, which scenarios, full-size data sets.

const SCENARIOS = ['produce', 'batch', 'batch-limit', 'poll-ack', 'fetch', 'long-poll', 'log-size', 'restart', 'partitions', 'soak', 'driver', 'replicas'];

function seconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds, got '${raw}'`);
  return value;
}

function selectedScenarios() {
  const raw = process.env.BENCH_ONLY?.trim();
  if (!raw) return SCENARIOS;
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.includes(n));
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  return SCENARIOS.filter((n) => names.includes(n));
}

export function readSettings() {
  return {
    /** Measured seconds per run (each target, each configuration). */
    seconds: seconds('BENCH_SECONDS', 5),
    /** Each run is cut into this many slices, interleaved with the other targets' slices. */
    slices: Math.max(1, Math.round(seconds('BENCH_SLICES', 5))),
    /** Unmeasured load before each run: JIT, connection setup and the page cache settle first. */
    warmupSeconds: seconds('BENCH_WARMUP_SECONDS', 1),
    /** 10M stored messages and a ≥1 GB log instead of 1M and ~200 MB. */
    full: process.env.BENCH_FULL === '1',
    scenarios: selectedScenarios(),
    /** Directory for `node --cpu-prof` profiles of each broker started, when set. */
    cpuProfDir: process.env.BENCH_CPU_PROF || null,
  };
}
