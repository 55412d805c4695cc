/* hpa_metrics.c — what each metric of an HPA observes in the tsdb, in the
 * form the algorithm takes (orch__hpa_metric's observation fields):
 * - Resource / ContainerResource: the pods' container usage (cpu rate over
 *   the window, memory working set), as the resource metrics API gives it;
 * - Pods: series named after the metric with namespace and pod labels (and
 *   the metric's selector), one value per pod;
 * - Object: the series named after the metric with namespace and a label
 *   named after the object's kind in lower case (ingress="main"), as
 *   prometheus-adapter maps resources;
 * - External: the named query from the config, else the metric name as a
 *   selector; every series the metric's selector keeps is summed by the
 *   algorithm.
 * Values become milli-units as Quantity.MilliValue() reads them. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "orchestrator/hpa_live.h"

static const char *failure(const orch__hpa_observe_ctx *c, const lk_diag *d, int rc) {
  const char *msg = d->set ? d->msg : lk_strerror(rc);
  return lk_arena_strndup(c->a, msg, strlen(msg));
}

/* ---- resource metrics ---- */

static const orch__hpa_pod *pod_named(const orch__hpa_pod *pods, size_t n, const char *name) {
  for (size_t i = 0; name && i < n; i++)
    if (!strcmp(pods[i].name, name))
      return &pods[i];
  return NULL;
}

/* Groups the usage rows (sorted by namespace, pod, container) into items
 * for the pods of the list. */
static void usage_items(const orch__hpa_observe_ctx *c, const orch_usage_set *u, const orch__hpa_pod *pods,
                        size_t npods, orch__hpa_metric *m) {
  orch__hpa_pod_usage *items = lk_arena_zalloc(c->a, (u->n + 1) * sizeof *items);
  size_t n = 0;
  for (size_t i = 0; i < u->n;) {
    const char *pod = lk_labels_get(u->v[i].labels, u->v[i].nlabels, "pod");
    size_t j = i;
    while (j < u->n && !strcmp(lk_labels_get(u->v[j].labels, u->v[j].nlabels, "pod"), pod))
      j++;
    if (pod_named(pods, npods, pod)) {
      orch__hpa_container *cts = lk_arena_zalloc(c->a, (j - i) * sizeof *cts);
      for (size_t k = i; k < j; k++) {
        const orch_usage *r = &u->v[k];
        const char *ctr = lk_labels_get(r->labels, r->nlabels, "container");
        cts[k - i] = (orch__hpa_container){lk_arena_strndup(c->a, ctr, strlen(ctr)),
                                           {{r->has_cpu, r->has_memory},
                                            {orch__milli(r->cpu_cores), orch__milli(r->memory_bytes)}}};
      }
      items[n++] = (orch__hpa_pod_usage){lk_arena_strndup(c->a, pod, strlen(pod)), c->now_ms, c->cpu_window_ms,
                                         cts, j - i};
    }
    i = j;
  }
  m->usage = items;
  m->nusage = n;
}

static void observe_resource(const orch__hpa_observe_ctx *c, const char *ns, const orch__hpa_pod *pods,
                             size_t npods, orch__hpa_metric *m) {
  orch_usage_set u;
  lk_diag d = {0};
  int rc = orch_container_usage(c->db, ns, NULL, c->now_ms, c->cpu_window_ms, &u, &d);
  if (rc) {
    m->fetch_error = failure(c, &d, rc);
    return;
  }
  usage_items(c, &u, pods, npods, m);
  orch_usage_set_free(&u);
}

/* ---- series-backed metrics ---- */

/* Runs query, keeping series the selector (string form, may be NULL) matches. */
static int values(const orch__hpa_observe_ctx *c, const char *query, const char *selector, orch_value_set *out,
                  orch__hpa_metric *m) {
  orch_selector *sel = NULL;
  lk_diag d = {0};
  int rc = orch_selector_parse(selector, &sel, &d);
  if (!rc)
    rc = orch_query_values(c->db, query, sel, c->now_ms, out, &d);
  orch_selector_free(sel);
  if (rc)
    m->fetch_error = failure(c, &d, rc);
  return rc;
}

/* {__name__="name",…} with the given label matchers (NULL values skipped). */
static char *series_query(const orch__hpa_observe_ctx *c, const char *name, const char *l1, const char *v1,
                          const char *l2, const char *v2) {
  lk_buf q = {0};
  lk_buf_putc(&q, '{');
  orch__promql_matcher(&q, "__name__", name);
  orch__promql_matcher(&q, l1, v1);
  orch__promql_matcher(&q, l2, v2);
  lk_buf_putc(&q, '}');
  char *s = lk_arena_strndup(c->a, (char *)q.data, q.len);
  lk_buf_fini(&q);
  return s;
}

static void observe_pods(const orch__hpa_observe_ctx *c, const orch__hpa_obj *o, size_t i, const orch__hpa_pod *pods,
                         size_t npods, orch__hpa_metric *m) {
  orch_value_set vs;
  if (values(c, series_query(c, m->name, "namespace", o->ns, NULL, NULL), o->selectors[i], &vs, m))
    return;
  orch__hpa_sample *s = lk_arena_zalloc(c->a, (vs.n + 1) * sizeof *s);
  size_t n = 0;
  for (size_t k = 0; k < vs.n; k++) {
    const char *pod = lk_labels_get(vs.v[k].labels, vs.v[k].nlabels, "pod");
    if (pod_named(pods, npods, pod) && !isnan(vs.v[k].value))
      s[n++] = (orch__hpa_sample){lk_arena_strndup(c->a, pod, strlen(pod)), orch__milli(vs.v[k].value),
                                  vs.v[k].ts_ms, 60000};
  }
  m->samples = s;
  m->nsamples = n;
  orch_value_set_free(&vs);
}

static void keep_values(const orch__hpa_observe_ctx *c, const orch_value_set *vs, size_t max, orch__hpa_metric *m) {
  int64_t *v = lk_arena_zalloc(c->a, (vs->n + 1) * sizeof *v);
  size_t n = 0;
  for (size_t k = 0; k < vs->n && n < max; k++)
    if (!isnan(vs->v[k].value))
      v[n++] = orch__milli(vs->v[k].value);
  m->values = v;
  m->nvalues = n;
}

static void observe_object(const orch__hpa_observe_ctx *c, const orch__hpa_obj *o, size_t i, orch__hpa_metric *m) {
  char kind[64] = "";
  for (size_t k = 0; m->object_kind && m->object_kind[k] && k + 1 < sizeof kind; k++)
    kind[k] = (char)tolower((unsigned char)m->object_kind[k]);
  orch_value_set vs;
  if (values(c, series_query(c, m->name, "namespace", o->ns, kind[0] ? kind : NULL, m->object_name), o->selectors[i],
             &vs, m))
    return;
  keep_values(c, &vs, 1, m);
  orch_value_set_free(&vs);
}

static void observe_external(const orch__hpa_observe_ctx *c, const orch__hpa_obj *o, size_t i, orch__hpa_metric *m) {
  const orch_external_metric *e = orch_external_find(c->external, c->nexternal, m->name);
  const char *query = e ? e->query : series_query(c, m->name, NULL, NULL, NULL, NULL);
  orch_value_set vs;
  if (values(c, query, o->selectors[i], &vs, m))
    return;
  keep_values(c, &vs, vs.n, m);
  orch_value_set_free(&vs);
}

void orch__hpa_observe(const orch__hpa_observe_ctx *c, orch__hpa_obj *o, const orch__hpa_pod *pods, size_t npods) {
  for (size_t i = 0; i < o->nmetrics; i++) {
    orch__hpa_metric *m = &o->metrics[i];
    switch (m->type) {
    case ORCH__M_RESOURCE:
    case ORCH__M_CONTAINER_RESOURCE: observe_resource(c, o->ns, pods, npods, m); break;
    case ORCH__M_PODS: observe_pods(c, o, i, pods, npods, m); break;
    case ORCH__M_OBJECT: observe_object(c, o, i, m); break;
    case ORCH__M_EXTERNAL: observe_external(c, o, i, m); break;
    default: break;
    }
  }
}
