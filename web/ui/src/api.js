// api.js — calls to Lookout's own HTTP API (Prometheus and Loki shapes).
// Every call can be aborted with an AbortSignal; errors carry the server's
// message.

import { askToken, token } from './token.js';

export class ApiError extends Error {}

function form(params) {
  const f = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) f.append(k, String(one));
  }
  return f;
}

// GET (or POST as a form) path; resolves to the whole JSON answer.
export async function call(path, params = {}, { post = false, signal } = {}) {
  const f = form(params);
  const qs = f.toString();
  const r = post
    ? await fetch(path, { method: 'POST', body: f, signal })
    : await fetch(qs ? `${path}?${qs}` : path, { signal });
  let j;
  try {
    j = await r.json();
  } catch {
    throw new ApiError(`${path}: HTTP ${r.status}`);
  }
  if (j.status !== 'success') throw new ApiError(j.error || `${path}: HTTP ${r.status}`);
  return j;
}

export const query = (q, time, o) =>
  call('/api/v1/query', { query: q, time }, { post: true, ...o }).then((j) => j.data);

export const queryRange = (q, start, end, step, o) =>
  call('/api/v1/query_range', { query: q, start, end, step }, { post: true, ...o }).then((j) => j.data);

// Loki: times in seconds (floats) are accepted by Lookout's Loki API.
export const lokiRange = (params, o) =>
  call('/loki/api/v1/query_range', params, { post: true, ...o }).then((j) => j.data);

// Instant vector → [{metric, value: number}]
export const vectorValues = (data) =>
  (data.result || []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));

// The exposition text of /metrics → Map("name{labels}" → value), for
// Lookout's self-metrics read live.
export async function selfMetrics(signal) {
  const r = await fetch('/metrics', { signal });
  if (!r.ok) throw new ApiError(`/metrics: HTTP ${r.status}`);
  const out = new Map();
  for (const line of (await r.text()).split('\n')) {
    if (!line || line[0] === '#') continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

// A write (POST, PUT, PATCH, DELETE) with the bearer token (asked for once
// when none is kept; a 401 asks again). Resolves to the JSON answer or null;
// errors carry the server's message (Prometheus, Alertmanager or
// Kubernetes shape).
export async function write(method, path, body, type = 'application/json') {
  if (!token()) askToken();
  for (let asked = false; ; asked = true) {
    const headers = { 'Content-Type': type };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status === 401 && !asked && askToken() !== null) continue;
    const text = await r.text();
    let j = null;
    try { j = text ? JSON.parse(text) : null; } catch { /* a plain-text answer */ }
    if (!r.ok) throw new ApiError((j && (j.error || j.message)) || text || `${method} ${path}: HTTP ${r.status}`);
    return j;
  }
}

// GET of a JSON document in any shape (Kubernetes, Alertmanager).
export async function getJSON(path, signal) {
  const r = await fetch(path, { signal });
  const j = await r.json().catch(() => null);
  if (!r.ok || j === null) throw new ApiError((j && (j.error || j.message)) || `${path}: HTTP ${r.status}`);
  return j;
}
