// The console's shell: API key, theme, broker health, one GET /topics poll shared by the pages, hash routing.
import { api, apiKey, enc, onApiError } from './api.js';
import { Throughput } from './throughput.js';
import { topicView } from './topic-view.js';
import { topicsView } from './topics-view.js';
import { every, h } from './ui.js';

const POLL_MS = 2000;
/** One page of the topic list per poll: thousands of topics would otherwise be megabytes every 2 s. */
const LIST_LIMIT = 1000;
const throughput = new Throughput();
const subscribers = new Set();
let lastTopics = null;
/** The topic the topic page shows: fetched on its own when it is past the first page of the list. */
let shownTopic = null;

/** Pages subscribe to the topic list; they get the latest at once and every poll after. */
function subscribe(fn) {
  subscribers.add(fn);
  if (lastTopics) fn(lastTopics);
  return () => subscribers.delete(fn);
}

async function pollTopics() {
  const { topics, next } = await api('GET', `/topics?limit=${LIST_LIMIT}`);
  if (next && shownTopic && !topics.some((t) => t.name === shownTopic)) {
    topics.push(await api('GET', `/topics/${enc(shownTopic)}`).catch(() => null));
    if (!topics[topics.length - 1]) topics.pop();
  }
  // The list was cut at LIST_LIMIT: the topics page says so rather than showing wrong totals as complete.
  topics.more = Boolean(next);
  throughput.record(topics);
  lastTopics = topics;
  hideBanner('auth');
  subscribers.forEach((fn) => fn(topics));
}

// ---- API key -------------------------------------------------------------------------------------------
const keyInput = document.getElementById('api-key');
keyInput.value = apiKey.get();
document.getElementById('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey.set(keyInput.value.trim());
  hideBanner('auth');
  route(); // reconnect the live tail with the new key
  void pollTopics().catch(() => undefined);
});

const banner = document.getElementById('banner');
function showBanner(kind, text, error = false) {
  banner.dataset.kind = kind;
  banner.className = `banner${error ? ' error' : ''}`;
  banner.textContent = text;
  banner.hidden = false;
}
function hideBanner(kind) {
  if (banner.dataset.kind === kind) banner.hidden = true;
}
onApiError((err) => {
  if (err.status === 401) {
    showBanner('auth', apiKey.get() ? 'This API key is not known to the broker. Check it and save again.' : 'This broker requires an API key: paste one in the field at the top right. It stays in this browser (localStorage) and is sent as X-API-Key.', true);
    keyInput.focus();
  }
});

// ---- theme ---------------------------------------------------------------------------------------------
const THEMES = ['auto', 'light', 'dark'];
const themeBtn = document.getElementById('theme');
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  themeBtn.title = `Theme: ${t}`;
  localStorage.setItem('mini-kafka.theme', t);
}
applyTheme(localStorage.getItem('mini-kafka.theme') ?? 'auto');
themeBtn.addEventListener('click', () => {
  const now = document.documentElement.dataset.theme ?? 'auto';
  applyTheme(THEMES[(THEMES.indexOf(now) + 1) % THEMES.length]);
});

// ---- health --------------------------------------------------------------------------------------------
const health = document.getElementById('health');
every(5000, async () => {
  let state = 'bad';
  let label = 'offline';
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    state = res.ok ? 'ok' : 'bad';
    label = res.ok ? 'ready' : 'not ready';
  } catch {
    /* offline */
  }
  health.className = `health ${state}`;
  health.querySelector('.label').textContent = label;
});

// ---- routing -------------------------------------------------------------------------------------------
const view = document.getElementById('view');
let dispose = () => undefined;

function route() {
  dispose();
  const m = /^#\/topics\/([^/]+)$/.exec(location.hash);
  const ctx = { throughput, subscribe };
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', !m);
  if (m) {
    const name = decodeURIComponent(m[1]);
    shownTopic = name;
    document.title = `${name} · mini-kafka console`;
    dispose = topicView(view, name, ctx);
  } else {
    shownTopic = null;
    document.title = 'mini-kafka console';
    dispose = topicsView(view, ctx);
  }
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
view.append(h('div', { class: 'card card-note' }, 'Loading…'));
route();
every(POLL_MS, pollTopics);
