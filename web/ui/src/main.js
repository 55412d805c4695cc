// main.js — the dashboard's entry: one page at a time under #/<page>?<state>
// (see url.js). Pages are functions (el, params) that fill el and return
// {destroy}, called before the next page is built.
import './style.css';
import { alertsPage } from './alerts.js';
import { explorePage } from './explore.js';
import { flowsPage } from './flows.js';
import { logsPage } from './logs.js';
import { overviewPage } from './overview.js';
import { statusPage } from './status.js';
import { workloadsPage } from './workloads.js';
import { parseHash } from './url.js';

const pages = { overview: overviewPage, explore: explorePage, logs: logsPage, alerts: alertsPage,
  workloads: workloadsPage, flows: flowsPage, status: statusPage };
let current = null;

function route() {
  const { path, params } = parseHash();
  const name = pages[path] ? path : 'overview';
  if (current) current.destroy();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === name);
  const el = document.getElementById('page');
  el.replaceChildren();
  el.dataset.page = name;
  current = pages[name](el, params);
}

window.addEventListener('hashchange', route);
route();
