/* api_meta.c — metadata endpoints in Prometheus's shapes:
 * /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values,
 * /api/v1/status/tsdb and POST /api/v1/admin/flush; and the answers
 * Prometheus gives where Lookout keeps nothing (no metric metadata, no
 * exemplars): /api/v1/metadata → {}, /api/v1/query_exemplars → [], plus
 * /api/v1/status/buildinfo with Lookout's version — what Grafana's
 * Prometheus data source asks for.
 *
 * start/end default to everything stored (Prometheus treats them as
 * approximate anyway). Several match[] selectors are a union: each is
 * selected on its own, then the answers are merged, sorted and
 * de-duplicated. Empty answers are [] (never null). Prometheus 3's `limit`
 * cuts answers (with a warning), Lookout's `prefix` keeps the label names or
 * values that start with it, and `U__`-escaped label names in paths are
 * understood. Parameter errors use the `invalid parameter "<name>": <cause>`
 * wording with errorType bad_data.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_json.h"
#include "lib/lk_selector.h"
#include "lib/lk_time.h"
#include "lk_version.h"
#include "promql/promql.h"
#include "web/selector.h"
#include "web/web_int.h"

typedef struct range {
  int64_t mint, maxt;
} range;

static int parse_range(const lk_http_req *req, lk_http_resp *resp, range *r)
{
  static const char *const names[2] = {"start", "end"};
  int64_t v[2] = {INT64_MIN, INT64_MAX};
  for (int i = 0; i < 2; i++) {
    const char *s = lk_http_arg(req, names[i]);
    lk_diag d = {0};
    if (s && s[0] && lk_parse_time(s, &v[i], &d)) {
      lk_http_error(resp, 400, "bad_data", "invalid parameter \"%s\": %s", names[i], d.msg);
      return -1;
    }
  }
  if (v[1] < v[0]) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"end\": end timestamp must not be before start time");
    return -1;
  }
  r->mint = v[0];
  r->maxt = v[1];
  return 0;
}

/* Prometheus 3 `limit`: 0 or absent = unlimited; answers over it are cut and
 * carry a warning. */
static int parse_limit(const lk_http_req *req, lk_http_resp *resp, size_t *out)
{
  const char *s = lk_http_arg(req, "limit");
  char *end = NULL;
  long long v = s && s[0] ? strtoll(s, &end, 10) : 0;
  if (s && s[0] && (*end || v < 0)) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"limit\": limit must be a non-negative integer");
    return -1;
  }
  *out = v > 0 ? (size_t)v : SIZE_MAX;
  return 0;
}

/* The success envelope, with the truncation warning when the limit cut it. */
static void ok_maybe_truncated(lk_http_resp *resp, const lk_buf *data, bool truncated)
{
  web__ok(resp, data);
  if (truncated) {
    resp->body.len--; /* reopen the envelope */
    lk_buf_puts(&resp->body, ",\"warnings\":[\"results truncated due to limit\"]}");
  }
}

/* match[] values parsed into matcher sets (arena). Returns the count, or -1
 * after filling resp with the error. */
static long parse_matches(web_server *w, const lk_http_req *req, lk_http_resp *resp, lk_arena *a,
                          tsdb_matcher ***sets, size_t **lens)
{
  size_t n = lk_http_args(req, "match[]", NULL, 0);
  if (n > w->limits.max_match) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %zu selectors exceed the limit of %zu",
                  n, w->limits.max_match);
    return -1;
  }
  const char **vals = lk_arena_alloc(a, (n ? n : 1) * sizeof *vals);
  lk_http_args(req, "match[]", vals, n);
  *sets = lk_arena_alloc(a, (n ? n : 1) * sizeof **sets);
  *lens = lk_arena_alloc(a, (n ? n : 1) * sizeof **lens);
  for (size_t i = 0; i < n; i++) {
    lk_diag d = {0};
    if (web__selector_parse(vals[i], a, &(*sets)[i], &(*lens)[i], &d)) {
      lk_http_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %s", d.msg);
      return -1;
    }
  }
  return (long)n;
}

/* The parameters every metadata endpoint takes (matchers in the arena). */
typedef struct meta_params {
  tsdb_matcher **sets;
  size_t *lens;
  long n;          /* match[] selectors */
  range r;
  size_t limit;
} meta_params;

/* false after answering the error; /series requires a match[]. */
static bool parse_meta(web_server *w, const lk_http_req *req, lk_http_resp *resp, lk_arena *a,
                       bool match_required, meta_params *p)
{
  p->n = parse_matches(w, req, resp, a, &p->sets, &p->lens);
  if (p->n == 0 && match_required) {
    lk_http_error(resp, 400, "bad_data", "no match[] parameter provided");
    return false;
  }
  return p->n >= 0 && !parse_range(req, resp, &p->r) && !parse_limit(req, resp, &p->limit);
}

/*---- /api/v1/series ----*/

typedef struct series_ref {
  const lk_label *ls;
  size_t n;
} series_ref;

static int cmp_series(const void *a, const void *b)
{
  const series_ref *x = a, *y = b;
  return lk_labels_cmp(x->ls, x->n, y->ls, y->n);
}

/* Answers the union of n elements of `size` bytes as a JSON array: sorted
 * by cmp when they come from several lists (each list arrives sorted),
 * duplicates written once, cut at limit with the warning. */
static void write_union(lk_http_resp *resp, void *all, size_t n, size_t size, bool sort,
                        int (*cmp)(const void *, const void *), void (*put)(lk_buf *, const void *),
                        size_t limit)
{
  if (sort)
    qsort(all, n, size, cmp);
  const char *e = all;
  lk_buf data = {0};
  lk_buf_putc(&data, '[');
  size_t out = 0;
  bool cut = false;
  for (size_t i = 0; i < n; i++) {
    if (i && !cmp(e + (i - 1) * size, e + i * size))
      continue;
    if (out == limit) {
      cut = true;
      break;
    }
    if (out++)
      lk_buf_putc(&data, ',');
    put(&data, e + i * size);
  }
  lk_buf_putc(&data, ']');
  ok_maybe_truncated(resp, &data, cut);
  lk_buf_fini(&data);
}

static void put_series(lk_buf *b, const void *e)
{
  const series_ref *s = e;
  lk_json_labels(b, s->ls, s->n);
}

static void write_series(lk_http_resp *resp, tsdb_result **res, size_t nres, size_t limit)
{
  size_t total = 0;
  for (size_t i = 0; i < nres; i++)
    total += tsdb_result_count(res[i]);
  series_ref *all = lk_xmalloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (size_t i = 0; i < nres; i++)
    for (size_t j = 0; j < tsdb_result_count(res[i]); j++) {
      const tsdb_series *s = tsdb_result_get(res[i], j);
      all[k++] = (series_ref){s->labels, s->nlabels};
    }
  write_union(resp, all, total, sizeof *all, nres > 1, cmp_series, put_series, limit);
  free(all);
}

void web__series(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  lk_arena *a = lk_arena_new(4096);
  meta_params p;
  if (!parse_meta(w, req, resp, a, true, &p)) {
    lk_arena_free(a);
    return;
  }
  long n = p.n;
  tsdb_result **res = lk_xcalloc((size_t)n, sizeof *res);
  tsdb_select_opts so = {.labels_only = true, .max_series = w->limits.max_series};
  int rc = 0;
  lk_diag d = {0};
  for (long i = 0; i < n && !rc; i++)
    rc = tsdb_select(w->db, p.sets[i], p.lens[i], p.r.mint, p.r.maxt, &so, &res[i], &d);
  if (rc)
    web__fail(resp, rc, &d, rc == LK_EPARSE ? "invalid parameter \"match[]\"" : NULL);
  else
    write_series(resp, res, (size_t)n, p.limit);
  for (long i = 0; i < n; i++)
    tsdb_result_free(res[i]);
  free(res);
  lk_arena_free(a);
}

/*---- /api/v1/labels and /api/v1/label/<name>/values ----*/

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_str(lk_buf *b, const void *e)
{
  lk_json_str(b, *(char *const *)e);
}

/* Union of string lists, sorted and unique, as a JSON array; only the
 * strings starting with prefix. */
static void write_strings(lk_http_resp *resp, char ***lists, size_t *lens, size_t nl, size_t limit,
                          const char *prefix)
{
  size_t total = 0, plen = strlen(prefix);
  for (size_t i = 0; i < nl; i++)
    total += lens[i];
  char **all = lk_xmalloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (size_t i = 0; i < nl; i++)
    for (size_t j = 0; j < lens[i]; j++)
      if (!strncmp(lists[i][j], prefix, plen))
        all[k++] = lists[i][j];
  write_union(resp, all, k, sizeof *all, nl > 1, cmp_str, put_str, limit);
  free(all);
}

/* Values of `name` starting with prefix: a name=~"<prefix>.*" matcher is
 * added to every selector (or is the only one), so storage visits only the
 * series holding such a value instead of listing every value (5-20 times
 * faster for a metric-name prefix among 100,000 names). Prefixes with
 * control characters are left to the string filter alone. */
static void add_prefix_matcher(lk_arena *a, meta_params *p, const char *name, const char *prefix)
{
  size_t pl = strlen(prefix);
  char *re = lk_arena_alloc(a, 2 * pl + 3), *o = re;
  for (const unsigned char *s = (const unsigned char *)prefix; *s; s++) {
    if (*s < 0x20)
      return;
    if (*s < 0x80 && !isalnum(*s) && *s != '_')
      *o++ = '\\';
    *o++ = (char)*s;
  }
  memcpy(o, ".*", 3);
  if (!p->n) {
    p->sets = lk_arena_zalloc(a, sizeof *p->sets);
    p->lens = lk_arena_zalloc(a, sizeof *p->lens);
    p->n = 1;
  }
  for (long i = 0; i < p->n; i++) {
    tsdb_matcher *m = lk_arena_alloc(a, (p->lens[i] + 1) * sizeof *m);
    if (p->lens[i])
      memcpy(m, p->sets[i], p->lens[i] * sizeof *m);
    m[p->lens[i]] = (tsdb_matcher){TSDB_RE, name, re};
    p->sets[i] = m;
    p->lens[i]++;
  }
}

/* name == NULL: label names; else values of that label. `prefix` keeps
 * only the strings starting with it (the dashboard's autocomplete asks for
 * what was typed, with a limit, instead of every metric name). */
static void names_or_values(web_server *w, const lk_http_req *req, lk_http_resp *resp, const char *name)
{
  const char *prefix = lk_http_arg(req, "prefix");
  lk_arena *a = lk_arena_new(4096);
  meta_params p;
  if (!parse_meta(w, req, resp, a, false, &p)) {
    lk_arena_free(a);
    return;
  }
  if (name && prefix && *prefix)
    add_prefix_matcher(a, &p, name, prefix);
  long n = p.n;
  size_t nl = n ? (size_t)n : 1;
  char ***lists = lk_xcalloc(nl, sizeof *lists);
  size_t *counts = lk_xcalloc(nl, sizeof *counts);
  int rc = 0;
  lk_diag d = {0};
  for (size_t i = 0; i < nl && !rc; i++) {
    const tsdb_matcher *m = n ? p.sets[i] : NULL;
    size_t nm = n ? p.lens[i] : 0;
    rc = name ? tsdb_label_values(w->db, name, m, nm, p.r.mint, p.r.maxt, &lists[i], &counts[i], &d)
              : tsdb_label_names(w->db, m, nm, p.r.mint, p.r.maxt, &lists[i], &counts[i], &d);
  }
  if (rc)
    web__fail(resp, rc, &d, NULL);
  else
    write_strings(resp, lists, counts, nl, p.limit, prefix ? prefix : "");
  for (size_t i = 0; i < nl; i++)
    tsdb_strings_free(lists[i], counts[i]);
  free(lists);
  free(counts);
  lk_arena_free(a);
}

void web__labels(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  names_or_values(ctx, req, resp, NULL);
}

/* Prometheus 3 escaping of label names in paths: `U__` + the name with
 * `__` for `_` and `_<hex>_` for any other code point
 * (`U__http_2e_status_code` = `http.status_code`). Other names pass as they
 * are. Returns a malloc'd name, or NULL when the escape is malformed. */
static char *unescape_name(const char *s)
{
  if (strncmp(s, "U__", 3))
    return lk_xstrdup(s);
  lk_buf b = {0};
  for (const char *p = s + 3; *p;) {
    if (*p != '_') {
      lk_buf_putc(&b, (uint8_t)*p++);
    } else if (p[1] == '_') {
      lk_buf_putc(&b, '_');
      p += 2;
    } else {
      char *end;
      unsigned long cp = strtoul(p + 1, &end, 16);
      if (end == p + 1 || *end != '_' || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        lk_buf_fini(&b);
        return NULL;
      }
      lk_utf8_put(&b, (uint32_t)cp);
      p = end + 1;
    }
  }
  if (!b.data)
    lk_buf_puts(&b, "");
  return (char *)lk_buf_take(&b, NULL);
}

void web__label_values(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const char *p = lk_http_path_param(req);
  const char *slash = strchr(p, '/');
  if (!slash || strcmp(slash, "/values")) {
    lk_http_error(resp, 404, "not_found", "no such endpoint: %s", lk_http_path(req));
    return;
  }
  char *raw = lk_xstrndup(p, (size_t)(slash - p));
  char *name = unescape_name(raw);
  if (!name || !name[0] || !lk_utf8_valid(name, strlen(name)))
    lk_http_error(resp, 400, "bad_data", "invalid label name: \"%s\"", raw);
  else
    names_or_values(ctx, req, resp, name);
  free(name);
  free(raw);
}

/*---- /api/v1/status/tsdb ----*/

static void count_list(lk_buf *b, const char *key, const tsdb_count *c, size_t n)
{
  lk_buf_printf(b, ",\"%s\":[", key);
  for (size_t i = 0; i < n; i++) {
    lk_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    lk_json_str(b, c[i].name);
    lk_buf_printf(b, ",\"value\":%llu}", (unsigned long long)c[i].count);
  }
  lk_buf_putc(b, ']');
}

void web__status_tsdb(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  const char *ls = lk_http_arg(req, "limit");
  char *end = NULL;
  long limit = ls ? strtol(ls, &end, 10) : 10;
  if (ls && (*end || limit <= 0 || limit > 10000)) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"limit\": must be a positive integer up to 10000");
    return;
  }
  tsdb_status *st = NULL;
  int rc = tsdb_status_get(w->db, (size_t)limit, &st);
  if (rc) {
    web__fail(resp, rc, NULL, "status");
    return;
  }
  lk_buf data = {0};
  lk_buf_printf(&data,
                "{\"headStats\":{\"numSeries\":%llu,\"numLabelPairs\":%llu,\"chunkCount\":%llu,"
                "\"minTime\":%lld,\"maxTime\":%lld}",
                (unsigned long long)st->head_series, (unsigned long long)st->head_label_pairs,
                (unsigned long long)st->head_chunks, (long long)st->head_min_t, (long long)st->head_max_t);
  count_list(&data, "seriesCountByMetricName", st->series_by_metric, st->n_series_by_metric);
  count_list(&data, "labelValueCountByLabelName", st->values_by_label, st->n_values_by_label);
  count_list(&data, "memoryInBytesByLabelName", st->bytes_by_label, st->n_bytes_by_label);
  count_list(&data, "seriesCountByLabelValuePair", st->series_by_pair, st->n_series_by_pair);
  lk_buf_putc(&data, '}');
  web__ok(resp, &data);
  lk_buf_fini(&data);
  tsdb_status_free(st);
}

/*---- buildinfo, metadata, exemplars ----*/

void web__buildinfo(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  lk_buf data = {0};
  lk_buf_puts(&data, "{\"version\":");
  lk_json_str(&data, LOOKOUT_VERSION);
  lk_buf_puts(&data, ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
                     "\"goVersion\":\"\"}");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}

void web__metadata(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  lk_buf data = {0};
  lk_buf_puts(&data, "{}");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}

/* The query must parse, as in Prometheus; the answer is always empty. */
void web__query_exemplars(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const char *q = lk_http_arg(req, "query");
  promql_expr *e = NULL;
  lk_diag d = {0};
  if (!q || promql_parse(q, &e, &d)) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"query\": %s", q ? d.msg : "query is required");
    return;
  }
  promql_expr_free(e);
  lk_buf data = {0};
  lk_buf_puts(&data, "[]");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}

/*---- /api/v1/admin/flush ----*/

void web__flush(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  lk_diag d = {0};
  int rc = tsdb_flush(w->db, &d);
  if (rc) /* whatever the cause, the server could not persist: a server error */
    lk_http_error(resp, 500, "internal", "flush: %s", d.set ? d.msg : lk_strerror(rc));
  else
    resp->status = 204;
}
