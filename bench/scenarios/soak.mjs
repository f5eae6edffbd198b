// Memory under sustained load: 256 connections of single 100-byte produces (FSYNC=always) for
// BENCH_SOAK_SECONDS (60), the broker's RSS sampled every 100 ms. Reports the peak and the growth after warm-up.
import { background } from '../lib/load.mjs';
import { PRODUCE_BODY, VALUE_BYTES } from '../lib/payloads.mjs';
import { count, markdownTable, rssMb } from '../lib/report.mjs';

export const usesBaselines = false;

const CONNECTIONS = 256;
/** RSS before this is warm-up (JIT, heap growing to its working size); growth is measured after it. */
const WARMUP_SECONDS = 10;

export async function run(ctx) {
  const seconds = Number(process.env.BENCH_SOAK_SECONDS || 60);
  const broker = await ctx.startBroker('soak', { FSYNC: 'always' });
  try {
    const started = Date.now();
    let peak = 0;
    let afterWarmup = null;
    let last = 0;
    const timer = setInterval(() => {
      const rss = broker.rssBytes() ?? 0;
      peak = Math.max(peak, rss);
      last = rss;
      if (afterWarmup === null && Date.now() - started >= WARMUP_SECONDS * 1000) afterWarmup = rss;
    }, 100);
    const result = await background(broker, {
      path: '/topics/bench-soak/messages',
      method: 'POST',
      body: PRODUCE_BODY,
      connections: CONNECTIONS,
      valueBytes: VALUE_BYTES,
    }, seconds);
    clearInterval(timer);
    const failed = result.non2xx + result.errors + result.timeouts;
    console.error(`  soak · ${CONNECTIONS} conn · ${seconds} s: ${count(result['2xx'] / result.duration)} req/s, peak RSS ${rssMb(peak)} MB, after warm-up ${rssMb(afterWarmup)} MB, at end ${rssMb(last)} MB`);
    const body = [
      `Single 100-byte produces at ${CONNECTIONS} connections, FSYNC=always, for ${seconds} s; VmRSS sampled every 100 ms. Growth: RSS at the end minus RSS after ${WARMUP_SECONDS} s of warm-up.`,
      markdownTable(
        ['conn', 'seconds', 'req/s', 'p50 ms', 'p99 ms', `RSS at ${WARMUP_SECONDS} s MB`, 'RSS at end MB', 'growth MB', 'peak RSS MB', 'failed'],
        [[String(CONNECTIONS), String(seconds), count(result['2xx'] / result.duration), String(result.latency.p50), String(result.latency.p99), rssMb(afterWarmup), rssMb(last), afterWarmup ? count((last - afterWarmup) / 2 ** 20) : '—', rssMb(peak), count(failed)]],
      ),
    ].join('\n\n');
    return { sections: [{ title: 'Memory soak', body }] };
  } finally {
    await ctx.discard(broker);
  }
}
