// ui_pages.mjs — the browser checks of the Alerts, Workloads, Status and
// Flows pages (run by ui_test.mjs against its server, started with CONFIG):
//  - Alerts: an always-firing rule shows as firing, in the rules table and
//    in the history; its graph preview loads when the server renders PNGs
//    (/api/v1/render; before that endpoint exists its 404 is expected and
//    the preview is not checked); a silence created in the page is active
//    in the Alertmanager API and silences the alert, and expiring it in the
//    page expires it there.
//  - Workloads: a deployment created and scaled to 3 through the Kubernetes
//    API shows 3 desired; the page's scale button (token from the prompt)
//    scales it to 2, as the API then says; its pods are listed; its HPA
//    shows target, metric and bounds, and its decisions the decision log.
//  - Overview, while that deployment exists: the firing alert and the
//    deployment with the ready/desired the API answers, linking to the
//    Alerts and Workloads pages.
//  - Status: the cardinality table equals /api/v1/status/tsdb, a label's
//    values by series count, the configuration with its secret redacted.
//  - Flows (once /api/v1/flows/graph is served): lookout_flow_* and
//    lookout_tcp_* series pushed through the import API become the map's
//    nodes and edges as the API answers them, with the TCP connection rate.
import { join } from 'node:path';
import { api, check, post, send, WAIT, watch } from './ui_lib.mjs';

const SECRET = 'ui-test-secret-credential';

// Files written into the data directory; lookout.yaml is the --config.
export const CONFIG = {
  'lookout.yaml': `evaluation_interval: 1s
rule_files: [ui-rules.yml]
orchestrator: { sync_period: 1s, hpa_sync_period: 1s }
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:9/
        http_config:
          authorization: { type: Bearer, credentials: ${SECRET} }
route: { receiver: hook, group_wait: 1s }
`,
  'ui-rules.yml': `groups:
  - name: ui
    interval: 1s
    rules:
      - alert: UiAlwaysFiring
        expr: vector(1) > 0
        labels: { severity: page }
        annotations: { summary: always firing for the dashboard test }
`,
};

const page0 = async (ctx, name, allow) => {
  const page = await ctx.browser.newPage({ viewport: { width: 1400, height: 900 } });
  watch(page, name, ctx.problems, allow);
  page.on('dialog', (d) => d.accept(ctx.token)); // the token prompt before a write
  return page;
};

// Polls fn until it returns a truthy value (bounded by WAIT); that value or null.
async function until(fn) {
  const end = Date.now() + WAIT;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

export async function testAlerts(ctx) {
  const { base } = ctx;
  const probe = await fetch(`${base}/api/v1/render?${new URLSearchParams({ query: 'vector(1)', width: 100, height: 50 })}`);
  const rendered = probe.status === 200;
  if (!rendered) console.log(`# alerts: /api/v1/render answers ${probe.status} in this build: the preview is not checked`);
  const page = await page0(ctx, 'alerts', (url) => !rendered && url.includes('/api/v1/render'));
  await page.goto(`${base}/#/alerts`);
  await page.waitForSelector('#alerts tr[data-alert="UiAlwaysFiring"][data-state="firing"]', { timeout: WAIT });
  check(true, 'Alerts shows the always-firing rule\'s alert as firing');
  await page.waitForSelector('#rules tr[data-rule="UiAlwaysFiring"]', { timeout: WAIT });
  const rule = await page.$eval('#rules tr[data-rule="UiAlwaysFiring"]', (tr) => tr.textContent);
  check(/firing/.test(rule) && /ok/.test(rule) && /vector\(1\) > 0/.test(rule), `the rules table has its state, health and expression (${rule})`);
  await page.waitForFunction(() => /UiAlwaysFiring/.test(document.getElementById('history').textContent), null, { timeout: 15000 });
  check(true, 'the alert\'s state changes show in the history from the log store');
  if (rendered) {
    const ok = await page.waitForFunction(() => {
      const i = document.querySelector('#alerts img.preview');
      return i && i.complete && i.naturalWidth === 360;
    }, null, { timeout: WAIT }).then(() => true, () => false);
    check(ok, 'the firing alert has its rendered graph preview (360 px wide)');
  }

  await page.fill('#silence-form input[aria-label="matchers"]', 'alertname="UiAlwaysFiring"');
  await page.fill('#silence-form input[aria-label="duration"]', '1h');
  await page.click('#silence-form button[type="submit"]');
  const row = await page.waitForSelector('#silences tr[data-silence]', { timeout: WAIT });
  const id = await row.evaluate((tr) => tr.dataset.silence);
  const made = await (await fetch(`${base}/api/v2/silence/${id}`)).json();
  check(made.status.state === 'active' && made.matchers.length === 1 && made.matchers[0].name === 'alertname' &&
    made.matchers[0].value === 'UiAlwaysFiring' && made.matchers[0].isEqual && !made.matchers[0].isRegex,
  `a silence created in the page is active in the Alertmanager API (${made.status.state})`);
  const silenced = await until(async () => {
    const alerts = await (await fetch(`${base}/api/v2/alerts?filter=alertname%3D%22UiAlwaysFiring%22&silenced=true`)).json();
    return alerts.some((a) => a.status.silencedBy.includes(id));
  });
  check(silenced, 'the Alertmanager marks the alert silenced by it');
  await page.screenshot({ path: join(ctx.outDir, 'alerts.png'), fullPage: true });
  await page.click(`#silences tr[data-silence="${id}"] button.expire`);
  await page.waitForSelector(`#silences tr[data-silence="${id}"]`, { state: 'detached', timeout: WAIT });
  const gone = await (await fetch(`${base}/api/v2/silence/${id}`)).json();
  check(gone.status.state === 'expired', `expiring it in the page expires it in the API (${gone.status.state})`);
  await page.close();
}

const DEPLOY = '/apis/apps/v1/namespaces/default/deployments';
const HPA = '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers';

function deployment(name, replicas) {
  const labels = { app: name };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'host', command: ['/bin/sh', '-c', 'sleep 300'],
        resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } } } };
}

// The Overview's firing alerts and deployments: the always-firing alert and
// default/ui-web (scaled to 2) with the API's ready/desired, each a link.
async function overviewLists(ctx) {
  const { base, token } = ctx;
  const page = await page0(ctx, 'overview lists');
  await page.goto(`${base}/#/overview?refresh=5`);
  const alert = '#firing tr[data-alert="UiAlwaysFiring"]';
  const shown = await page.waitForSelector(alert, { timeout: WAIT }).then(() => true, () => false);
  check(shown && await page.$eval(`${alert} a`, (a) => a.getAttribute('href')) === '#/alerts',
    'Overview lists the firing alert, linking to the Alerts page');
  const sel = '#overview-deployments tr[data-deployment="default/ui-web"][data-replicas="2"]';
  let ready = null, want = null;
  await until(async () => {
    const d = await send(base, 'GET', `${DEPLOY}/ui-web`, token);
    want = `${d.status.readyReplicas || 0}/${d.spec.replicas}`;
    ready = await page.$eval(`${sel} .ready`, (e) => e.textContent).catch(() => null);
    return ready === want;
  });
  check(ready === want && /^\d+\/2$/.test(ready), `Overview shows the deployment's ready/desired as the API (${ready}, API ${want})`);
  await page.screenshot({ path: join(ctx.outDir, 'overview-lists.png'), fullPage: true });
  const linked = await page.click(`${sel} a`, { timeout: WAIT })
    .then(() => page.waitForSelector('#deployments tr[data-deployment="default/ui-web"]', { timeout: WAIT })).then(() => true, () => false);
  check(linked, 'its link opens the Workloads page with the deployment');
  await page.close();
}

export async function testWorkloads(ctx) {
  const { base, token } = ctx;
  await send(base, 'POST', DEPLOY, token, deployment('ui-web', 1));
  try {
    await send(base, 'PATCH', `${DEPLOY}/ui-web/scale`, token, { spec: { replicas: 3 } }, 'application/merge-patch+json');
    const page = await page0(ctx, 'workloads');
    await page.goto(`${base}/#/workloads`);
    const sel = '#deployments tr[data-deployment="default/ui-web"]';
    await page.waitForSelector(`${sel}[data-replicas="3"]`, { timeout: WAIT });
    const ready = await page.$eval(`${sel} .ready`, (e) => e.textContent);
    check(/^\d+\/3$/.test(ready), `Workloads shows the deployment scaled to 3 through the API (ready ${ready})`);
    await page.fill(`${sel} input[aria-label="replicas"]`, '2');
    await page.click(`${sel} button.scale`);
    await page.waitForSelector(`${sel}[data-replicas="2"]`, { timeout: WAIT });
    const scale = await send(base, 'GET', `${DEPLOY}/ui-web/scale`, token);
    check(scale.spec.replicas === 2, `the page's scale button scaled it to 2 (the API says ${scale.spec.replicas})`);
    await overviewLists(ctx);
    await send(base, 'POST', HPA, token, { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'ui-web' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ui-web' },
        minReplicas: 1, maxReplicas: 4, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] } });
    await page.reload();
    const hpa = '#hpas tr[data-hpa="default/ui-web"]';
    await page.waitForSelector(hpa, { timeout: WAIT });
    const hpaText = await page.$eval(hpa, (tr) => tr.textContent);
    check(/Deployment\/ui-web/.test(hpaText) && /cpu .* \/ 50%/.test(hpaText) && /1–4/.test(hpaText),
      `the autoscaler shows its target, metric (current / target) and bounds (${hpaText})`);
    const decided = await page.waitForSelector('#decisions tbody tr td:text-is("default/ui-web")', { timeout: 25000 }).then(() => true, () => false);
    check(decided, 'its decisions show in the decision log');
    const pods = await page.waitForFunction(() => document.querySelectorAll('#pods tr[data-pod^="default/ui-web-"]').length >= 2,
      null, { timeout: 15000 }).then(() => true, () => false);
    check(pods, 'its pods are listed (running or pending)');
    await page.screenshot({ path: join(ctx.outDir, 'workloads.png'), fullPage: true });
    await page.close();
  } finally {
    await send(base, 'DELETE', `${HPA}/ui-web`, token).catch(() => {});
    await send(base, 'DELETE', `${DEPLOY}/ui-web`, token);
    const left = await until(async () => (await send(base, 'GET', '/api/v1/namespaces/default/pods', token)).items
      .every((p) => !p.metadata.name.startsWith('ui-web-')));
    if (!left) console.log('# workloads: the deployment\'s pods were still there 10 s after its deletion');
  }
}

export async function testStatus(ctx) {
  const { base } = ctx;
  const page = await page0(ctx, 'status');
  await page.goto(`${base}/#/status`);
  await page.waitForSelector('#cardinality tr[data-name]', { timeout: WAIT });
  const want = await api(base, '/api/v1/status/tsdb', { limit: 10 });
  const shown = await page.$$eval('#cardinality section:first-child tbody tr', (trs) => trs.map((tr) => [tr.dataset.name, tr.cells[1].textContent]));
  check(shown.length === want.seriesCountByMetricName.length && shown[0][0] === 'ui_big' && shown[0][1] === '10' &&
    shown.every(([n], i) => n === want.seriesCountByMetricName[i].name),
  `the cardinality table lists the top metric names as /api/v1/status/tsdb does (${shown.slice(0, 2)})`);
  await page.selectOption('select[aria-label="top"]', '20');
  await page.waitForFunction(() => document.querySelectorAll('#cardinality section:first-child tbody tr').length === 20, null, { timeout: WAIT });
  check(true, 'choosing top 20 lists 20 metric names');
  await page.click('#cardinality button.link:text-is("i")');
  await page.waitForFunction(() => document.querySelectorAll('#label-values tbody tr').length === 10, null, { timeout: WAIT });
  check(true, 'a label name shows its values by series count (i: 10 values)');
  const config = await page.$eval('#config', (e) => e.textContent);
  check(config.includes('credentials: <secret>') && !config.includes(SECRET) && config.includes('rule_files: [ui-rules.yml]'),
    'the configuration shows with its secret redacted');
  const version = await page.$eval('#build', (e) => e.textContent);
  check(version.includes('version'), `build info shows (${version})`);
  await page.screenshot({ path: join(ctx.outDir, 'status.png'), fullPage: true });
  await page.close();
}

// Flow counters of three pods and the world over the last 10 minutes.
function flowSeries(now) {
  const edges = [['default', 'web', 'default', 'api', '8080', 1000], ['default', 'api', 'default', 'db', '5432', 300],
    ['', 'world', 'default', 'web', '443', 50]];
  const out = [];
  for (const [sn, sp, dn, dp, port, rate] of edges) {
    const l = `node="n1",src_namespace="${sn}",src_pod="${sp}",dst_namespace="${dn}",dst_pod="${dp}",dst_port="${port}",proto="tcp"`;
    for (let t = now - 600000; t <= now - 5000; t += 5000) {
      out.push(`lookout_flow_bytes_total{${l}} ${rate * (t - now + 600000) / 1000} ${t}`);
      out.push(`lookout_flow_packets_total{${l}} ${rate / 100 * (t - now + 600000) / 1000} ${t}`);
      if (sp === 'web') out.push(`lookout_tcp_connections_total{${l.replace(',proto="tcp"', '')}} ${2 * (t - now + 600000) / 1000} ${t}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export async function testFlows(ctx) {
  const { base } = ctx;
  const probe = await fetch(`${base}/api/v1/flows/graph`);
  if (probe.status === 404) {
    console.log('# flows: /api/v1/flows/graph is not served by this build: the Flows page is not checked');
    return;
  }
  const now = Date.now();
  await post(base, '/api/v1/import/prometheus', flowSeries(now), 'text/plain');
  const page = await page0(ctx, 'flows');
  await page.goto(`${base}/#/flows?range=15m`);
  await page.waitForSelector('#flowmap[data-edges="3"]', { timeout: WAIT });
  const end = Date.now() / 1000;
  const want = await api(base, '/api/v1/flows/graph', { start: end - 900, end });
  const nodes = await page.$$eval('#flowmap [data-node]', (e) => e.map((x) => x.dataset.node).sort());
  const edges = await page.$$eval('#flowmap [data-edge]', (e) => e.map((x) => x.dataset.edge).sort());
  check(nodes.join() === want.nodes.map((n) => n.id).sort().join() && nodes.includes('default/db') && nodes.includes('world'),
    `the map draws the API's nodes (${nodes})`);
  check(edges.join() === want.edges.map((e) => `${e.source}>${e.target}`).sort().join() && edges.includes('default/web>default/api'),
    `the map draws the API's edges (${edges})`);
  const conn = await page.$eval('#edges tr[data-edge="default/web>default/api"]', (tr) => tr.cells[5].textContent);
  const apiConn = want.edges.find((e) => e.source === 'default/web' && e.target === 'default/api').tcp.connections_per_second;
  check(apiConn > 0 && Math.abs(Number(conn) - apiConn) <= 0.05 * apiConn,
    `the connections table shows the TCP connection rate as the API (${conn}/s, API ${apiConn.toFixed(3)}/s)`);
  await page.screenshot({ path: join(ctx.outDir, 'flows.png'), fullPage: true });
  await page.close();
}
