// status.js — the server itself: build info, tsdb head stats and a
// cardinality explorer (top metric names, label names and label pairs by
// series count from /api/v1/status/tsdb; a label's top values by series
// count on click), the scrape targets and the configuration (secrets
// redacted by the server).
import { call, query } from './api.js';
import { card, clear, fmtBytes, fmtNum, grid, h, status } from './dom.js';

const exploreLink = (q, text) => h('a', { href: `#/explore?${new URLSearchParams({ q })}` }, text);

export function statusPage(el) {
  const limitSel = h('select', { 'aria-label': 'top', onchange: () => load() }, [10, 20, 50, 100].map((n) => h('option', { value: n }, `top ${n}`)));
  const build = h('div', { class: 'cards', id: 'build' }), head = h('div', { class: 'cards', id: 'head' });
  const cardBox = h('div', { id: 'cardinality' }), values = h('div', { id: 'label-values' });
  const targets = h('div', { id: 'targets' }), config = h('pre', { class: 'mono config', id: 'config' });
  el.append(h('h2', {}, 'Build'), build, h('div', { class: 'bar' }, h('h2', {}, 'TSDB'), limitSel), head, cardBox, values,
    h('h2', {}, 'Targets'), targets, h('h2', {}, 'Configuration'), config);
  const aborter = new AbortController(), { signal } = aborter;

  async function labelValues(name) {
    const q = `topk(${limitSel.value}, count by (${name}) ({${name}!=""}))`;
    const r = await query(q, undefined, { signal });
    const rows = r.result.map((s) => ({ value: s.metric[name], n: Number(s.value[1]) })).sort((a, b) => b.n - a.n);
    clear(values, h('h2', {}, `Values of ${name} by series count`), grid([
      { title: 'value', cell: (x) => exploreLink(`{${name}=${JSON.stringify(x.value)}}`, x.value) },
      { title: 'series', cell: (x) => fmtNum(x.n) },
    ], rows, 'no series'));
  }

  function table(title, list, what, cell) {
    return h('section', { class: 'half' }, h('h2', {}, title), grid([
      { title: what, cell },
      { title: 'count', cell: (x) => fmtNum(x.value) },
    ], list, 'none', (x) => ({ dataset: { name: x.name } })));
  }

  async function load() {
    const s = (await call('/api/v1/status/tsdb', { limit: limitSel.value }, { signal })).data, hs = s.headStats;
    clear(head, card('head series', fmtNum(hs.numSeries)), card('label pairs', fmtNum(hs.numLabelPairs)),
      card('chunks', fmtNum(hs.chunkCount)),
      card('head range', hs.maxTime > hs.minTime ? `${new Date(hs.minTime).toLocaleString()} – ${new Date(hs.maxTime).toLocaleTimeString()}` : '—'));
    const pick = (x) => h('button', { class: 'link', onclick: () => labelValues(x.name).catch((e) => status(e.message, true)) }, x.name);
    clear(cardBox, h('div', { class: 'halves' },
      table('Metric names by series', s.seriesCountByMetricName, 'metric', (x) => exploreLink(x.name, x.name)),
      table('Label names by distinct values', s.labelValueCountByLabelName, 'label', pick),
      table('Label pairs by series', s.seriesCountByLabelValuePair, 'pair', (x) => x.name),
      h('section', { class: 'half' }, h('h2', {}, 'Label names by memory'), grid([
        { title: 'label', cell: pick }, { title: 'bytes', cell: (x) => fmtBytes(x.value) },
      ], s.memoryInBytesByLabelName, 'none'))));
  }

  async function once() {
    const [b, t, c] = await Promise.all([call('/api/v1/status/buildinfo', {}, { signal }),
      call('/api/v1/targets', {}, { signal }), call('/api/v1/status/config', {}, { signal })]);
    clear(build, Object.entries(b.data).filter(([, v]) => v).map(([k, v]) => card(k, v)));
    clear(targets, grid([
      { title: 'job', cell: (x) => x.scrapePool },
      { title: 'endpoint', cell: (x) => h('span', { class: 'mono' }, x.scrapeUrl) },
      { title: 'health', cell: (x) => h('span', { class: `chip st-${x.health}` }, x.health) },
      { title: 'last scrape', cell: (x) => (x.health === 'unknown' ? '—' : new Date(x.lastScrape).toLocaleTimeString()) },
      { title: 'interval', cell: (x) => x.scrapeInterval },
    ], t.data.activeTargets, 'no scrape targets configured (scrape_configs)'));
    config.textContent = c.data.yaml || '# no config file: every setting is its default';
  }

  Promise.all([load(), once()]).catch((e) => {
    if (e.name !== 'AbortError') el.append(h('div', { class: 'error' }, e.message));
  });
  return { destroy: () => aborter.abort() };
}
