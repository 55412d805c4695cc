// main.js — the dashboard's entry: one page at a time under #/<page>?<state>
// (see url.js). Pages are functions (el, params) that fill el and return
// {destroy}, called before the next page is built. Explore and Logs (the
// query editors: CodeMirror and the PromQL/LogQL parsers, most of the
// code) load on first use (querypages.js), so the Overview starts without.
import './style.css';
import { alertsPage } from './alerts.js';
import { status } from './dom.js';
import { flowsPage } from './flows.js';
import { overviewPage } from './overview.js';
import { statusPage } from './status.js';
import { parseHash } from './url.js';
import { workloadsPage } from './workloads.js';

const pages = { overview: overviewPage, alerts: alertsPage, workloads: workloadsPage, flows: flowsPage, status: statusPage };
const queryPages = { explore: 'explorePage', logs: 'logsPage' };
let current = null, routed = 0;

async function route() {
  const { path, params } = parseHash();
  const name = pages[path] || queryPages[path] ? path : 'overview';
  const mine = ++routed;
  if (current) current.destroy();
  current = null;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === name);
  const el = document.getElementById('page');
  el.replaceChildren();
  el.dataset.page = name;
  let page = pages[name];
  if (!page) {
    try {
      page = (await import('./querypages.js'))[queryPages[name]];
    } catch (e) {
      status(`cannot load the ${name} page: ${e.message}`, true);
      return;
    }
    if (mine !== routed) return; // another page was asked for meanwhile
  }
  current = page(el, params);
}

window.addEventListener('hashchange', route);
route();
