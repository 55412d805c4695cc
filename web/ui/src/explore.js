// explore.js — PromQL queries over a time range: several queries per page,
// each with its editor, a graph (lines or stacked, legend entries toggle
// series) or a table (the instant values at the range's end), and stats
// (series, points, answer time, draw time). The whole state — queries,
// range, step, view — is in the URL.
import { query, queryRange } from './api.js';
import { align, graph } from './chart.js';
import { clear, fmtNum, h, seriesName, status } from './dom.js';
import { promqlEditor, textOf } from './editor.js';
import { isoOf, picker, resolve } from './timerange.js';
import { setPageParams } from './url.js';

const MAX_SERIES = 500;
const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

function tableOf(data) {
  const rows = [];
  if (data.resultType === 'vector') for (const r of data.result) rows.push([seriesName(r.metric), r.value[1]]);
  else if (data.resultType === 'matrix')
    for (const r of data.result) rows.push([seriesName(r.metric), r.values.map((v) => `${v[1]} @${v[0]}`).join('\n')]);
  else rows.push([data.resultType, data.result[1]]);
  return h('table', { class: 'grid result' }, h('thead', {}, h('tr', {}, h('th', {}, 'series'), h('th', {}, 'value'))),
    h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono pre' }, v)))));
}

export function explorePage(el, params) {
  const state = {
    range: { from: params.get('from') || 'now-1h', to: params.get('to') || 'now', step: params.get('step') || 'auto' },
    view: params.get('view') || 'graph',
    stacked: params.get('stacked') === '1',
  };
  const panels = [];
  const list = h('div', { class: 'queries' });
  const viewSel = h('select', { 'aria-label': 'view', onchange: () => { state.view = viewSel.value; runAll(); } },
    ['graph', 'table'].map((v) => h('option', { value: v, selected: v === state.view }, v)));
  const stackBox = h('input', { type: 'checkbox', checked: state.stacked, onchange: () => { state.stacked = stackBox.checked; runAll(); } });
  const rangePicker = picker(state.range, (r) => { state.range = r; runAll(); });
  // a range dragged on any graph becomes the page's absolute range
  const zoom = (start, end) => {
    state.range = { from: isoOf(start), to: isoOf(end), step: 'auto' };
    rangePicker.set(state.range);
    runAll();
  };
  el.append(h('div', { class: 'bar' },
    rangePicker,
    viewSel, h('label', {}, stackBox, ' stacked'),
    h('button', { onclick: () => addPanel('', true) }, '+ query'),
    h('button', { class: 'primary', onclick: () => runAll() }, 'Run')), list);

  function save() {
    const p = new URLSearchParams({ ...state.range, view: state.view, stacked: state.stacked ? '1' : '0' });
    for (const panel of panels) p.append('q', textOf(panel.editor));
    setPageParams(p);
  }

  function addPanel(expr, focus) {
    const box = h('div', { class: 'editor' });
    const out = h('div', { class: 'out' });
    const stats = h('div', { class: 'stats muted' });
    const panel = { chart: null, aborter: null, out, stats };
    const node = h('section', { class: 'query' }, h('div', { class: 'qrow' }, box,
      h('button', { class: 'run', title: 'run (Shift+Enter)', onclick: () => run(panel) }, '▶'),
      h('button', { title: 'remove this query', onclick: () => remove(panel) }, '✕')), stats, out);
    panel.node = node;
    panel.editor = promqlEditor(box, expr, () => run(panel));
    panels.push(panel);
    list.append(node);
    if (focus) panel.editor.focus();
    return panel;
  }

  // leaving: the page is going away, the URL already names the next one
  function remove(panel, leaving = false) {
    if (panel.chart) panel.chart.destroy();
    if (panel.aborter) panel.aborter.abort();
    panel.editor.destroy();
    panel.node.remove();
    panels.splice(panels.indexOf(panel), 1);
    if (!leaving) save();
  }

  async function run(panel) {
    save();
    const expr = textOf(panel.editor).trim();
    if (panel.aborter) panel.aborter.abort();
    if (panel.chart) { panel.chart.destroy(); panel.chart = null; }
    clear(panel.out);
    panel.stats.textContent = '';
    if (!expr) return;
    panel.aborter = new AbortController();
    let r;
    try {
      r = resolve(state.range);
    } catch (e) {
      status(e.message, true);
      return;
    }
    const t0 = performance.now();
    panel.stats.textContent = 'running…';
    try {
      if (state.view === 'table') {
        const data = await query(expr, r.end, { signal: panel.aborter.signal });
        const t1 = performance.now();
        panel.out.append(tableOf(data));
        panel.stats.textContent = `${data.result.length ?? 1} result(s) · answered in ${Math.round(t1 - t0)} ms`;
      } else {
        await drawGraph(panel, expr, r, t0);
      }
      status('');
    } catch (e) {
      if (e.name === 'AbortError') return;
      panel.stats.textContent = '';
      panel.out.append(h('div', { class: 'error' }, e.message));
    }
  }

  async function drawGraph(panel, expr, r, t0) {
    const data = await queryRange(expr, r.start, r.end, r.step, { signal: panel.aborter.signal });
    const t1 = performance.now();
    const result = data.result.slice(0, MAX_SERIES);
    const aligned = align(result);
    const holder = h('div', { class: 'chart' });
    panel.out.append(holder);
    if (result.length) panel.chart = graph(holder, result.map((s) => seriesName(s.metric)), aligned, { stacked: state.stacked, xRange: [r.start, r.end], onZoom: zoom });
    await nextFrame();
    const t2 = performance.now();
    const points = result.reduce((n, s) => n + s.values.length, 0);
    holder.dataset.drawMs = String(Math.round(t2 - t1));
    panel.stats.textContent = `${data.result.length} series · ${fmtNum(points)} points · step ${r.step}s · ` +
      `answered in ${Math.round(t1 - t0)} ms · drawn in ${Math.round(t2 - t1)} ms` +
      (data.result.length > MAX_SERIES ? ` · showing the first ${MAX_SERIES}` : '');
    if (!result.length) panel.out.append(h('div', { class: 'muted' }, 'no data in this range'));
  }

  function runAll() {
    save();
    for (const p of panels) run(p);
  }

  const exprs = params.getAll('q');
  for (const q of exprs.length ? exprs : ['']) addPanel(q, false);
  if (exprs.some((q) => q.trim())) runAll();
  else panels[0].editor.focus();
  return { destroy() { for (const p of panels.slice()) remove(p, true); } };
}
