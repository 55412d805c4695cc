// dom.js — the few DOM and formatting helpers every page uses (no framework).

// h('div', {class: 'x', onclick: f}, child, ...): an element; children are
// nodes, strings (text) or arrays of them; null and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

// 1234567 → "1.23M"; small values keep three significant digits.
export function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && a < 0.001) return String(Number(v.toPrecision(3))); // 0.000461, not 4.61e-4
  let i = 0;
  while (i < SI.length - 1 && Math.abs(v) >= 1000) { v /= 1000; i++; }
  return `${Number(v.toPrecision(3))}${SI[i]}`;
}

export function fmtBytes(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (i < units.length - 1 && Math.abs(v) >= 1024) { v /= 1024; i++; }
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

export function fmtTime(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

// {__name__: "up", job: "a"} → 'up{job="a"}'
export function seriesName(metric) {
  const { __name__: name = '', ...rest } = metric || {};
  const labels = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
  return labels || !name ? `${name}{${labels}}` : name;
}

// The status line in the header: errors stay until the next message.
export function status(msg, isError = false) {
  const el = document.getElementById('status');
  el.textContent = msg;
  el.className = isError ? 'error' : '';
}

// A figure on a card: title, value, an optional line below; test names it
// (data-card) for the tests.
export function card(title, value, sub, test) {
  return h('div', { class: 'card', dataset: { card: test } }, h('div', { class: 'k' }, title),
    h('div', { class: 'v' }, value), sub && h('div', { class: 'sub' }, sub));
}

// A plain table: cols [{title, cell: (row) => node | string}], one <tr> per
// row (rowAttrs(row) gives its attributes); `empty` says why there is none.
export function grid(cols, rows, empty, rowAttrs = () => ({})) {
  const body = rows.length ? rows.map((r) => h('tr', rowAttrs(r), cols.map((c) => h('td', {}, c.cell(r)))))
    : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, empty));
  return h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c.title)))), h('tbody', {}, body));
}

// An RFC 3339 time → "12s ago" / "3m ago" / "in 2h" (absolute in the title).
export function ago(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t <= 0) return '—';
  const s = Math.round((Date.now() - t) / 1000), a = Math.abs(s);
  const txt = a < 60 ? `${a}s` : a < 3600 ? `${Math.round(a / 60)}m` : a < 86400 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86400)}d`;
  return h('span', { title: iso }, s >= 0 ? `${txt} ago` : `in ${txt}`);
}

// A page's live refresh: load(signal) now and every `ms`; a newer run aborts
// the older one; errors go to the status line. Returns {destroy}.
export function every(ms, what, load) {
  let aborter = null;
  const run = async () => {
    if (aborter) aborter.abort();
    aborter = new AbortController();
    try {
      await load(aborter.signal);
      status('');
    } catch (e) {
      if (e.name !== 'AbortError') status(`${what}: ${e.message}`, true);
    }
  };
  run();
  const timer = setInterval(run, ms);
  return { run, destroy() { clearInterval(timer); if (aborter) aborter.abort(); } };
}
