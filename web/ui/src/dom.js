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
