/* hpa_usage.c — metric reads from the tsdb through PromQL, shared by the
 * autoscaler (hpa_metrics.c) and the Kubernetes metrics APIs: container and
 * node usage from the collector's series, and instant queries filtered by a
 * label selector (external metrics). Results own their strings in an arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "orchestrator/hpa_live.h"
#include "promql/promql.h"

/* ---- building queries ---- */

void orch__promql_matcher(lk_buf *q, const char *name, const char *value) {
  if (!value)
    return;
  if (q->len && q->data[q->len - 1] != '{')
    lk_buf_putc(q, ',');
  lk_buf_printf(q, "%s=\"", name);
  for (const char *p = value; *p; p++) {
    if (*p == '"' || *p == '\\')
      lk_buf_putc(q, '\\');
    lk_buf_putc(q, (uint8_t)*p);
  }
  lk_buf_putc(q, '"');
}

static int run(tsdb *db, const char *query, int64_t now_ms, promql_result **r, lk_diag *d) {
  promql_expr *e;
  int rc = promql_parse(query, &e, d);
  if (rc)
    return rc;
  promql_queryable q = promql_queryable_tsdb(db);
  promql_opts o = {0};
  rc = promql_eval_instant(&q, &o, e, now_ms, r, d);
  promql_expr_free(e);
  return rc;
}

static char *keep(lk_arena *a, const char *s) {
  return lk_arena_strndup(a, s, strlen(s));
}

static lk_label *copy_labels(lk_arena *a, const lk_label *ls, size_t n) {
  lk_label *v = lk_arena_alloc(a, (n + 1) * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = (lk_label){keep(a, ls[i].name), keep(a, ls[i].value)};
  return v;
}

/* ---- usage ---- */

void orch_usage_set_free(orch_usage_set *s) {
  lk_arena_free(s->mem);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static orch_usage *usage_slot(orch_usage_set *s, const promql_series *ser, int64_t t, size_t *cap) {
  for (size_t i = 0; i < s->n; i++)
    if (lk_labels_equal(s->v[i].labels, s->v[i].nlabels, ser->labels, ser->nlabels))
      return &s->v[i];
  s->v = lk_xgrow(s->v, cap, s->n + 1, sizeof *s->v);
  orch_usage *u = &s->v[s->n++];
  memset(u, 0, sizeof *u);
  u->labels = copy_labels(s->mem, ser->labels, ser->nlabels);
  u->nlabels = ser->nlabels;
  u->ts_ms = t;
  return u;
}

/* Runs the cpu and memory queries and merges them by label set. */
static int usage_read(tsdb *db, const char *cpu_q, const char *mem_q, int64_t now_ms, orch_usage_set *out,
                      lk_diag *d) {
  memset(out, 0, sizeof *out);
  out->mem = lk_arena_new(4096);
  size_t cap = 0;
  const char *queries[2] = {cpu_q, mem_q};
  for (int k = 0; k < 2; k++) {
    promql_result *r;
    int rc = run(db, queries[k], now_ms, &r, d);
    if (rc) {
      orch_usage_set_free(out);
      return rc;
    }
    for (size_t i = 0; r->type == PROMQL_VECTOR && i < r->nseries; i++) {
      orch_usage *u = usage_slot(out, &r->series[i], r->t, &cap);
      if (k == 0)
        u->has_cpu = true, u->cpu_cores = r->series[i].v[0];
      else
        u->has_memory = true, u->memory_bytes = r->series[i].v[0];
    }
    promql_result_free(r);
  }
  return 0;
}

static const char *label_or_empty(const orch_usage *u, const char *name) {
  const char *v = lk_labels_get(u->labels, u->nlabels, name);
  return v ? v : "";
}

/* Order by namespace, pod, container (or node): a pod's rows are adjacent. */
static int by_identity(const void *a, const void *b) {
  static const char *const keys[] = {"namespace", "pod", "container", "node"};
  for (int k = 0; k < 4; k++) {
    int c = strcmp(label_or_empty(a, keys[k]), label_or_empty(b, keys[k]));
    if (c)
      return c;
  }
  return 0;
}

static void sort_usage(orch_usage_set *s) {
  if (s->n)
    qsort(s->v, s->n, sizeof *s->v, by_identity);
}

/* Runs the cpu and memory queries (NUL-terminated here) and frees the
 * three buffers; the usage set comes back sorted. */
static int read_sorted(tsdb *db, lk_buf *sel, lk_buf *cpu, lk_buf *mem, int64_t now_ms, orch_usage_set *out,
                       lk_diag *d) {
  lk_buf_putc(cpu, '\0');
  lk_buf_putc(mem, '\0');
  int rc = usage_read(db, (char *)cpu->data, (char *)mem->data, now_ms, out, d);
  if (!rc)
    sort_usage(out);
  lk_buf_fini(sel);
  lk_buf_fini(cpu);
  lk_buf_fini(mem);
  return rc;
}

int orch_container_usage(tsdb *db, const char *ns, const char *pod, int64_t now_ms, int64_t window_ms,
                         orch_usage_set *out, lk_diag *d) {
  lk_buf sel = {0}, cpu = {0}, mem = {0};
  lk_buf_puts(&sel, "container!=\"\",container!=\"POD\",pod!=\"\""); /* not the pod cgroup, not a sandbox */
  orch__promql_matcher(&sel, "namespace", ns);
  orch__promql_matcher(&sel, "pod", pod);
  lk_buf_putc(&sel, '\0');
  lk_buf_printf(&cpu, "sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{%s}[%lldms]))",
                (char *)sel.data, (long long)window_ms);
  lk_buf_printf(&mem, "sum by (namespace, pod, container) (container_memory_working_set_bytes{%s})",
                (char *)sel.data);
  return read_sorted(db, &sel, &cpu, &mem, now_ms, out, d);
}

int orch_node_usage(tsdb *db, const char *node, int64_t now_ms, int64_t window_ms, orch_usage_set *out,
                    lk_diag *d) {
  lk_buf sel = {0}, cpu = {0}, mem = {0};
  lk_buf_puts(&sel, "node!=\"\"");
  orch__promql_matcher(&sel, "node", node);
  lk_buf_putc(&sel, '\0');
  const char *s = (char *)sel.data;
  lk_buf_printf(&cpu, "sum by (node) (rate(node_cpu_seconds_total{%s,mode!~\"idle|iowait\"}[%lldms]))", s,
                (long long)window_ms);
  lk_buf_printf(&mem, "sum by (node) (node_memory_mem_total_bytes{%s}) - sum by (node) "
                      "(node_memory_mem_available_bytes{%s})", s, s);
  return read_sorted(db, &sel, &cpu, &mem, now_ms, out, d);
}

/* ---- query values ---- */

void orch_value_set_free(orch_value_set *s) {
  lk_arena_free(s->mem);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static void add_value(orch_value_set *s, size_t *cap, const lk_label *ls, size_t n, double v, int64_t t) {
  s->v = lk_xgrow(s->v, cap, s->n + 1, sizeof *s->v);
  s->v[s->n++] = (orch_value){copy_labels(s->mem, ls, n), n, v, t};
}

int orch_query_values(tsdb *db, const char *query, const orch_selector *sel, int64_t now_ms,
                      orch_value_set *out, lk_diag *d) {
  promql_result *r;
  int rc = run(db, query, now_ms, &r, d);
  if (rc)
    return rc;
  if (r->type != PROMQL_VECTOR && r->type != PROMQL_SCALAR) {
    promql_result_free(r);
    return lk_diag_set(d, LK_EINVAL, -1, "query \"%s\" must give an instant vector or a scalar", query);
  }
  memset(out, 0, sizeof *out);
  out->mem = lk_arena_new(1024);
  size_t cap = 0;
  if (r->type == PROMQL_SCALAR && orch_selector_matches(sel, NULL, 0))
    add_value(out, &cap, NULL, 0, r->scalar, r->t);
  for (size_t i = 0; r->type == PROMQL_VECTOR && i < r->nseries; i++) {
    const promql_series *s = &r->series[i];
    if (orch_selector_matches(sel, s->labels, s->nlabels))
      add_value(out, &cap, s->labels, s->nlabels, s->v[0], s->t[0]);
  }
  promql_result_free(r);
  return 0;
}

const orch_external_metric *orch_external_find(const orch_external_metric *v, size_t n, const char *name) {
  for (size_t i = 0; name && i < n; i++)
    if (strcmp(v[i].name, name) == 0)
      return &v[i];
  return NULL;
}
