// chart.js — every chart of the dashboard, drawn by uPlot: time-series
// graphs (lines or stacked areas, legend entries toggle series), bars (log
// volume) and sparklines. A drawn chart's element carries data-series and
// data-points (what was drawn), for the browser tests and the curious.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNum } from './dom.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#ad494a', '#637939', '#8c6d31', '#7b4173'];
export const color = (i) => PALETTE[i % PALETTE.length];

// Prometheus matrix [{metric, values: [[t, "v"]]}] → uPlot data: one sorted
// time axis (the union of all timestamps), then one array per series with
// null where a series has no point.
export function align(result) {
  const seen = new Set();
  for (const r of result) for (const p of r.values) seen.add(p[0]);
  const x = Array.from(seen).sort((a, b) => a - b);
  const at = new Map();
  x.forEach((t, i) => at.set(t, i));
  const ys = result.map((r) => {
    const y = new Array(x.length).fill(null);
    for (const p of r.values) y[at.get(p[0])] = Number(p[1]);
    return y;
  });
  return [x, ...ys];
}

// Cumulative sums for a stacked chart (a missing point counts as 0).
function stack(data) {
  const out = [data[0]];
  let acc = new Array(data[0].length).fill(0);
  for (let s = 1; s < data.length; s++) {
    acc = data[s].map((v, i) => acc[i] + (v ?? 0));
    out.push(acc);
  }
  return out;
}

function countPoints(data) {
  let n = 0;
  for (let s = 1; s < data.length; s++) for (const v of data[s]) if (v !== null) n++;
  return n;
}

// Stacked areas are painted top band first, so each lower band covers the
// fill of the one above it.
// xRange: [start, end] seconds the x axis first spans, whatever the data
// covers. onZoom(start, end): a range dragged across the chart, given to the
// caller (to query it again at a finer step) instead of zooming the pixels.
function build(el, names, data, { stacked = false, bars = false, height = 260, colors, xRange, onZoom } = {}) {
  const order = stacked ? names.map((_, i) => names.length - 1 - i) : names.map((_, i) => i);
  const shown = stacked ? stack(data) : data;
  const paths = bars ? uPlot.paths.bars({ size: [0.9, 64] }) : undefined;
  const series = [{}].concat(order.map((i) => {
    const c = colors ? colors[i] : color(i);
    return { label: names[i], stroke: c, width: 1, fill: stacked || bars ? `${c}88` : undefined,
      points: { show: false }, paths, value: (u, v, si, idx) => fmtNum(idx === null || idx === undefined ? null : data[i + 1][idx]) };
  }));
  const opts = {
    width: Math.max(200, el.clientWidth || 600),
    height,
    series,
    scales: { x: { time: true } },
    axes: [{}, { size: 56, values: (u, vals) => vals.map(fmtNum) }],
    legend: { live: true },
  };
  if (onZoom) {
    opts.cursor = { drag: { x: true, y: false, setScale: false } };
    opts.hooks = { setSelect: [(u) => {
      if (u.select.width < 3) return;
      onZoom(u.posToVal(u.select.left, 'x'), u.posToVal(u.select.left + u.select.width, 'x'));
    }] };
  }
  const u = new uPlot(opts, [shown[0], ...order.map((i) => shown[i + 1])], el);
  if (xRange) u.setScale('x', { min: xRange[0], max: xRange[1] }); // drag-zoom still works after
  el.dataset.series = String(names.length);
  el.dataset.points = String(countPoints(data));
  const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
  ro.observe(el);
  return { u, destroy: () => { ro.disconnect(); u.destroy(); } };
}

// A graph of series names[i] with data = [x, y0, y1, ...] (seconds).
export const graph = (el, names, data, o) => build(el, names, data, o);

// A bar histogram (stacked when several series), e.g. log volume by level.
export const bars = (el, names, data, o) => build(el, names, data, { ...o, bars: true, stacked: names.length > 1 });

// A tiny line with no axes, legend or cursor.
export function sparkline(el, x, y, c = PALETTE[0]) {
  return new uPlot({
    width: 120, height: 26, cursor: { show: false }, legend: { show: false }, select: { show: false },
    axes: [{ show: false }, { show: false }], scales: { x: { time: false } },
    series: [{}, { stroke: c, width: 1, fill: `${c}33`, points: { show: false } }],
  }, [x, y], el);
}
