// What every scenario gets: settings, the baselines, brokers on throw-away data dirs, and the
// interleaved broker-vs-baselines measurement.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from './load.mjs';
import { comparisonRows, progressLine } from './report.mjs';
import { startBroker } from './servers.mjs';

export function createContext(settings, workDir, baselines) {
  return {
    settings,
    baselines,
    workDir,

    /** A broker on a fresh DATA_DIR under the run's temp dir; `env` overrides broker settings. */
    async startBroker(label, env = {}) {
      const dataDir = mkdtempSync(join(workDir, `${label}-`));
      const broker = await startBroker({
        dataDir,
        env,
        logPath: join(workDir, `${label}.log`),
        cpuProfDir: settings.cpuProfDir,
      });
      broker.dataDir = dataDir;
      return broker;
    },

    /** Stops a broker and deletes its data (runs fill the disk with GBs). */
    async discard(broker) {
      await broker.stop();
      rmSync(broker.dataDir, { recursive: true, force: true });
    },

    /**
     * Runs the same workload against the broker, bare node:http and the Nest no-op, interleaved, so all
     * three see the same machine state; returns the table rows.
     */
    async compare(scenario, broker, workload) {
      const targets = [
        { server: broker, isBaseline: false },
        { server: baselines.bare, isBaseline: true },
        { server: baselines.nest, isBaseline: true },
      ];
      const results = await measure(targets, workload, settings);
      for (const result of results) console.error(progressLine(scenario, result));
      return comparisonRows(scenario, results, baselines);
    },
  };
}
