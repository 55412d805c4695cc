// flows.js — the service map: pods (and "world") as nodes on a circle,
// the traffic between them as arrows whose width grows with bytes/s, from
// GET /api/v1/flows/graph over the chosen range; the edges also as a table
// (rates, TCP retransmits and round-trip times). Plain SVG. The range is
// in the URL (#/flows?range=15m).
import { call } from './api.js';
import { clear, every, fmtBytes, fmtNum, grid, h } from './dom.js';
import { setPageParams } from './url.js';

const SVG = 'http://www.w3.org/2000/svg';
const RANGES = ['5m', '15m', '1h', '6h'];
const SECS = { m: 60, h: 3600 };

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...kids);
  return el;
}

// Node positions on a circle sized to the count.
function layout(nodes) {
  const r = Math.max(120, nodes.length * 22), c = r + 90, at = new Map();
  nodes.forEach((n, i) => {
    const a = (2 * Math.PI * i) / nodes.length - Math.PI / 2;
    at.set(n.id, { x: c + r * Math.cos(a), y: c + r * Math.sin(a) });
  });
  return { at, size: 2 * c };
}

function map(data) {
  const { at, size } = layout(data.nodes);
  const max = Math.max(1, ...data.edges.map((e) => e.bytes_per_second));
  const svg = s('svg', { viewBox: `0 0 ${size} ${size}`, width: size, height: size, class: 'flowmap' },
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 19, refY: 5, markerWidth: 10, markerHeight: 10,
      markerUnits: 'userSpaceOnUse', orient: 'auto' },
      s('path', { d: 'M0,0L10,5L0,10z', fill: '#7a8896' }))));
  for (const e of data.edges) {
    const a = at.get(e.source), b = at.get(e.target);
    if (!a || !b) continue;
    svg.append(s('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: 'edge', 'stroke-width': 1 + 5 * Math.sqrt(e.bytes_per_second / max),
      'marker-end': 'url(#arrow)', 'data-edge': `${e.source}>${e.target}` },
    s('title', {}, `${e.source} → ${e.target} ${e.proto}/${e.dst_port}: ${fmtBytes(e.bytes_per_second)}/s`)));
  }
  for (const n of data.nodes) {
    const p = at.get(n.id);
    svg.append(s('g', { class: n.id === 'world' ? 'node world' : 'node', 'data-node': n.id },
      s('circle', { cx: p.x, cy: p.y, r: 9 }), s('text', { x: p.x, y: p.y - 13, 'text-anchor': 'middle' }, n.pod || n.id)));
  }
  return svg;
}

const tcp = (e, k, f = fmtNum) => (e.tcp && e.tcp[k] !== null && e.tcp[k] !== undefined ? f(e.tcp[k]) : '—');
const ms = (v) => `${fmtNum(v * 1000)} ms`;

export function flowsPage(el, params) {
  const range = h('select', { 'aria-label': 'range', onchange: () => { setPageParams(new URLSearchParams({ range: range.value })); live.run(); } },
    RANGES.map((r) => h('option', { value: r, selected: r === (params.get('range') || '5m') }, `last ${r}`)));
  const box = h('div', { id: 'flowmap' }), edges = h('div', { id: 'edges' });
  el.append(h('div', { class: 'bar' }, h('h2', {}, 'Service map'), range), box, h('h2', {}, 'Connections'), edges);
  const live = every(15000, 'flows', async (signal) => {
    const end = Date.now() / 1000, span = parseInt(range.value, 10) * SECS[range.value.slice(-1)];
    const { data } = await call('/api/v1/flows/graph', { start: end - span, end }, { signal });
    clear(box, data.nodes.length ? map(data) : h('div', { class: 'muted' }, 'no flows in this range'));
    box.dataset.nodes = String(data.nodes.length);
    box.dataset.edges = String(data.edges.length);
    clear(edges, grid([
      { title: 'from', cell: (e) => e.source }, { title: 'to', cell: (e) => e.target },
      { title: 'port', cell: (e) => `${e.proto}/${e.dst_port || '—'}` },
      { title: 'bytes/s', cell: (e) => fmtBytes(e.bytes_per_second) },
      { title: 'packets/s', cell: (e) => fmtNum(e.packets_per_second) },
      { title: 'conn/s', cell: (e) => tcp(e, 'connections_per_second') },
      { title: 'retrans/s', cell: (e) => tcp(e, 'retransmits_per_second') },
      { title: 'rtt p50 / p99', cell: (e) => `${tcp(e, 'rtt_p50_seconds', ms)} / ${tcp(e, 'rtt_p99_seconds', ms)}` },
    ], data.edges.slice().sort((a, b) => b.bytes_per_second - a.bytes_per_second), 'no connections', (e) => ({ dataset: { edge: `${e.source}>${e.target}` } })));
  });
  return live;
}
