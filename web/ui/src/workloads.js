// workloads.js — what the orchestrator runs, from its Kubernetes API:
// deployments (ready/desired, a scale control: PATCH of the /scale
// subresource with the token), pods (phase, restarts, CPU and memory
// sparklines from the collector's container_* series with the pod's
// namespace/pod labels, a link to their logs), HorizontalPodAutoscalers
// (current/target of each metric), the replica history of every HPA (the
// lookout_hpa_* gauges) and the autoscaler's decision log.
import { call, getJSON, queryRange, write } from './api.js';
import { align, graph, sparkline } from './chart.js';
import { ago, clear, every, fmtBytes, fmtNum, grid, h, status } from './dom.js';

const SPARK_S = 3600, STEP_S = 60;
const POD_SERIES = {
  cpu: 'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{pod!=""}[5m]))',
  mem: 'sum by (namespace, pod) (container_memory_working_set_bytes{pod!=""})',
};
const REPLICAS = 'label_replace(lookout_hpa_current_replicas, "kind", "current", "", "") or label_replace(lookout_hpa_desired_replicas, "kind", "desired", "", "")';

export const key = (o) => `${o.metadata.namespace}/${o.metadata.name}`;
export const desired = (d) => d.spec.replicas ?? 1;
// A deployment's "ready/desired" (the Overview shows it too).
export const readyOf = (d) => h('span', { class: 'ready' }, `${(d.status && d.status.readyReplicas) || 0}/${desired(d)}`);
const podKey = (m) => `${m.namespace}/${m.pod}`;

// An HPA metric (spec or status) → {name, v: "45%" | "12.3"} of `which`.
function metricValue(m, which) {
  const src = m[m.type.charAt(0).toLowerCase() + m.type.slice(1)] || {}, v = src[which] || {};
  return { name: src.name || (src.metric && src.metric.name) || m.type,
    v: v.averageUtilization !== undefined ? `${v.averageUtilization}%` : v.averageValue ?? v.value ?? '—' };
}

const hpaMetrics = (hpa) => (hpa.spec.metrics || []).map((m, i) => {
  const t = metricValue(m, 'target'), cur = ((hpa.status && hpa.status.currentMetrics) || [])[i];
  return `${t.name} ${cur ? metricValue(cur, 'current').v : '—'} / ${t.v}`;
}).join(', ');

// Why a pod is in its phase: the message of its status or of a condition.
const why = (p) => p.status.message || ((p.status.conditions || []).find((c) => c.message) || {}).message || null;

const restarts = (p) => ((p.status && p.status.containerStatuses) || []).reduce((n, c) => n + (c.restartCount || 0), 0);

export function workloadsPage(el) {
  const deployBox = h('div', { id: 'deployments' }), podBox = h('div', { id: 'pods' }), hpaBox = h('div', { id: 'hpas' });
  const historyBox = h('div', { class: 'chart', id: 'replicas' }), eventBox = h('div', { id: 'decisions' });
  el.append(h('h2', {}, 'Deployments'), deployBox, h('h2', {}, 'Pods'), podBox, h('h2', {}, 'Autoscalers'), hpaBox,
    h('h2', {}, 'Replicas, last hour'), historyBox, h('h2', {}, 'Autoscaler decisions'), eventBox);
  let chart = null;

  async function scale(d, input) {
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 0) { status(`scale: "${input.value}" is not a replica count`, true); return; }
    try {
      await write('PATCH', `/apis/apps/v1/namespaces/${encodeURIComponent(d.metadata.namespace)}/deployments/${encodeURIComponent(d.metadata.name)}/scale`,
        { spec: { replicas: n } }, 'application/merge-patch+json');
      status(`${key(d)} scaled to ${n}`);
      live.run();
    } catch (e) { status(`scale ${key(d)}: ${e.message}`, true); }
  }

  function drawDeployments(list) {
    clear(deployBox, grid([
      { title: 'deployment', cell: key },
      { title: 'ready', cell: readyOf },
      { title: 'up to date', cell: (d) => (d.status && d.status.updatedReplicas) || 0 },
      { title: 'available', cell: (d) => (d.status && d.status.availableReplicas) || 0 },
      { title: 'age', cell: (d) => ago(d.metadata.creationTimestamp) },
      { title: 'scale', cell: (d) => {
        const input = h('input', { type: 'number', min: 0, class: 'ti short', value: desired(d), 'aria-label': 'replicas' });
        return h('span', {}, input, h('button', { class: 'scale', onclick: () => scale(d, input) }, 'scale'));
      } },
    ], list, 'no deployments', (d) => ({ dataset: { deployment: key(d), replicas: desired(d) } })));
  }

  function drawPods(list, series) {
    const spark = (m, kind, fmt) => {
      const s = series[kind].get(m);
      if (!s) return '—';
      const cell = h('div', { class: 'sp', title: fmt(s[1][s[1].length - 1]) });
      sparkline(cell, s[0], s[1]);
      return h('span', {}, cell, fmt(s[1][s[1].length - 1]));
    };
    clear(podBox, grid([
      { title: 'pod', cell: key },
      { title: 'status', cell: (p) => h('span', { class: `chip st-${(p.status.phase || '').toLowerCase()}`, title: why(p) }, p.status.phase || '?') },
      { title: 'restarts', cell: restarts },
      { title: 'CPU (cores)', cell: (p) => spark(key(p), 'cpu', fmtNum) },
      { title: 'memory', cell: (p) => spark(key(p), 'mem', fmtBytes) },
      { title: 'age', cell: (p) => ago(p.metadata.creationTimestamp) },
      { title: '', cell: (p) => h('a', { href: `#/logs?${new URLSearchParams({ q: `{namespace="${p.metadata.namespace}", pod="${p.metadata.name}"}` })}` }, 'logs') },
    ], list, 'no pods', (p) => ({ dataset: { pod: key(p) } })));
  }

  function drawHpas(list) {
    clear(hpaBox, grid([
      { title: 'autoscaler', cell: key },
      { title: 'target', cell: (a) => `${a.spec.scaleTargetRef.kind}/${a.spec.scaleTargetRef.name}` },
      { title: 'metrics (current / target)', cell: hpaMetrics },
      { title: 'min–max', cell: (a) => `${a.spec.minReplicas ?? 1}–${a.spec.maxReplicas}` },
      { title: 'replicas', cell: (a) => `${a.status.currentReplicas ?? 0} → ${a.status.desiredReplicas ?? 0}` },
    ], list, 'no autoscalers', (a) => ({ dataset: { hpa: key(a) } })));
  }

  function drawHistory(result) {
    if (chart) { chart.destroy(); chart = null; }
    clear(historyBox);
    if (!result.length) { historyBox.append(h('div', { class: 'muted' }, 'no autoscaler has synced in the last hour')); return; }
    chart = graph(historyBox, result.map((s) => `${s.metric.namespace}/${s.metric.hpa} ${s.metric.kind}`), align(result), { height: 180 });
  }

  function drawEvents(events) {
    clear(eventBox, grid([
      { title: 'time', cell: (e) => ago(e.time) },
      { title: 'autoscaler', cell: (e) => `${e.namespace}/${e.hpa}` },
      { title: 'replicas', cell: (e) => `${e.currentReplicas} → ${e.desiredReplicas}` },
      { title: 'metrics', cell: (e) => e.metrics.map((m) => `${m.name || m.type}: ${m.utilization ?? m.value ?? '—'} (×${fmtNum(m.ratio)})`).join(', ') },
      { title: 'why', cell: (e) => h('span', { class: e.error ? 'error' : '' }, e.error || e.reason || e.limitReason || (e.rescale ? 'rescale' : 'no change')) },
    ], events.slice().reverse(), 'no decisions yet'));
  }

  async function podSeries(signal) {
    const end = Math.floor(Date.now() / 1000), out = {};
    await Promise.all(Object.entries(POD_SERIES).map(async ([k, q]) => {
      out[k] = new Map((await queryRange(q, end - SPARK_S, end, STEP_S, { signal })).result.map((s) => [podKey(s.metric), align([s])]));
    }));
    return out;
  }

  const live = every(10000, 'workloads', async (signal) => {
    const end = Math.floor(Date.now() / 1000);
    const [deploys, pods, hpas, series, replicas, events] = await Promise.all([
      getJSON('/apis/apps/v1/deployments', signal), getJSON('/api/v1/pods', signal),
      getJSON('/apis/autoscaling/v2/horizontalpodautoscalers', signal), podSeries(signal),
      queryRange(REPLICAS, end - SPARK_S, end, STEP_S, { signal }), call('/api/v1/autoscaling/events', { limit: 50 }, { signal })]);
    drawDeployments(deploys.items);
    drawPods(pods.items, series);
    drawHpas(hpas.items);
    drawHistory(replicas.result);
    drawEvents(events.data);
  });
  return { destroy() { live.destroy(); if (chart) chart.destroy(); } };
}
