// The topics page: totals, a create-topic form, and every topic with partitions, size, message count,
// a throughput sparkline and its consumers' lag.
import { api, apiKey, enc } from './api.js';
import { every, fmtBytes, fmtNum, fmtRate, h, lagBar, sparkline, toast } from './ui.js';

const MAX_LAG_LOOKUPS = 50;

export function topicsView(root, { throughput, subscribe }) {
  const lags = new Map(); // topic → {consumers, maxLag}
  let topics = null;

  const stats = h('div', { class: 'stats' });
  const count = h('span', { class: 'pill' }, '…');
  const body = h('tbody');
  const form = createTopicForm();
  root.replaceChildren(
    stats,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', {}, 'Topics'), count, h('span', { class: 'spacer' }), form),
      h(
        'table',
        { class: 'topics' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'Topic'), h('th', { class: 'r' }, 'Partitions'), h('th', { class: 'r' }, 'Messages'), h('th', { class: 'r' }, 'Size'), h('th', {}, 'Throughput'), h('th', { class: 'r' }, 'Consumers'), h('th', {}, 'Max lag')),
        ),
        body,
      ),
    ),
    snippets(),
  );

  function render() {
    if (!topics) return;
    const totalMessages = topics.reduce((n, t) => n + t.message_count, 0);
    const totalBytes = topics.reduce((n, t) => n + t.size_bytes, 0);
    const partitions = topics.reduce((n, t) => n + t.partitions, 0);
    stats.replaceChildren(
      stat('Topics', `${fmtNum(topics.length)}${topics.more ? '+' : ''}`, `${fmtNum(partitions)}${topics.more ? '+' : ''} partition${partitions === 1 ? '' : 's'}${topics.more ? ' (the first topics by name)' : ''}`),
      stat('Messages stored', fmtNum(totalMessages), 'across every partition'),
      stat('On disk', fmtBytes(totalBytes), `${fmtNum(topics.reduce((n, t) => n + t.segment_count, 0))} segments`),
      stat('Throughput', fmtRate(throughput.current()), sparkline(throughput.overall, { width: 140, height: 26 })),
    );
    count.textContent = `${topics.length}${topics.more ? '+' : ''}`;
    if (topics.length === 0) {
      body.replaceChildren(
        h('tr', {}, h('td', { colspan: 7, class: 'empty' }, h('strong', {}, 'No topics yet'), 'Create one above, or produce to a topic name and it appears here.')),
      );
      return;
    }
    const maxLag = Math.max(1, ...[...lags.values()].map((l) => l.maxLag));
    body.replaceChildren(
      ...topics.map((t) => {
        const lag = lags.get(t.name);
        return h(
          'tr',
          { class: 'link', dataset: { topic: t.name }, onclick: () => (location.hash = `#/topics/${enc(t.name)}`) },
          h('td', {}, h('a', { class: 'topic-name', href: `#/topics/${enc(t.name)}` }, t.name)),
          h('td', { class: 'r num' }, t.partitions),
          h('td', { class: 'r num' }, fmtNum(t.message_count)),
          h('td', { class: 'r num' }, fmtBytes(t.size_bytes)),
          h('td', {}, h('span', { class: 'rate' }, sparkline(throughput.rates(t.name)), h('span', { class: 'num' }, fmtRate(throughput.current(t.name))))),
          h('td', { class: 'r num' }, lag?.consumers ? lag.consumers : h('span', { class: 'muted' }, '–')),
          h('td', { class: 'num' }, lag && lag.consumers > 0 ? [fmtNum(lag.maxLag), lagBar(lag.maxLag, maxLag)] : h('span', { class: 'muted' }, '–')),
        );
      }),
    );
  }

  async function refreshLags() {
    if (!topics) return;
    await Promise.all(
      topics.slice(0, MAX_LAG_LOOKUPS).map(async (t) => {
        try {
          const { consumers } = await api('GET', `/topics/${enc(t.name)}/consumers`);
          const byConsumer = new Map();
          for (const c of consumers) byConsumer.set(c.consumer_id, (byConsumer.get(c.consumer_id) ?? 0) + c.lag);
          lags.set(t.name, { consumers: byConsumer.size, maxLag: Math.max(0, ...byConsumer.values()) });
        } catch {
          lags.delete(t.name);
        }
      }),
    );
    render();
  }

  const unsubscribe = subscribe((list) => {
    topics = list;
    render();
  });
  const stopLags = every(4000, refreshLags);
  return () => {
    unsubscribe();
    stopLags();
  };
}

/** The same API from a terminal: what this page does, in three commands. */
function snippets() {
  const base = location.origin;
  const key = apiKey.get() ? ` -H 'X-API-Key: …'` : '';
  const snippet = (label, text) => h('div', { class: 'snippet' }, h('span', {}, label), h('pre', {}, text));
  return h(
    'section',
    { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', {}, 'From a terminal'), h('span', { class: 'muted' }, 'everything here is the broker’s HTTP API')),
    h(
      'div',
      { class: 'snippets' },
      snippet('Produce', `curl -X POST${key} '${base}/topics/orders/messages?message=hello'`),
      snippet('Tail live (Server-Sent Events)', `curl -N${key} '${base}/topics/orders/stream?position=beginning'`),
      snippet('Poll and acknowledge', `curl${key} '${base}/topics/orders/messages?consumer_id=me'\ncurl -X POST${key} '${base}/topics/orders/messages/0/ack?consumer_id=me'`),
    ),
  );
}

function stat(label, value, sub) {
  return h('div', { class: 'card stat' }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value), h('span', { class: 'sub' }, sub));
}

function createTopicForm() {
  const name = h('input', { name: 'name', placeholder: 'new-topic-name', required: true, pattern: '[A-Za-z0-9._\\-]{1,249}', title: 'Letters, digits, . _ and -', spellcheck: 'false' });
  const partitions = h('input', { name: 'partitions', type: 'number', min: 1, max: 1024, value: '1', title: 'Partitions' });
  const button = h('button', { class: 'btn', type: 'submit' }, 'Create topic');
  return h(
    'form',
    {
      class: 'inline-form',
      id: 'create-topic',
      onsubmit: async (e) => {
        e.preventDefault();
        button.disabled = true;
        try {
          const answer = await api('POST', '/topics', { name: name.value.trim(), partitions: Number(partitions.value) || 1 });
          toast(answer.status === 'created' ? `Created ${answer.topic.name}` : `${answer.topic.name} already exists`, 'ok');
          location.hash = `#/topics/${enc(answer.topic.name)}`;
        } catch (err) {
          toast(err.message, 'err');
        } finally {
          button.disabled = false;
        }
      },
    },
    name,
    h('label', { class: 'with-suffix', title: 'Partitions' }, partitions, h('span', {}, 'partitions')),
    button,
  );
}
