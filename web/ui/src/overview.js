// overview.js — the node and its containers at a glance, refreshed live:
// node CPU, memory, network and disk from the collector's node_* series;
// one row per container (cAdvisor names: CPU, working-set memory, network,
// restarts as counter resets) with a CPU sparkline, sortable by any column;
// the firing alerts (each a link to the Alerts page) and the orchestrator's
// deployments with ready/desired (links to the Workloads page); Lookout's
// own ingest rate and disk use from its /metrics page.
//
// performance.mark('overview-data') is set when the first data is drawn
// (the browser test reads it as the first paint of real content).
import { chip, labelsOf } from './alerts.js';
import { call, getJSON, query, queryRange, selfMetrics, vectorValues } from './api.js';
import { align, sparkline } from './chart.js';
import { ago, card, clear, fmtBytes, fmtNum, grid, h, status } from './dom.js';
import { setPageParams } from './url.js';
import { desired, key, readyOf } from './workloads.js';

const BY = 'id, namespace, pod, container';
export const CONTAINER_QUERIES = {
  cpu: `sum by (${BY}) (rate(container_cpu_usage_seconds_total[5m]))`,
  memory: `sum by (${BY}) (container_memory_working_set_bytes)`,
  rx: `sum by (${BY}) (rate(container_network_receive_bytes_total[5m]))`,
  tx: `sum by (${BY}) (rate(container_network_transmit_bytes_total[5m]))`,
  restarts: `sum by (${BY}) (resets(container_cpu_usage_seconds_total[1h]))`,
};
const NODE_QUERIES = {
  cpu: 'sum(rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
  cores: 'count(count by (cpu) (node_cpu_seconds_total))',
  memTotal: 'sum(node_memory_mem_total_bytes)',
  memAvail: 'sum(node_memory_mem_available_bytes)',
  rx: 'sum(rate(node_network_receive_bytes_total[5m]))',
  tx: 'sum(rate(node_network_transmit_bytes_total[5m]))',
  fsSize: 'sum(node_filesystem_size_bytes)',
  fsAvail: 'sum(node_filesystem_avail_bytes)',
  load1: 'node_load1',
};
const COLUMNS = [
  { key: 'name', title: 'container' },
  { key: 'cpu', title: 'CPU (cores)', fmt: fmtNum },
  { key: 'memory', title: 'memory', fmt: fmtBytes },
  { key: 'rx', title: 'net in /s', fmt: fmtBytes },
  { key: 'tx', title: 'net out /s', fmt: fmtBytes },
  { key: 'restarts', title: 'restarts (1h)', fmt: fmtNum },
];
const SPARK_RANGE_S = 3600, SPARK_STEP_S = 60;

const nameOf = (m) => m.container ? (m.pod ? `${m.namespace ? `${m.namespace}/` : ''}${m.pod}/${m.container}` : m.container) : m.id;

const COL = 'lookout_overview_col';

// Several instant queries in one request (the overview's first paint waits
// on one answer, not on a dozen): each is tagged with its key by
// label_replace and the tagged vectors are joined with `or`.
async function instant(queries, signal, at) {
  const joined = Object.entries(queries).map(([k, q]) => `label_replace(${q}, "${COL}", "${k}", "", "")`).join(' or ');
  const out = Object.fromEntries(Object.keys(queries).map((k) => [k, []]));
  for (const { metric, value } of vectorValues(await query(joined, at, { signal }))) {
    const { [COL]: key, ...rest } = metric;
    out[key].push({ metric: rest, value });
  }
  return out;
}

// {metricKind: [{metric, value}]} → rows keyed by container id.
function containerRows(res) {
  const rows = new Map();
  for (const [col, list] of Object.entries(res)) {
    for (const { metric, value } of list) {
      const id = metric.id || nameOf(metric);
      if (!rows.has(id)) rows.set(id, { id, name: nameOf(metric) });
      rows.get(id)[col] = value;
    }
  }
  return [...rows.values()];
}

const sumOf = (m, name) => {
  let s = 0;
  for (const [k, v] of m) if (k === name || k.startsWith(`${name}{`)) s += v;
  return s;
};

export function overviewPage(el, params) {
  let sort = params.get('sort') || 'cpu', desc = params.get('desc') !== '0';
  const every = params.get('refresh') || '10';
  const refreshSel = h('select', { 'aria-label': 'refresh', onchange: () => { save(); schedule(); } },
    ['off', '5', '10', '30', '60'].map((v) => h('option', { value: v, selected: v === every }, v === 'off' ? 'no refresh' : `every ${v}s`)));
  const nodeBox = h('div', { class: 'cards', id: 'node' });
  const selfBox = h('div', { class: 'cards', id: 'self' });
  const table = h('table', { class: 'grid', id: 'containers' });
  const firingBox = h('div', { id: 'firing' }), deployBox = h('div', { id: 'overview-deployments' });
  const updated = h('span', { class: 'muted' });
  el.append(h('div', { class: 'bar' }, h('h2', {}, 'Node'), refreshSel, updated), nodeBox,
    h('h2', {}, 'Containers'), table, h('h2', {}, h('a', { href: '#/alerts' }, 'Firing alerts')), firingBox,
    h('h2', {}, h('a', { href: '#/workloads' }, 'Deployments')), deployBox, h('h2', {}, 'Lookout'), selfBox);

  let rows = [], sparks = new Map(), prevSelf = null, timer = null, aborter = null, first = true;

  function save() {
    setPageParams(new URLSearchParams({ sort, desc: desc ? '1' : '0', refresh: refreshSel.value }));
  }

  function drawTable() {
    const sorted = rows.slice().sort((a, b) => {
      const x = a[sort] ?? -Infinity, y = b[sort] ?? -Infinity;
      const c = typeof x === 'string' || typeof y === 'string' ? String(x).localeCompare(String(y)) : x - y;
      return desc ? -c : c;
    });
    const head = h('tr', {}, COLUMNS.map((c) => h('th', {
      class: c.key === sort ? (desc ? 'sorted desc' : 'sorted asc') : null, dataset: { col: c.key },
      onclick: () => { desc = c.key === sort ? !desc : c.key !== 'name'; sort = c.key; save(); drawTable(); },
    }, c.title)), h('th', {}, 'CPU, last hour'));
    const body = sorted.map((r) => h('tr', { dataset: { id: r.id } },
      COLUMNS.map((c) => h('td', { dataset: { col: c.key, value: r[c.key] ?? '' }, title: c.key === 'name' ? r.id : null },
        c.fmt ? c.fmt(r[c.key]) : r[c.key])),
      h('td', { class: 'spark' }, sparks.get(r.id) || '')));
    clear(table, h('thead', {}, head), h('tbody', {}, body.length ? body
      : h('tr', {}, h('td', { colspan: COLUMNS.length + 1, class: 'muted' },
        'no container series yet (lookout up, or an agent writing cAdvisor-named series)'))));
  }

  function drawNode(n) {
    const v = (k) => (n[k][0] ? n[k][0].value : null);
    const memUsed = v('memTotal') !== null && v('memAvail') !== null ? v('memTotal') - v('memAvail') : null;
    const fsUsed = v('fsSize') !== null && v('fsAvail') !== null ? v('fsSize') - v('fsAvail') : null;
    clear(nodeBox,
      card('CPU', `${fmtNum(v('cpu'))} cores`, v('cores') && `of ${v('cores')}`, 'cpu'),
      card('memory', fmtBytes(memUsed), v('memTotal') && `of ${fmtBytes(v('memTotal'))}`, 'memory'),
      card('network', `${fmtBytes(v('rx'))}/s in`, `${fmtBytes(v('tx'))}/s out`, 'network'),
      card('disk used', fmtBytes(fsUsed), v('fsSize') && `of ${fmtBytes(v('fsSize'))}`, 'disk'),
      card('load (1m)', fmtNum(v('load1')), null, 'load'));
  }

  function drawSelf(m) {
    const now = performance.now();
    const appended = sumOf(m, 'lookout_tsdb_samples_appended_total');
    const reqs = sumOf(m, 'lookout_http_requests_total');
    const rate = (cur, prev) => (prevSelf ? ((cur - prev) * 1000) / (now - prevSelf.t) : null);
    const ingest = rate(appended, prevSelf && prevSelf.appended), http = rate(reqs, prevSelf && prevSelf.reqs);
    prevSelf = { t: now, appended, reqs };
    clear(selfBox,
      card('ingest', ingest === null ? '—' : `${fmtNum(ingest)} samples/s`, `${fmtNum(appended)} since start`, 'ingest'),
      card('head series', fmtNum(sumOf(m, 'lookout_tsdb_head_series')), null, 'series'),
      card('disk use', fmtBytes(sumOf(m, 'lookout_tsdb_block_bytes') + sumOf(m, 'lookout_tsdb_wal_bytes')),
        `${fmtNum(sumOf(m, 'lookout_tsdb_blocks'))} blocks + WAL`, 'tsdb-disk'),
      card('HTTP requests', http === null ? '—' : `${fmtNum(http)}/s`, `${fmtNum(reqs)} since start`, 'http'));
  }

  // The firing alerts and the deployments, each row a link to its page.
  async function loadLists(signal) {
    const [alerts, deploys] = await Promise.all([call('/api/v1/alerts', {}, { signal }),
      getJSON('/apis/apps/v1/deployments', signal)]);
    const link = (page, text) => h('a', { href: `#/${page}` }, text);
    clear(firingBox, grid([
      { title: 'alert', cell: (a) => link('alerts', a.labels.alertname) },
      { title: 'state', cell: (a) => chip(a.state) },
      { title: 'labels', cell: (a) => labelsOf(a.labels) },
      { title: 'active since', cell: (a) => ago(a.activeAt) },
      { title: 'summary', cell: (a) => (a.annotations || {}).summary || '' },
    ], alerts.data.alerts.filter((a) => a.state === 'firing'), 'nothing firing',
    (a) => ({ dataset: { alert: a.labels.alertname } })));
    clear(deployBox, grid([
      { title: 'deployment', cell: (d) => link('workloads', key(d)) },
      { title: 'ready', cell: readyOf },
      { title: 'age', cell: (d) => ago(d.metadata.creationTimestamp) },
    ], deploys.items, 'no deployments', (d) => ({ dataset: { deployment: key(d), replicas: desired(d) } })));
  }

  async function loadSparks(signal) {
    const end = Math.floor(Date.now() / 1000);
    const m = await queryRange(CONTAINER_QUERIES.cpu, end - SPARK_RANGE_S, end, SPARK_STEP_S, { signal });
    const next = new Map();
    for (const s of m.result) {
      const cell = h('div', {});
      const [x, y] = align([s]);
      sparkline(cell, x, y);
      next.set(s.metric.id || nameOf(s.metric), cell);
    }
    sparks = next;
    drawTable();
  }

  // Every panel draws as soon as its own answers are in; all instant
  // queries of one refresh are evaluated at the same time (the table's
  // data-time), so the numbers can be checked against the API. /metrics,
  // the sparklines' range query, the alert and deployment lists and the
  // node cards wait for the container table, which is what the first paint
  // shows.
  async function refresh() {
    if (aborter) aborter.abort();
    aborter = new AbortController();
    const { signal } = aborter;
    const at = Math.floor(Date.now() / 1000);
    try {
      const node = instant(NODE_QUERIES, signal, at);
      node.catch(() => {}); // awaited below; this keeps an abort meanwhile from going unhandled
      rows = containerRows(await instant(CONTAINER_QUERIES, signal, at));
      table.dataset.time = String(at);
      drawTable();
      if (first) performance.mark('overview-data');
      first = false;
      drawNode(await node);
      await Promise.all([selfMetrics(signal).then(drawSelf), loadSparks(signal), loadLists(signal)]);
      updated.textContent = `updated ${new Date(at * 1000).toLocaleTimeString()}`;
      status('');
    } catch (e) {
      if (e.name !== 'AbortError') status(`overview: ${e.message}`, true);
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = refreshSel.value === 'off' ? null : setInterval(refresh, Number(refreshSel.value) * 1000);
  }

  refresh();
  schedule();
  return { destroy() { clearInterval(timer); if (aborter) aborter.abort(); } };
}
