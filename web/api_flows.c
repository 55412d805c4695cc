/* api_flows.c — GET /api/v1/flows/graph?start=&end=: the service map of the
 * network flow series (collector/ meters them) as nodes (pods and `world`)
 * and edges (source pod → destination pod, port, protocol) with byte and
 * packet rates and TCP health, for the dashboard.
 *
 * Every number comes from a PromQL instant query at `end` over a window of
 * end − start (default end = now, start = end − 5 m), run through the query
 * API's own code path (web__eval_instant): rates are increase(...) / window
 * summed over nodes; RTT quantiles are histogram_quantile over the summed
 * bucket increases. The results are gathered as (edge key, kind, value)
 * facts, sorted by key and folded into one edge per key, so a TCP series
 * without byte series still makes an edge. Bad start/end → 400 bad_data as
 * the query API; evaluation errors map as there (web__fail).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "web/api_query.h"
#include "web/web_int.h"

#define DEFAULT_WINDOW_MS (5 * 60 * 1000)

enum fact_kind { F_BYTES, F_PACKETS, F_CONNS, F_RETRANS, F_RESETS, F_RTT50, F_RTT99, F_NKINDS };

/* The edge labels, in key order; TCP series have no proto (it is "tcp"). */
static const char *const edge_labels[] = {"src_namespace", "src_pod", "dst_namespace",
                                          "dst_pod", "dst_port", "proto"};
#define NEDGE_LABELS 6
#define BY_TCP "src_namespace,src_pod,dst_namespace,dst_pod,dst_port"
#define BY_ALL BY_TCP ",proto"

typedef struct fact {
  char *key[NEDGE_LABELS]; /* owned */
  enum fact_kind kind;
  double v;
} fact;

typedef struct facts {
  fact *v;
  size_t n, cap;
} facts;

typedef struct edge {
  const char *key[NEDGE_LABELS]; /* borrowed from the facts */
  double val[F_NKINDS];
  bool has[F_NKINDS];
} edge;

static int key_cmp(char *const a[NEDGE_LABELS], char *const b[NEDGE_LABELS])
{
  for (int i = 0; i < NEDGE_LABELS; i++) {
    int c = strcmp(a[i], b[i]);
    if (c)
      return c;
  }
  return 0;
}

static int fact_cmp(const void *a, const void *b)
{
  const fact *x = a, *y = b;
  return key_cmp(x->key, y->key);
}

static void facts_free(facts *fs)
{
  for (size_t i = 0; i < fs->n; i++)
    for (int k = 0; k < NEDGE_LABELS; k++)
      free(fs->v[i].key[k]);
  free(fs->v);
}

/* One fact per result series; a series' missing label is "" (proto: "tcp"). */
static void add_facts(facts *fs, const promql_result *r, enum fact_kind kind)
{
  for (size_t i = 0; i < r->nseries; i++) {
    const promql_series *s = &r->series[i];
    if (!s->n)
      continue;
    fs->v = lk_xgrow(fs->v, &fs->cap, fs->n + 1, sizeof *fs->v);
    fact *f = &fs->v[fs->n++];
    for (int k = 0; k < NEDGE_LABELS; k++) {
      const char *v = lk_labels_get(s->labels, s->nlabels, edge_labels[k]);
      f->key[k] = lk_xstrdup(v ? v : k == NEDGE_LABELS - 1 ? "tcp" : "");
    }
    f->kind = kind;
    f->v = s->v[0];
  }
}

/* The queries, each formatted with the window; a rate is divided by it. */
static const struct {
  enum fact_kind kind;
  bool per_second;
  const char *fmt;
} queries[] = {
  {F_BYTES, true, "sum by (" BY_ALL ") (increase(lookout_flow_bytes_total[%s]))"},
  {F_PACKETS, true, "sum by (" BY_ALL ") (increase(lookout_flow_packets_total[%s]))"},
  {F_CONNS, true, "sum by (" BY_TCP ") (increase(lookout_tcp_connections_total[%s]))"},
  {F_RETRANS, true, "sum by (" BY_TCP ") (increase(lookout_tcp_retransmits_total[%s]))"},
  {F_RESETS, true, "sum by (" BY_TCP ") (increase(lookout_tcp_resets_total[%s]))"},
  {F_RTT50, false, "histogram_quantile(0.5, sum by (" BY_TCP ",le) "
                   "(increase(lookout_tcp_rtt_seconds_bucket[%s])))"},
  {F_RTT99, false, "histogram_quantile(0.99, sum by (" BY_TCP ",le) "
                   "(increase(lookout_tcp_rtt_seconds_bucket[%s])))"},
};

static int run_queries(const web_server *w, int64_t start, int64_t end, facts *fs, lk_diag *d)
{
  char window[32], secs[LK_FMT_FLOAT_MAX], q[600];
  snprintf(window, sizeof window, "%lldms", (long long)(end - start));
  lk_fmt_plain(secs, (double)(end - start) / 1000.0);
  for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
    int n = snprintf(q, sizeof q, queries[i].fmt, window);
    if (queries[i].per_second)
      snprintf(q + n, sizeof q - (size_t)n, " / %s", secs);
    promql_result *r = NULL;
    int rc = web__eval_instant(w, q, end, &r, d);
    if (!rc && r->type == PROMQL_VECTOR)
      add_facts(fs, r, queries[i].kind);
    promql_result_free(r);
    if (rc)
      return rc;
  }
  return 0;
}

/* Folds the sorted facts into edges (*out malloc'ed, keys borrowed). */
static size_t fold_edges(const facts *fs, edge **out)
{
  edge *es = lk_xcalloc(fs->n ? fs->n : 1, sizeof *es);
  size_t n = 0;
  for (size_t i = 0; i < fs->n; i++) {
    const fact *f = &fs->v[i];
    if (!n || fact_cmp(f, &fs->v[i - 1])) {
      n++;
      memcpy(es[n - 1].key, f->key, sizeof f->key);
    }
    es[n - 1].val[f->kind] = f->v;
    es[n - 1].has[f->kind] = true;
  }
  *out = es;
  return n;
}

/* "ns/pod", or "world" for the unknown side. */
static void node_id(lk_buf *b, const char *ns, const char *pod)
{
  if (!*ns && !strcmp(pod, "world")) {
    lk_json_str(b, "world");
    return;
  }
  size_t n = strlen(ns) + strlen(pod) + 2;
  char *id = lk_xmalloc(n);
  snprintf(id, n, "%s/%s", ns, pod);
  lk_json_str(b, id);
  free(id);
}

static void json_num(lk_buf *b, double v, bool present)
{
  char s[LK_FMT_FLOAT_MAX];
  if (!present || !isfinite(v))
    lk_buf_puts(b, "null");
  else {
    lk_fmt_plain(s, v);
    lk_buf_puts(b, s);
  }
}

static void json_edge(lk_buf *b, const edge *e)
{
  lk_buf_puts(b, "{\"source\":");
  node_id(b, e->key[0], e->key[1]);
  lk_buf_puts(b, ",\"target\":");
  node_id(b, e->key[2], e->key[3]);
  lk_buf_puts(b, ",\"dst_port\":");
  lk_json_str(b, e->key[4]);
  lk_buf_puts(b, ",\"proto\":");
  lk_json_str(b, e->key[5]);
  lk_buf_puts(b, ",\"bytes_per_second\":");
  json_num(b, e->val[F_BYTES], true);
  lk_buf_puts(b, ",\"packets_per_second\":");
  json_num(b, e->val[F_PACKETS], true);
  lk_buf_puts(b, ",\"tcp\":");
  bool tcp = e->has[F_CONNS] || e->has[F_RETRANS] || e->has[F_RESETS] || e->has[F_RTT50];
  if (!tcp) {
    lk_buf_puts(b, "null}");
    return;
  }
  static const struct {
    const char *name;
    enum fact_kind kind;
  } fields[] = {{"connections_per_second", F_CONNS}, {"retransmits_per_second", F_RETRANS},
                {"resets_per_second", F_RESETS}, {"rtt_p50_seconds", F_RTT50},
                {"rtt_p99_seconds", F_RTT99}};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    lk_buf_printf(b, "%c\"%s\":", i ? ',' : '{', fields[i].name);
    bool quantile = fields[i].kind >= F_RTT50;
    json_num(b, e->val[fields[i].kind], !quantile || e->has[fields[i].kind]);
  }
  lk_buf_puts(b, "}}");
}

typedef struct pod_ref {
  const char *ns, *pod;
} pod_ref;

static int pod_cmp(const void *a, const void *b)
{
  const pod_ref *x = a, *y = b;
  int c = strcmp(x->ns, y->ns);
  return c ? c : strcmp(x->pod, y->pod);
}

/* Every endpoint of an edge once, sorted by namespace then pod. */
static void json_nodes(lk_buf *b, const edge *es, size_t n)
{
  pod_ref *ps = lk_xcalloc(2 * n + 1, sizeof *ps);
  for (size_t i = 0; i < n; i++) {
    ps[2 * i] = (pod_ref){es[i].key[0], es[i].key[1]};
    ps[2 * i + 1] = (pod_ref){es[i].key[2], es[i].key[3]};
  }
  qsort(ps, 2 * n, sizeof *ps, pod_cmp);
  lk_buf_putc(b, '[');
  for (size_t i = 0, out = 0; i < 2 * n; i++) {
    if (i && !pod_cmp(&ps[i], &ps[i - 1]))
      continue;
    lk_buf_puts(b, out++ ? ",{\"id\":" : "{\"id\":");
    node_id(b, ps[i].ns, ps[i].pod);
    lk_buf_puts(b, ",\"namespace\":");
    lk_json_str(b, ps[i].ns);
    lk_buf_puts(b, ",\"pod\":");
    lk_json_str(b, ps[i].pod);
    lk_buf_putc(b, '}');
  }
  lk_buf_putc(b, ']');
  free(ps);
}

static void respond(lk_http_resp *resp, const edge *es, size_t n)
{
  lk_buf *b = &resp->body;
  resp->status = 200;
  resp->content_type = "application/json";
  lk_buf_puts(b, "{\"status\":\"success\",\"data\":{\"nodes\":");
  json_nodes(b, es, n);
  lk_buf_puts(b, ",\"edges\":[");
  for (size_t i = 0; i < n; i++) {
    if (i)
      lk_buf_putc(b, ',');
    json_edge(b, &es[i]);
  }
  lk_buf_puts(b, "]}}");
}

void web__flows_graph(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const web_server *w = ctx;
  int64_t end, start;
  if (web__time_param(req, resp, "end", false, lk_now_ms(), &end) ||
      web__time_param(req, resp, "start", false, end - DEFAULT_WINDOW_MS, &start))
    return;
  if (end <= start) {
    lk_http_error(resp, 400, "bad_data",
                  "invalid parameter \"end\": end timestamp must be after start time");
    return;
  }
  facts fs = {0};
  lk_diag d = {0};
  int rc = run_queries(w, start, end, &fs, &d);
  if (rc) {
    web__fail(resp, rc, &d, NULL);
    facts_free(&fs);
    return;
  }
  if (fs.n)
    qsort(fs.v, fs.n, sizeof *fs.v, fact_cmp);
  edge *es = NULL;
  size_t n = fold_edges(&fs, &es);
  respond(resp, es, n);
  free(es);
  facts_free(&fs);
}
