// Markdown output: the comparison table (broker vs both baselines) and the helpers other tables use.

export function markdownTable(headers, rows, align = headers.map((_, i) => (i < 2 ? 'l' : 'r'))) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const rule = align.map((a) => (a === 'r' ? '---:' : '---'));
  return [line(headers), line(rule), ...rows.map(line)].join('\n');
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(n) {
  return n === null || n === undefined ? '—' : int.format(n);
}

export function ms(n) {
  if (n === null || n === undefined) return '—';
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

export function mb(n) {
  if (n === null || n === undefined) return '—';
  return n < 1 ? n.toFixed(2) : n.toFixed(1);
}

export function ratio(n) {
  return n === null || n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}×`;
}

export function rssMb(bytes) {
  return bytes ? int.format(bytes / 2 ** 20) : '—';
}

/**
 * One comparison group: the broker and both baselines under the same load. Ratios are of req/s — the same
 * request against a server that does the work and against ones that do none — which equals the msg/s
 * ratio wherever the baseline receives the same messages.
 */
export function comparisonRows(scenario, results, baselines) {
  const bare = results.find((r) => r.target === baselines.bare.name);
  const nest = results.find((r) => r.target === baselines.nest.name);
  return results.map((r) => [
    scenario,
    r.target,
    String(r.connections),
    count(r.reqPerSec),
    count(r.msgPerSec),
    mb(r.mbPerSec),
    ms(r.p50),
    ms(r.p99),
    rssMb(r.rssPeak),
    count(r.failed),
    ratio(bare ? r.reqPerSec / bare.reqPerSec : null),
    withSpread(nest ? r.reqPerSec / nest.reqPerSec : null, r, nest),
  ]);
}

/**
 * The ratio with its spread over the slices (slice i of this target ÷ slice i of the baseline, lowest–highest),
 * so a reader can tell a change from noise; only for the rows that are not the baseline itself.
 */
function withSpread(value, r, baseline) {
  if (!baseline || r === baseline || !r.sliceRates?.length || r.sliceRates.length !== baseline.sliceRates?.length) return ratio(value);
  const perSlice = r.sliceRates.map((rate, i) => rate / baseline.sliceRates[i]).filter(Number.isFinite);
  if (perSlice.length < 2) return ratio(value);
  return `${ratio(value)} (${Math.min(...perSlice).toFixed(2)}–${Math.max(...perSlice).toFixed(2)})`;
}

export const COMPARISON_HEADERS = [
  'scenario', 'target', 'conn', 'req/s', 'msg/s', 'MB/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'failed', '× bare', '× Nest (slices min–max)',
];

export function comparisonTable(rows) {
  return markdownTable(COMPARISON_HEADERS, rows);
}

/** A one-line summary of a result for progress output. */
export function progressLine(scenario, r) {
  const msgs = r.msgPerSec === null ? '' : ` ${count(r.msgPerSec)} msg/s`;
  return `  ${scenario} · ${r.target} · ${r.connections} conn: ${count(r.reqPerSec)} req/s${msgs}, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, RSS ${rssMb(r.rssPeak)} MB`;
}
