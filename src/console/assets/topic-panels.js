// The side panels of a topic's page: produce form, partitions, consumer cursors with seek, consumer groups.
import { api, enc, hasRoute } from './api.js';
import { fmtBytes, fmtNum, h, lagBar, toast } from './ui.js';

/** Fills a partition <select> (keeping the choice) when the partition count changes. */
export function options(select, count, allLabel) {
  if (select.options.length === count + (allLabel ? 1 : 0)) return;
  const keep = select.value;
  select.replaceChildren(...(allLabel ? [h('option', { value: '' }, allLabel)] : []), ...Array.from({ length: count }, (_, p) => h('option', { value: String(p) }, `Partition ${p}`)));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// ---- produce ------------------------------------------------------------------------------------------

export function produceCard(name) {
  let mode = 'text';
  const value = h('textarea', { id: 'produce-value', placeholder: 'Hello, mini-kafka!', spellcheck: 'false', rows: 4 });
  const textBtn = h('button', { type: 'button', 'aria-pressed': 'true', onclick: () => setMode('text') }, 'Text');
  const jsonBtn = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => setMode('json') }, 'JSON');
  const key = h('input', { id: 'produce-key', placeholder: 'optional: routes by key', spellcheck: 'false' });
  const partition = h('select', { id: 'produce-partition' }, h('option', { value: '' }, 'By key / sticky'));
  const headers = h('input', { id: 'produce-headers', placeholder: 'source=console, trace=abc', spellcheck: 'false' });
  const send = h('button', { class: 'btn', type: 'submit', id: 'produce-send' }, 'Send message');
  const result = h('span', { class: 'result', id: 'produce-result' }, h('span', { class: 'kbd' }, 'Ctrl'), ' + ', h('span', { class: 'kbd' }, 'Enter'), ' sends');

  function setMode(m) {
    mode = m;
    textBtn.setAttribute('aria-pressed', String(m === 'text'));
    jsonBtn.setAttribute('aria-pressed', String(m === 'json'));
    value.placeholder = m === 'json' ? '{"order": 42, "total": 19.5}' : 'Hello, mini-kafka!';
  }

  async function submit(e) {
    e?.preventDefault();
    const body = {};
    try {
      if (mode === 'json') body.value = JSON.parse(value.value);
      else body.message = value.value;
    } catch {
      result.className = 'result err';
      result.textContent = 'Not valid JSON';
      return;
    }
    if (key.value) body.key = key.value;
    if (partition.value !== '') body.partition = Number(partition.value);
    const pairs = headers.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (pairs.length) body.headers = Object.fromEntries(pairs.map((p) => [p.split('=')[0].trim(), p.slice(p.indexOf('=') + 1).trim()]));
    send.disabled = true;
    try {
      const answer = await api('POST', `/topics/${enc(name)}/messages`, body);
      result.className = 'result ok';
      result.textContent = `Stored: partition ${answer.partition ?? 0}, offset ${answer.message_id}`;
    } catch (err) {
      result.className = 'result err';
      result.textContent = err.message;
    } finally {
      send.disabled = false;
    }
  }

  value.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit(e);
  });
  const el = h(
    'section',
    { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Produce'), h('span', { class: 'spacer' }), h('span', { class: 'seg' }, textBtn, jsonBtn)),
    h(
      'form',
      { class: 'card-body form-grid', id: 'produce-form', onsubmit: submit },
      value,
      h('div', { class: 'form-row' }, h('label', { class: 'field' }, 'Key', key), h('label', { class: 'field' }, 'Partition', partition)),
      h('label', { class: 'field' }, 'Headers', headers),
      h('div', { class: 'form-actions' }, result, send),
    ),
  );
  return { el, setPartitions: (n) => options(partition, n, 'By key / sticky') };
}

// ---- partitions ---------------------------------------------------------------------------------------

export function partitionsCard() {
  const body = h('tbody');
  const el = h(
    'section',
    { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Partitions')),
    h('table', { class: 'compact' }, h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', { class: 'r' }, 'First'), h('th', { class: 'r' }, 'Next'), h('th', { class: 'r' }, 'Size'), h('th', { class: 'r' }, 'Segments'))), body),
  );
  return {
    el,
    render: (t) =>
      body.replaceChildren(
        ...t.partition_details.map((p) =>
          h('tr', {}, h('td', { class: 'mono' }, `P${p.partition}`), h('td', { class: 'r num' }, fmtNum(p.first_offset)), h('td', { class: 'r num' }, fmtNum(p.next_offset)), h('td', { class: 'r num' }, fmtBytes(p.size_bytes)), h('td', { class: 'r num' }, p.segment_count)),
        ),
      ),
  };
}

// ---- consumers and seek -------------------------------------------------------------------------------

export function consumersCard(name) {
  const body = h('tbody');
  const known = h('datalist', { id: 'known-consumers' });
  const consumer = h('input', { id: 'seek-consumer', placeholder: 'consumer id', list: 'known-consumers', required: true, spellcheck: 'false' });
  const partition = h('select', { id: 'seek-partition', 'aria-label': 'Partition' });
  const value = h('input', { id: 'seek-value', type: 'number', min: 0, placeholder: 'offset', hidden: true, style: 'width:110px' });
  const target = h(
    'select',
    { id: 'seek-target', 'aria-label': 'Seek to', onchange: () => ((value.hidden = !['offset', 'timestamp'].includes(target.value)), (value.placeholder = target.value === 'timestamp' ? 'ms since epoch' : 'offset')) },
    h('option', { value: 'beginning' }, 'to beginning'),
    h('option', { value: 'end' }, 'to end'),
    h('option', { value: 'offset' }, 'to offset…'),
    h('option', { value: 'timestamp' }, 'to time…'),
  );
  const seek = h('button', { class: 'btn btn-quiet', type: 'submit' }, 'Seek');
  const form = h(
    'form',
    {
      class: 'card-body form-grid',
      id: 'seek-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const t = target.value;
        const bodyJson = t === 'beginning' || t === 'end' ? { position: t } : { [t]: Number(value.value) };
        try {
          const c = await api('PUT', `/topics/${enc(name)}/consumers/${enc(consumer.value.trim())}?partition=${partition.value || 0}`, bodyJson);
          toast(`${c.consumer_id} on P${c.partition} now at offset ${c.offset} (lag ${c.lag})`, 'ok');
          await refresh();
        } catch (err) {
          toast(err.message, 'err');
        }
      },
    },
    known,
    h('div', { class: 'form-row' }, h('label', { class: 'field' }, 'Consumer', consumer), h('label', { class: 'field' }, 'Partition', partition)),
    h('div', { class: 'seek-row' }, h('label', { class: 'field' }, 'Move its cursor', h('span', { class: 'inline-form' }, target, value)), seek),
  );
  const el = h(
    'section',
    { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Consumers'), h('span', { class: 'muted' }, 'committed cursors')),
    h('table', { class: 'compact' }, h('thead', {}, h('tr', {}, h('th', {}, 'Consumer'), h('th', {}, 'P'), h('th', { class: 'r' }, 'Offset'), h('th', {}, 'Lag'))), body),
    form,
  );

  async function refresh() {
    const { consumers } = await api('GET', `/topics/${enc(name)}/consumers`);
    const scale = Math.max(1, ...consumers.map((c) => c.lag));
    known.replaceChildren(...[...new Set(consumers.map((c) => c.consumer_id))].map((id) => h('option', { value: id })));
    body.replaceChildren(
      ...(consumers.length === 0
        ? [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No consumer has committed on this topic yet.'))]
        : consumers.map((c) => h('tr', {}, h('td', { class: 'mono' }, c.consumer_id), h('td', { class: 'mono' }, c.partition), h('td', { class: 'r num' }, fmtNum(c.offset)), h('td', { class: 'num' }, fmtNum(c.lag), lagBar(c.lag, scale))))),
    );
  }
  return { el, refresh, setPartitions: (n) => options(partition, n, null) };
}

// ---- consumer groups ----------------------------------------------------------------------------------

export function groupsCard(name) {
  const content = h('div', {}, h('div', { class: 'card-note' }, 'Loading…'));
  const el = h('section', { class: 'card', id: 'groups' }, h('div', { class: 'card-head' }, h('h2', {}, 'Consumer groups'), h('span', { class: 'muted' }, 'leases in flight and dead letters')), content);
  let available = null;

  async function refresh() {
    available ??= await hasRoute('/topics/{topic}/groups');
    if (!available) {
      content.replaceChildren(h('div', { class: 'card-note' }, 'Consumer groups are not available on this broker (it serves no /topics/{topic}/groups route).'));
      return;
    }
    const { groups } = await api('GET', `/topics/${enc(name)}/groups`);
    if (groups.length === 0) {
      content.replaceChildren(h('div', { class: 'card-note' }, 'No consumer group on this topic yet. A group starts with PUT /topics/{topic}/groups/{group} or its first receive.'));
      return;
    }
    content.replaceChildren(...groups.map(groupBlock));
  }
  return { el, refresh };
}

function groupBlock(g) {
  const sum = (field) => g.partitions.reduce((n, p) => n + (p[field] ?? 0), 0);
  const dead = sum('dead_lettered');
  return h(
    'div',
    { class: 'group', dataset: { group: g.group } },
    h(
      'div',
      { class: 'group-head' },
      h('span', { class: 'name' }, g.group),
      h('span', { class: 'pill accent' }, h('b', {}, fmtNum(sum('in_flight'))), ' in flight'),
      h('span', { class: 'pill' }, h('b', {}, fmtNum(sum('pending'))), ' pending'),
      h('span', { class: 'pill' }, h('b', {}, fmtNum(sum('lag'))), ' lag'),
      h('span', { class: `pill ${dead > 0 ? 'err' : ''}`, title: `dead-letter topic ${g.dead_letter_topic}` }, h('b', {}, fmtNum(dead)), ' dead-lettered'),
    ),
    h(
      'table',
      { class: 'compact' },
      h('thead', {}, h('tr', {}, h('th', {}, 'P'), h('th', { class: 'r' }, 'Committed'), h('th', { class: 'r' }, 'Lag'), h('th', { class: 'r' }, 'In flight'), h('th', { class: 'r' }, 'Pending'), h('th', { class: 'r' }, 'DLQ'))),
      h(
        'tbody',
        {},
        g.partitions.map((p) =>
          h('tr', {}, h('td', { class: 'mono' }, `P${p.partition}`), h('td', { class: 'r num' }, fmtNum(p.committed_offset)), h('td', { class: 'r num' }, fmtNum(p.lag)), h('td', { class: 'r num' }, fmtNum(p.in_flight)), h('td', { class: 'r num' }, fmtNum(p.pending)), h('td', { class: 'r num' }, fmtNum(p.dead_lettered))),
        ),
      ),
    ),
  );
}
