// timerange.js — the time range shared by Explore and Logs: relative
// ("now-1h" … "now") or absolute (two instants), an optional step, and the
// picker that edits them. Ranges live in the URL as from/to/step strings.
import { h } from './dom.js';

const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
export const PRESETS = ['5m', '15m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];

// "1h30m" → 5400 (seconds); a bare number is seconds; null when invalid.
export function parseDuration(s) {
  s = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let total = 0, m, pos = 0;
  while ((m = re.exec(s))) { total += Number(m[1]) * UNITS[m[2]]; pos = re.lastIndex; }
  return pos === s.length && pos > 0 ? total : null;
}

export function fmtDuration(sec) {
  for (const u of ['d', 'h', 'm', 's']) if (sec >= UNITS[u] && sec % UNITS[u] === 0) return `${sec / UNITS[u]}${u}`;
  return `${sec}s`;
}

// "now", "now-1h", an ISO date-time or Unix seconds → Unix seconds at `now`.
export function parseInstant(s, now = Date.now() / 1000) {
  s = String(s).trim();
  if (s === 'now') return now;
  const rel = /^now-(.+)$/.exec(s);
  if (rel) {
    const d = parseDuration(rel[1]);
    return d === null ? null : now - d;
  }
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t / 1000;
}

// {from, to, step} strings → {start, end, step} seconds; throws on bad input.
export function resolve(range, points = 250) {
  const now = Date.now() / 1000;
  const start = parseInstant(range.from, now), end = parseInstant(range.to, now);
  if (start === null) throw new Error(`bad start time "${range.from}"`);
  if (end === null) throw new Error(`bad end time "${range.to}"`);
  if (start >= end) throw new Error('the start must be before the end');
  let step = range.step && range.step !== 'auto' ? parseDuration(range.step) : null;
  if (range.step && range.step !== 'auto' && !(step > 0)) throw new Error(`bad step "${range.step}"`);
  if (!step) step = Math.max(1, Math.ceil((end - start) / points));
  return { start, end, step };
}

// Unix seconds → the picker's absolute form (ISO 8601, UTC, whole seconds).
export const isoOf = (sec) => new Date(Math.round(sec) * 1000).toISOString().replace('.000Z', 'Z');

// The picker: preset buttons, from/to/step inputs; onchange(range) on edits.
// Its element has set(range) to show a range chosen elsewhere (a chart zoom).
export function picker(range, onchange, { withStep = true } = {}) {
  const from = h('input', { class: 'ti', value: range.from, title: 'start: now-1h, an ISO time or Unix seconds', 'aria-label': 'from' });
  const to = h('input', { class: 'ti', value: range.to, title: 'end', 'aria-label': 'to' });
  const step = h('input', { class: 'ti short', value: range.step || 'auto', title: 'step: auto or a duration', 'aria-label': 'step' });
  const emit = () => onchange({ from: from.value.trim(), to: to.value.trim(), step: step.value.trim() });
  const preset = h('select', {
    'aria-label': 'range',
    onchange: () => { from.value = `now-${preset.value}`; to.value = 'now'; emit(); },
  }, h('option', { value: '' }, 'range…'), PRESETS.map((p) => h('option', { value: p }, `last ${p}`)));
  for (const i of [from, to, step]) i.addEventListener('change', emit);
  const el = h('span', { class: 'picker' }, preset, from, '→', to, withStep && [' step ', step]);
  el.set = (r) => { from.value = r.from; to.value = r.to; step.value = r.step || 'auto'; };
  return el;
}
