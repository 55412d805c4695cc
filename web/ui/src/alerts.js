// alerts.js — alerting at a glance: firing and pending alerts (each firing
// one with a rendered graph of its rule's expression when the server can
// draw it), the rules with state, last evaluation and errors, the
// silences of the in-process Alertmanager (create one from matchers, expire
// one; both need the token) and the alert history kept in the log store.
import { call, getJSON, lokiRange, write } from './api.js';
import { ago, clear, every, grid, h, seriesName, status } from './dom.js';
import { parseDuration } from './timerange.js';

const HISTORY = '{__alerts__="lookout"}';
const HISTORY_S = 24 * 3600;

export const chip = (state) => h('span', { class: `chip st-${state}` }, state);
export const labelsOf = (l) => h('span', { class: 'mono' }, seriesName(l));

// 'alertname="X", severity=~"p.*"' → Alertmanager matchers; throws on junk.
export function parseMatchers(text) {
  const re = /\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  const out = [];
  let m;
  while (re.lastIndex < text.length && (m = re.exec(text)))
    out.push({ name: m[1], value: JSON.parse(`"${m[3]}"`), isRegex: m[2].includes('~'), isEqual: !m[2].startsWith('!') });
  if (!out.length || re.lastIndex !== text.length) throw new Error('matchers: name="value", … (=, !=, =~, !~)');
  return out;
}

const matcherText = (ms) => ms.map((m) => `${m.name}${m.isEqual === false ? '!' : '='}${m.isRegex ? '~' : ''}${JSON.stringify(m.value)}`).join(', ');

// The graph image of an expression over the last hour; removed if the
// server cannot draw it.
function preview(expr, title) {
  const end = Math.floor(Date.now() / 1000);
  const q = new URLSearchParams({ query: expr, start: end - 3600, end, width: 360, height: 120, title });
  return h('img', { class: 'preview', alt: `graph of ${title}`, src: `/api/v1/render?${q}`, onerror: (e) => e.target.remove() });
}

export function alertsPage(el) {
  const alertsBox = h('div', { id: 'alerts' }), rulesBox = h('div', { id: 'rules' });
  const silencesBox = h('div', { id: 'silences' }), historyBox = h('div', { id: 'history' });
  const matchers = h('input', { class: 'mono', size: 40, 'aria-label': 'matchers', placeholder: 'alertname="HighCPU"' });
  const dur = h('input', { class: 'ti short', value: '2h', 'aria-label': 'duration' });
  const comment = h('input', { size: 24, 'aria-label': 'comment', placeholder: 'why' });
  const form = h('form', { class: 'bar', id: 'silence-form', onsubmit: (e) => { e.preventDefault(); createSilence(); } },
    matchers, 'for', dur, comment, h('button', { class: 'primary', type: 'submit' }, 'Silence'));
  el.append(h('h2', {}, 'Firing and pending'), alertsBox, h('h2', {}, 'Silences'), form, silencesBox,
    h('h2', {}, 'Rules'), rulesBox, h('h2', {}, 'History (24 h)'), historyBox);

  async function createSilence() {
    try {
      const secs = parseDuration(dur.value);
      if (!(secs > 0)) throw new Error(`bad duration "${dur.value}"`);
      const now = Date.now();
      await write('POST', '/api/v2/silences', { matchers: parseMatchers(matchers.value.trim()),
        startsAt: new Date(now).toISOString(), endsAt: new Date(now + secs * 1000).toISOString(),
        createdBy: 'dashboard', comment: comment.value.trim() || 'silenced from the dashboard' });
      status('silence created');
      live.run();
    } catch (e) { status(`silence: ${e.message}`, true); }
  }

  async function expire(id) {
    try {
      await write('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`);
      status('silence expired');
      live.run();
    } catch (e) { status(`expire: ${e.message}`, true); }
  }

  function drawAlerts(alerts, exprOf) {
    clear(alertsBox, grid([
      { title: 'state', cell: (a) => chip(a.state) },
      { title: 'alert', cell: (a) => labelsOf(a.labels) },
      { title: 'active since', cell: (a) => ago(a.activeAt) },
      { title: 'value', cell: (a) => a.value },
      { title: 'summary', cell: (a) => (a.annotations || {}).summary || '' },
      { title: '', cell: (a) => h('button', { onclick: () => { matchers.value = matcherText(Object.entries(a.labels).map(([name, value]) => ({ name, value }))); matchers.focus(); } }, 'silence…') },
      { title: 'last hour', cell: (a) => a.state === 'firing' && exprOf.has(a.labels.alertname) ? preview(exprOf.get(a.labels.alertname), a.labels.alertname) : '' },
    ], alerts, 'nothing firing or pending', (a) => ({ dataset: { alert: a.labels.alertname, state: a.state } })));
  }

  function drawRules(groups) {
    const rules = groups.flatMap((g) => g.rules.map((r) => ({ ...r, group: g.name })));
    clear(rulesBox, grid([
      { title: 'group', cell: (r) => r.group },
      { title: 'rule', cell: (r) => r.name },
      { title: 'state', cell: (r) => chip(r.type === 'alerting' ? r.state : 'recording') },
      { title: 'health', cell: (r) => chip(r.health) },
      { title: 'expression', cell: (r) => h('span', { class: 'mono' }, r.query) },
      { title: 'last evaluation', cell: (r) => ago(r.lastEvaluation) },
      { title: 'took', cell: (r) => `${(r.evaluationTime * 1000).toFixed(1)} ms` },
      { title: 'error', cell: (r) => h('span', { class: 'error' }, r.lastError || '') },
    ], rules, 'no rules loaded', (r) => ({ dataset: { rule: r.name } })));
  }

  function drawSilences(list) {
    const shown = list.filter((s) => s.status.state !== 'expired').sort((a, b) => a.endsAt.localeCompare(b.endsAt));
    clear(silencesBox, grid([
      { title: 'state', cell: (s) => chip(s.status.state) },
      { title: 'matchers', cell: (s) => h('span', { class: 'mono' }, matcherText(s.matchers)) },
      { title: 'ends', cell: (s) => ago(s.endsAt) },
      { title: 'by', cell: (s) => s.createdBy },
      { title: 'comment', cell: (s) => s.comment },
      { title: '', cell: (s) => h('button', { class: 'expire', onclick: () => expire(s.id) }, 'expire') },
    ], shown, 'no active silences', (s) => ({ dataset: { silence: s.id } })));
  }

  function drawHistory(data) {
    const rows = [];
    for (const s of data.result) for (const [ts, line] of s.values) {
      let o = {};
      try { o = JSON.parse(line); } catch { o = { state: '?', alertname: line }; }
      rows.push({ ts: Number(BigInt(ts) / 1000000n), ...o });
    }
    rows.sort((a, b) => b.ts - a.ts);
    clear(historyBox, grid([
      { title: 'time', cell: (r) => new Date(r.ts).toLocaleString() },
      { title: 'alert', cell: (r) => r.alertname },
      { title: 'change', cell: (r) => h('span', {}, chip(r.from || '?'), ' → ', chip(r.state)) },
      { title: 'value', cell: (r) => r.value || '' },
      { title: 'labels', cell: (r) => labelsOf(r.labels || {}) },
    ], rows, 'no alert state changes in the last 24 h'));
  }

  const live = every(10000, 'alerts', async (signal) => {
    const end = Date.now() / 1000;
    const [alerts, rules, silences, history] = await Promise.all([
      call('/api/v1/alerts', {}, { signal }), call('/api/v1/rules', {}, { signal }), getJSON('/api/v2/silences', signal),
      lokiRange({ query: HISTORY, start: end - HISTORY_S, end, limit: 200, direction: 'backward' }, { signal })]);
    const exprOf = new Map();
    for (const g of rules.data.groups) for (const r of g.rules) if (r.type === 'alerting') exprOf.set(r.name, r.query);
    drawAlerts(alerts.data.alerts, exprOf);
    drawRules(rules.data.groups);
    drawSilences(silences);
    drawHistory(history);
  });
  return live;
}
