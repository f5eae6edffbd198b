// Load generation: autocannon runs against the servers under test, turned into the figures the tables show.
import autocannon from 'autocannon';
import { describeTopic } from './http.mjs';
import { batchBody, JSON_HEADERS } from './payloads.mjs';
import { sampleRss } from './servers.mjs';

/**
 * A workload is what one run sends (every field is read by fire() or summarize()):
 * - `path`, `method`, `body`: one request repeated on every connection, or
 * - `perConnection(serial)`: a request sequence per connection (autocannon `requests`), e.g. poll then ack
 *   with that connection's own consumer id; `serial` is unique over the whole bench run.
 * - `messagesPerRequest`: messages produced or delivered by one answered request (0.5 for poll+ack).
 * - `baselineMessages`: whether a baseline's answers count as messages too (true when it receives the same
 *   messages in the request; false when the broker would send messages the baseline does not have).
 * - `valueBytes`: bytes of one message value, for MB/s; `connections`; `amount` (a request count instead
 *   of a duration); `headers` (JSON content-type by default when there is a body).
 */
let connectionSerial = 0;

function fire(server, workload, seconds, onLatency) {
  const connections = workload.amount ? Math.min(workload.connections, workload.amount) : workload.connections;
  const opts = {
    url: server.url + (workload.path ?? '/'),
    method: workload.method ?? 'GET',
    body: workload.body,
    headers: workload.headers ?? (workload.body === undefined ? {} : JSON_HEADERS),
    connections,
    duration: seconds,
    amount: workload.amount,
    // Slow answers (fsync, big batches) are results to report, not errors.
    timeout: 30,
    // autocannon stops on a sample tick: a short interval lets a run end close to its duration.
    sampleInt: 100,
  };
  if (workload.perConnection) opts.setupClient = (client) => client.setRequests(workload.perConnection(connectionSerial++));
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    if (onLatency) {
      // autocannon's own histogram keeps whole milliseconds; sub-millisecond answers need the raw times.
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) onLatency(ms);
      });
    }
  });
}

/** Unmeasured load for `seconds` (e.g. to have writes in flight when the broker is killed). */
export function background(server, workload, seconds) {
  return fire(server, workload, seconds, null);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The figures of one target, summed over its slices. */
function emptyTally(server, isBaseline, label) {
  return { server, isBaseline, label, ok: 0, seconds: 0, failed: 0, latencies: [], rssPeak: 0, statusCodes: {}, errors: 0, timeouts: 0, sliceRates: [] };
}

function addSlice(tally, result, rssPeak) {
  tally.sliceRates.push(result['2xx'] / result.duration);
  tally.ok += result['2xx'];
  tally.seconds += result.duration;
  tally.failed += result.non2xx + result.errors + result.timeouts;
  tally.errors += result.errors;
  tally.timeouts += result.timeouts;
  tally.rssPeak = Math.max(tally.rssPeak, rssPeak);
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) tally.statusCodes[code] = (tally.statusCodes[code] ?? 0) + count;
}

function summarize(tally, workload) {
  const { server, latencies } = tally;
  latencies.sort((a, b) => a - b);
  if (tally.failed > 0) {
    const codes = Object.entries(tally.statusCodes).map(([code, n]) => `${code}×${n}`).join(' ');
    console.error(`    ! ${server.name}: ${tally.failed} failed (${codes}; errors ${tally.errors}, timeouts ${tally.timeouts})`);
  }
  const reqPerSec = tally.ok / tally.seconds;
  const msgPerSec = !tally.isBaseline || workload.baselineMessages ? reqPerSec * workload.messagesPerRequest : null;
  return {
    target: tally.label ?? server.name,
    connections: workload.connections,
    reqPerSec,
    msgPerSec,
    mbPerSec: msgPerSec === null ? null : (msgPerSec * (workload.valueBytes ?? 0)) / 1e6,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rssPeak: tally.rssPeak,
    failed: tally.failed,
    /** req/s of each slice, in order: slice i of every target ran back to back. */
    sliceRates: tally.sliceRates,
  };
}

/**
 * Measures `workload` against each target ({ server, isBaseline, label?, workload? }) for `settings.seconds`
 * each, cut into `settings.slices` slices run round-robin (A,B,C,A,B,C,...): on a shared machine a busy
 * moment then hits every target alike instead of one. Each target is warmed up first; its RSS is sampled
 * while loaded. A target's own `workload` (e.g. the same batch as NDJSON) replaces the shared one.
 */
export async function measure(targets, workload, settings) {
  const loads = targets.map((t) => t.workload ?? workload);
  for (let i = 0; i < targets.length; i++) await fire(targets[i].server, loads[i], settings.warmupSeconds, null);
  const tallies = targets.map(({ server, isBaseline, label }) => emptyTally(server, isBaseline, label));
  const sliceSeconds = settings.seconds / settings.slices;
  for (let slice = 0; slice < settings.slices; slice++) {
    for (let i = 0; i < tallies.length; i++) {
      const tally = tallies[i];
      const rss = sampleRss(tally.server);
      const result = await fire(tally.server, loads[i], sliceSeconds, (ms) => tally.latencies.push(ms));
      addSlice(tally, result, rss.stop());
    }
  }
  return tallies.map((tally, i) => summarize(tally, loads[i]));
}

/**
 * Fills `topic` with at least `count` 100-byte messages through batch produce of 1000 per request, then
 * returns the topic's view.
 */
export async function prefill(server, topic, count, { perRequest = 1000, connections = 4 } = {}) {
  const before = (await describeTopic(server, topic).catch(() => null))?.message_count ?? 0;
  const missing = count - before;
  if (missing > 0) {
    const result = await fire(server, {
      path: `/topics/${topic}/messages/batch`,
      method: 'POST',
      body: batchBody(perRequest),
      connections,
      amount: Math.ceil(missing / perRequest),
    }, 1, null);
    if (result.non2xx + result.errors + result.timeouts > 0) {
      throw new Error(`prefill of ${topic} failed: ${JSON.stringify(result.statusCodeStats)}, errors ${result.errors}`);
    }
  }
  return describeTopic(server, topic);
}
