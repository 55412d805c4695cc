// ui_lib.mjs — what the browser tests (ui_test.mjs, ui_pages.mjs) share:
// checks and their count, the API calls the tests make themselves, and
// the watcher that records console errors and failed requests of a page.
export const WAIT = 10000; // ms, any single wait

export const result = { failures: 0, figures: {} };

export function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAILED'} - ${what}`);
  if (!ok) result.failures++;
}

// A measured figure: printed for the log, kept for the result file.
export function figure(key, value, text) {
  result.figures[key] = value;
  console.log(`# ${text}`);
}

export async function post(base, path, body, type) {
  const r = await fetch(base + path, { method: 'POST', body, headers: { 'Content-Type': type } });
  if (r.status >= 300) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
}

export async function api(base, path, params) {
  const r = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
  const j = await r.json();
  if (j.status !== 'success') throw new Error(`${path}: ${j.error}`);
  return j.data;
}

// A JSON request with the bearer token; the parsed answer (status checked).
export async function send(base, method, path, token, body, type = 'application/json') {
  const r = await fetch(base + path, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': type },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Records what counts as a page problem. allow(url): a failing URL that
// is expected (an endpoint this build does not serve yet).
export function watch(page, name, problems, allow = () => false) {
  page.on('console', (m) => { if (m.type() === 'error' && !allow(m.location().url || '')) problems.push(`${name}: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (r.failure().errorText !== 'net::ERR_ABORTED' && !allow(r.url())) problems.push(`${name}: request failed: ${r.url()} ${r.failure().errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400 && !allow(r.url())) problems.push(`${name}: HTTP ${r.status()} for ${r.url()}`); });
}
