// logs.js — LogQL over a time range: the volume histogram (count_over_time
// by level, when the streams carry a level label or the lines a level
// field), the lines with their stream labels and detected fields (logfmt or
// JSON), click a label or field to filter, context around a line, and a
// live tail over /loki/api/v1/tail (Server-Sent Events). A metric query
// (rate(...), count_over_time(...)) is drawn as a graph instead.
import { lokiRange } from './api.js';
import { bars, graph, align } from './chart.js';
import { clear, fmtNum, fmtTime, h, seriesName, status } from './dom.js';
import { logqlEditor, setText, textOf } from './editor.js';
import { picker, resolve } from './timerange.js';
import { setPageParams } from './url.js';

const LIVE_KEEP = 1000;
const CONTEXT_LINES = 5;
const LEVEL_COLORS = { error: '#d62728', err: '#d62728', warn: '#ff7f0e', warning: '#ff7f0e', info: '#2ca02c',
  debug: '#1f77b4', trace: '#7f7f7f', critical: '#8c1c13', fatal: '#8c1c13' };

const ns = (sec) => (BigInt(Math.floor(sec * 1000)) * 1000000n).toString();
const msOf = (nsStr) => Number(BigInt(nsStr) / 1000000n);
const quote = (v) => JSON.stringify(String(v));

// Detected fields of a line: a flat JSON object, else logfmt pairs.
export function detectFields(line) {
  const t = line.trim();
  if (t.startsWith('{')) {
    try {
      const o = JSON.parse(t);
      const out = {};
      for (const [k, v] of Object.entries(o)) if (v === null || typeof v !== 'object') out[k] = String(v);
      return { format: 'json', fields: out };
    } catch { /* not JSON: try logfmt */ }
  }
  const out = {};
  const re = /([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)/g;
  let m, n = 0;
  while ((m = re.exec(line))) {
    out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
    n++;
  }
  return n ? { format: 'logfmt', fields: out } : { format: null, fields: {} };
}

// The end of the stream selector that opens q (past its closing brace), or -1.
function selectorEnd(q) {
  const open = q.indexOf('{');
  if (open < 0) return -1;
  let quoteCh = null;
  for (let i = open + 1; i < q.length; i++) {
    const c = q[i];
    if (quoteCh) {
      if (c === '\\') i++;
      else if (c === quoteCh) quoteCh = null;
    } else if (c === '"' || c === '`') quoteCh = c;
    else if (c === '}') return i + 1;
  }
  return -1;
}

// {a="1"} |= "x"  + (b, 2) → {a="1", b="2"} |= "x"
export function addMatcher(q, name, value) {
  const end = selectorEnd(q);
  if (end < 0) return `{${name}=${quote(value)}}`;
  const inner = q.slice(q.indexOf('{') + 1, end - 1).trim();
  return `${q.slice(0, end - 1).trimEnd()}${inner ? ', ' : ''}${name}=${quote(value)}${q.slice(end - 1)}`;
}

// A label filter on a detected field, adding the parser stage when missing.
function addFieldFilter(q, format, name, value) {
  const parser = format === 'json' ? '| json' : '| logfmt';
  const hasParser = /\|\s*(json|logfmt)\b/.test(q);
  return `${q.trim()}${hasParser ? '' : ` ${parser}`} | ${name}=${quote(value)}`;
}

const isLogQuery = (q) => q.trim().startsWith('{');

// Loki streams → entries sorted newest first.
function entriesOf(result) {
  const out = [];
  for (const s of result) for (const [ts, line] of s.values) out.push({ ts, line, labels: s.stream });
  out.sort((a, b) => (BigInt(b.ts) > BigInt(a.ts) ? 1 : BigInt(b.ts) < BigInt(a.ts) ? -1 : 0));
  return out;
}

export function logsPage(el, params) {
  const state = {
    range: { from: params.get('from') || 'now-1h', to: params.get('to') || 'now', step: params.get('step') || 'auto' },
    limit: params.get('limit') || '100',
  };
  const box = h('div', { class: 'editor' });
  const limitSel = h('select', { 'aria-label': 'limit', onchange: () => { state.limit = limitSel.value; run(); } },
    ['100', '500', '1000', '5000'].map((v) => h('option', { value: v, selected: v === state.limit }, `${v} lines`)));
  const liveBtn = h('button', { id: 'live', onclick: () => (tail ? stopTail() : startTail()) }, 'Live tail');
  const volume = h('div', { class: 'chart volume', id: 'volume' });
  const stats = h('div', { class: 'stats muted' });
  const lines = h('div', { class: 'lines', id: 'lines' });
  el.append(h('div', { class: 'bar' }, picker(state.range, (r) => { state.range = r; run(); }), limitSel,
    h('button', { class: 'primary', onclick: () => run() }, 'Run'), liveBtn),
  h('div', { class: 'qrow' }, box), stats, volume, lines);
  const editor = logqlEditor(box, params.get('q') || '', () => run());

  let chart = null, aborter = null, tail = null;

  const save = () => setPageParams(new URLSearchParams({ q: textOf(editor), ...state.range, limit: state.limit }));

  function refine(q) {
    setText(editor, q);
    run();
  }

  function labelChip(labels, k, v, onpick) {
    return h('button', { class: `chip${k === 'level' ? ` lvl-${v}` : ''}`, title: `filter on ${k}="${v}"`, dataset: { label: k, value: v },
      onclick: (ev) => { ev.stopPropagation(); onpick(k, v); } }, `${k}=${v}`);
  }

  function lineRow(e) {
    const { format, fields } = detectFields(e.line);
    const details = h('div', { class: 'details', hidden: true });
    const row = h('div', { class: 'line', dataset: { ts: e.ts } },
      h('div', { class: 'head', onclick: () => { details.hidden = !details.hidden; } },
        h('span', { class: 'ts mono' }, fmtTime(msOf(e.ts))),
        h('span', { class: 'labels' }, Object.entries(e.labels).map(([k, v]) =>
          labelChip(e.labels, k, v, (name, value) => refine(addMatcher(textOf(editor), name, value))))),
        h('span', { class: 'text mono' }, e.line)),
      details);
    details.append(
      Object.keys(fields).length ? h('div', { class: 'fields' }, h('span', { class: 'muted' }, `${format} fields: `),
        Object.entries(fields).map(([k, v]) => h('button', { class: 'chip field', dataset: { field: k },
          onclick: () => refine(addFieldFilter(textOf(editor), format, k, v)) }, `${k}=${v}`))) : null,
      h('button', { class: 'ctx', onclick: () => showContext(e, details) }, 'context'));
    return row;
  }

  async function showContext(e, where) {
    const sel = `{${Object.entries(e.labels).map(([k, v]) => `${k}=${quote(v)}`).join(', ')}}`;
    const t = BigInt(e.ts);
    try {
      const [before, after] = await Promise.all([
        lokiRange({ query: sel, end: t.toString(), start: (t - 3600n * 1000000000n).toString(), limit: CONTEXT_LINES, direction: 'backward' }),
        lokiRange({ query: sel, start: (t + 1n).toString(), end: (t + 3600n * 1000000000n).toString(), limit: CONTEXT_LINES, direction: 'forward' }),
      ]);
      const row = (x, cls) => h('div', { class: `cline mono ${cls}` }, `${fmtTime(msOf(x.ts))}  ${x.line}`);
      const old = where.querySelector('.context');
      if (old) old.remove();
      where.append(h('div', { class: 'context' },
        entriesOf(after.result).map((x) => row(x, 'after')),
        row(e, 'this'),
        entriesOf(before.result).map((x) => row(x, 'before'))));
    } catch (err) {
      status(`context: ${err.message}`, true);
    }
  }

  async function drawVolume(q, r, signal, levelFormat) {
    const inner = levelFormat ? `${q} | ${levelFormat}` : q;
    const data = await lokiRange({ query: `sum by (level) (count_over_time(${inner} [${r.step}s]))`,
      start: ns(r.start), end: ns(r.end), step: r.step }, { signal });
    if (chart) chart.destroy();
    chart = null;
    clear(volume);
    if (!data.result.length) return data.result;
    const names = data.result.map((s) => s.metric.level || 'logs');
    chart = bars(volume, names, align(data.result), { height: 120, xRange: [r.start, r.end],
      colors: names.map((n, i) => LEVEL_COLORS[n.toLowerCase()] || ['#888', '#1f77b4', '#9467bd'][i % 3]) });
    return data.result;
  }

  async function drawMetric(q, r, signal) {
    const data = await lokiRange({ query: q, start: ns(r.start), end: ns(r.end), step: r.step }, { signal });
    if (data.resultType !== 'matrix') throw new Error(`expected a range vector, got ${data.resultType}`);
    chart = graph(volume, data.result.map((s) => seriesName(s.metric)), align(data.result), { height: 260, xRange: [r.start, r.end] });
    stats.textContent = `${data.result.length} series`;
  }

  async function run() {
    save();
    stopTail();
    const q = textOf(editor).trim();
    if (aborter) aborter.abort();
    if (chart) { chart.destroy(); chart = null; }
    clear(volume);
    clear(lines);
    stats.textContent = '';
    if (!q) return;
    aborter = new AbortController();
    const { signal } = aborter;
    const t0 = performance.now();
    try {
      const r = resolve(state.range, 120);
      if (!isLogQuery(q)) {
        await drawMetric(q, r, signal);
        return;
      }
      const [data, vol] = await Promise.all([
        lokiRange({ query: q, start: ns(r.start), end: ns(r.end), limit: state.limit, direction: 'backward' }, { signal }),
        drawVolume(q, r, signal, null),
      ]);
      const entries = entriesOf(data.result);
      lines.append(...entries.map(lineRow));
      stats.textContent = `${entries.length} lines (limit ${state.limit}) · ${fmtNum(vol.reduce((n, s) =>
        n + s.values.reduce((m, v) => m + Number(v[1]), 0), 0))} in range · ${Math.round(performance.now() - t0)} ms`;
      const levelField = !vol.some((s) => s.metric.level) && entries.length && detectFields(entries[0].line);
      if (levelField && levelField.fields.level !== undefined && !/\|\s*(json|logfmt)\b/.test(q))
        await drawVolume(q, r, signal, levelField.format);
      status('');
    } catch (e) {
      if (e.name !== 'AbortError') lines.append(h('div', { class: 'error' }, e.message));
    }
  }

  function startTail() {
    const q = textOf(editor).trim();
    if (!isLogQuery(q)) {
      status('live tail needs a log query ({...} with filters)', true);
      return;
    }
    const src = new EventSource(`/loki/api/v1/tail?${new URLSearchParams({ query: q, start: ns(Date.now() / 1000), limit: '100' })}`);
    src.onmessage = (ev) => {
      const entries = entriesOf(JSON.parse(ev.data).streams || []);
      lines.prepend(...entries.map(lineRow));
      while (lines.childElementCount > LIVE_KEEP) lines.lastElementChild.remove();
    };
    src.onerror = () => status('live tail: connection lost, reconnecting…', true);
    src.onopen = () => status('live tail: connected');
    tail = src;
    liveBtn.classList.add('on');
    liveBtn.textContent = 'Stop tail';
    stats.textContent = 'live: new lines appear at the top';
  }

  function stopTail() {
    if (!tail) return;
    tail.close();
    tail = null;
    liveBtn.classList.remove('on');
    liveBtn.textContent = 'Live tail';
  }

  if (textOf(editor).trim()) run();
  else editor.focus();
  return { destroy() { stopTail(); if (aborter) aborter.abort(); if (chart) chart.destroy(); editor.destroy(); } };
}
