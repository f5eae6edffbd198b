// A topic's page: its header and the live tail (SSE); the side panels (produce, partitions, consumers, groups) are in topic-panels.js.
import { enc } from './api.js';
import { TopicTail } from './event-stream.js';
import { consumersCard, groupsCard, options, partitionsCard, produceCard } from './topic-panels.js';
import { every, fmtAgo, fmtBytes, fmtNum, fmtRate, fmtTime, h, sparkline } from './ui.js';

const MAX_ROWS = 500;

export function topicView(root, name, { throughput, subscribe }) {
  let topic = null;
  const chips = h('div', { class: 'chips' });
  const rate = h('span', { class: 'rate' });
  const tail = tailCard(name);
  const produce = produceCard(name);
  const partitions = partitionsCard();
  const consumers = consumersCard(name);
  const groups = groupsCard(name);
  root.replaceChildren(
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Topics'), h('span', {}, '/'), h('h1', {}, name), chips, h('span', { style: 'flex:1' }), h('span', { class: 'rate', title: 'Messages per second, from the log end offsets' }, h('span', { class: 'muted' }, 'throughput'), rate)),
    h('div', { class: 'topic-grid' }, tail.el, h('div', { class: 'side' }, produce.el, partitions.el, consumers.el, groups.el)),
  );

  const unsubscribe = subscribe((list) => {
    const found = list.find((t) => t.name === name) ?? null;
    if (!found) {
      chips.replaceChildren(h('span', { class: 'pill err' }, 'not found'));
      return;
    }
    const first = topic === null;
    topic = found;
    chips.replaceChildren(
      h('span', { class: 'pill accent' }, h('b', {}, topic.partitions), topic.partitions === 1 ? ' partition' : ' partitions'),
      h('span', { class: 'pill' }, h('b', {}, fmtNum(topic.message_count)), ' messages'),
      h('span', { class: 'pill' }, h('b', {}, fmtBytes(topic.size_bytes)), ' on disk'),
      h('span', { class: 'pill' }, 'created ', fmtAgo(topic.created_at)),
    );
    rate.replaceChildren(sparkline(throughput.rates(name), { width: 160, height: 28 }), h('b', { class: 'num' }, fmtRate(throughput.current(name))));
    tail.setPartitions(topic.partitions);
    produce.setPartitions(topic.partitions);
    consumers.setPartitions(topic.partitions);
    partitions.render(topic);
    if (first) tail.start();
  });
  const stopPolling = every(2000, async () => {
    await Promise.all([consumers.refresh(), groups.refresh()]);
  });
  return () => {
    unsubscribe();
    stopPolling();
    tail.stop();
  };
}

// ---- live tail ----------------------------------------------------------------------------------------

function tailCard(name) {
  const dot = h('span', { class: 'dot' });
  const state = h('span', {}, 'Connecting');
  const why = h('span', { class: 'why' });
  const partition = h('select', { 'aria-label': 'Partition', onchange: () => restart() }, h('option', { value: '' }, 'All partitions'));
  const offset = h('input', { type: 'number', min: 0, value: '0', style: 'width:90px', hidden: true, 'aria-label': 'Start offset', onchange: () => restart() });
  const from = h(
    'select',
    { 'aria-label': 'Start', onchange: () => ((offset.hidden = from.value !== 'offset'), restart()) },
    h('option', { value: 'end' }, 'New messages'),
    h('option', { value: 'beginning' }, 'From the beginning'),
    h('option', { value: 'offset' }, 'From offset…'),
  );
  const pause = h('button', { class: 'btn btn-quiet', type: 'button', onclick: () => togglePause() }, 'Pause');
  const clear = h('button', { class: 'btn btn-quiet', type: 'button', onclick: () => ((received = 0), list.replaceChildren(placeholder()), foot()) }, 'Clear');
  const list = h('ul', { class: 'tail-list', id: 'tail' });
  const counter = h('span');
  const lastId = h('span', { class: 'mono' });
  let received = 0;
  let paused = false;
  let stream = null;

  const el = h(
    'section',
    { class: 'card tail' },
    h('div', { class: 'card-head' }, h('span', { class: 'tail-status' }, dot, state, why), h('span', { class: 'spacer' }), partition, from, offset, pause, clear),
    list,
    h('div', { class: 'tail-foot' }, counter, lastId),
  );
  list.append(placeholder());
  foot();

  function placeholder() {
    return h('li', { class: 'tail-empty' }, h('div', {}, h('div', { class: 'big' }, 'Waiting for messages'), 'New messages appear here the moment they are stored: send one with the Produce form, or choose “From the beginning” to replay the topic.'));
  }

  function foot(id) {
    counter.textContent = `${fmtNum(received)} received`;
    if (id !== undefined) lastId.textContent = id ? `position ${id}` : '';
  }

  function setState(s, detail) {
    const labels = { connecting: 'Connecting', live: 'Live', reconnecting: 'Reconnecting', failed: 'Stopped', paused: 'Paused' };
    state.textContent = labels[s] ?? s;
    dot.className = `dot ${s === 'live' ? 'live' : s === 'failed' ? 'bad' : s === 'paused' ? '' : 'warn'}`;
    why.textContent = detail ? `· ${detail}` : '';
    el.dataset.state = s;
  }

  function url() {
    const q = new URLSearchParams();
    if (partition.value !== '') q.set('partition', partition.value);
    if (from.value === 'beginning') q.set('position', 'beginning');
    if (from.value === 'offset') q.set('from_offset', String(Math.max(0, Number(offset.value) || 0)));
    const qs = q.toString();
    return `/topics/${enc(name)}/stream${qs ? `?${qs}` : ''}`;
  }

  function start(lastEventId = '') {
    stream?.stop();
    stream = new TopicTail(url(), {
      onState: (s, detail) => !paused && setState(s, detail),
      onEvent: (type, data, id) => {
        if (type === 'message') {
          show(data);
          foot(id);
        } else if (type === 'ready') foot(id);
      },
    });
    stream.start(lastEventId);
  }

  function restart() {
    paused = false;
    pause.textContent = 'Pause';
    received = 0;
    list.replaceChildren(placeholder());
    foot('');
    start();
  }

  // Pausing closes the stream; resuming reconnects with the last event id, so nothing is missed or repeated.
  function togglePause() {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) {
      stream?.stop();
      setState('paused');
    } else start(stream?.lastEventId ?? '');
  }

  function show(m) {
    if (list.firstChild?.classList?.contains('tail-empty')) list.replaceChildren();
    received++;
    const text = m.encoding === 'json' ? JSON.stringify(m.data, null, 2) : String(m.data);
    const headers = m.headers ? Object.entries(m.headers) : [];
    const row = h(
      'li',
      { class: 'msg', dataset: { partition: m.partition, offset: m.message_id } },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'pos' }, h('span', { class: 'p' }, `P${m.partition}`), ` · #${m.message_id}`),
        h('span', {}, fmtTime(m.timestamp)),
        m.key !== undefined ? h('span', { class: 'pill teal' }, 'key ', h('b', { class: 'mono' }, m.key)) : null,
        m.encoding !== 'utf8' ? h('span', { class: 'pill' }, m.encoding) : null,
        headers.map(([k, v]) => h('span', { class: 'pill hdr' }, `${k}: ${v}`)),
      ),
      h('pre', {}, text),
    );
    list.prepend(row);
    while (list.childElementCount > MAX_ROWS) list.lastElementChild.remove();
  }

  return {
    el,
    start: () => start(),
    stop: () => stream?.stop(),
    setPartitions: (n) => options(partition, n, 'All partitions'),
  };
}
