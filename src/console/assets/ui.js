// Small DOM helpers for the console: element builder (text only, never HTML from data), formatters, sparkline, toasts.

/** h('div', {class: 'x', onclick: fn}, 'text', child) — strings become text nodes, so message data is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_TAGS.has(tag) ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'value' && 'value' in el) el.value = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const SVG_TAGS = new Set(['svg', 'path', 'polyline', 'line', 'circle', 'rect', 'defs', 'linearGradient', 'stop']);

export function fmtNum(n) {
  return Number(n ?? 0).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  const v = n / 1024 ** i;
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function fmtRate(perSecond) {
  if (perSecond === null || perSecond === undefined) return '–';
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k/s`;
  if (perSecond >= 10 || perSecond === 0) return `${Math.round(perSecond)}/s`;
  return `${perSecond.toFixed(1)}/s`;
}

export function fmtTime(ms) {
  const d = new Date(ms);
  const pad = (x, n = 2) => String(x).padStart(n, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtAgo(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** An SVG sparkline of the last values (a flat baseline while there is nothing to show). */
export function sparkline(values, { width = 120, height = 28 } = {}) {
  const svg = h('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true' });
  const pts = values.slice(-60);
  if (pts.length < 2) {
    svg.append(h('line', { class: 'base', x1: 0, y1: height - 1, x2: width, y2: height - 1 }));
    return svg;
  }
  const max = Math.max(...pts, 1);
  const step = width / (pts.length - 1);
  const coords = pts.map((v, i) => [i * step, height - 2 - (v / max) * (height - 4)]);
  const line = coords.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  svg.append(
    h('line', { class: 'base', x1: 0, y1: height - 1, x2: width, y2: height - 1 }),
    h('path', { class: 'area', d: `M0,${height - 1} L${line.replaceAll(' ', ' L')} L${width},${height - 1} Z` }),
    h('polyline', { class: 'line', points: line }),
  );
  return svg;
}

export function lagBar(lag, scale) {
  const pct = scale > 0 ? Math.min(100, Math.max(lag > 0 ? 4 : 0, (lag / scale) * 100)) : 0;
  return h('span', { class: `lagbar${lag === 0 ? ' zero' : ''}`, title: `${fmtNum(lag)} behind` }, h('i', { style: `width:${lag === 0 ? 100 : pct}%` }));
}

export function toast(text, kind = '') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}`, role: kind === 'err' ? 'alert' : 'status' }, text);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'err' ? 6000 : 3500);
}

/** Runs fn now and every ms until the returned stop() is called; calls never overlap. */
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      await fn();
    } catch {
      /* the API layer reports errors */
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
