/* api_render.c — GET /api/v1/render: a PromQL range query drawn as a PNG
 * by librrd's rrd_graph, for alert notifications and chat/e-mail previews.
 *
 * The query runs through /api/v1/query_range's own code (web__eval_range),
 * so its parameters, limits and errors are that API's; render adds width,
 * height (the whole PNG, rrd_graph's --full-size-mode), title and format
 * (png, or json: the layout rrd_graph reports — image and graph area, value
 * range, one legend text per line). Each series is one line with its label
 * set as legend, up to limits.max_render_series (422 beyond). Bad
 * parameters and queries are 400 JSON errors, never an image.
 *
 * The series reach rrd_graph through librrd's fetch callback: each
 * DEF:sN=cb//<job>/<N> names this request's job (its address, checked by a
 * magic number) and a series index, and the callback hands librrd the
 * series' values at the query's step. No temporary .rrd files.
 * Lines are drawn without anti-aliasing (--graph-render-mode=mono; text
 * keeps it): that halves rrd_graph's CPU, half of which is cairo's
 * anti-aliased strokes and half the PNG encoding of their extra detail.
 *
 * Threads: librrd keeps the registered callback, and rrd_graph parts of its
 * state (pango/fontconfig set-up, localtime), process-wide, so every
 * rrd_graph call holds the server's render_mu (owned here; a leaf lock).
 */
#include <inttypes.h>
#include <math.h>
#include <rrd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_json.h"
#include "lib/lk_labels.h"
#include "web/api_query.h"
#include "web/web_int.h"

/* librrd 1.7 exports rrd_fetch_cb_register, but Debian's rrd.h does not
 * declare it (it sits in the library's internal header). Its ABI: the
 * consolidation function is an enum cf_en, passed here as int; names and
 * data are malloc'd and freed by librrd with free(). */
typedef int (*web__rrd_fetch_fn)(const char *filename, int cf, time_t *start, time_t *end,
                                 unsigned long *step, unsigned long *ds_cnt, char ***ds_names,
                                 rrd_value_t **data);
int rrd_fetch_cb_register(web__rrd_fetch_fn cb);

#define RENDER_MAGIC 0x4c4b52454e444552ull /* "LKRENDER" */
#define MIN_WIDTH 200
#define MAX_WIDTH 4000
#define MIN_HEIGHT 100
#define MAX_HEIGHT 3000
#define DEFAULT_WIDTH 800
#define DEFAULT_HEIGHT 300
#define MAX_LEGEND 150 /* bytes of label text per legend line */
#define MAX_TITLE 200 /* bytes; a longer query as the default title is cut */

/* One request's data, named by the DEFs it hands rrd_graph. */
typedef struct render_job {
  uint64_t magic;
  const promql_result *r;
  web_range rng;
} render_job;

typedef struct render_opts {
  long width, height;
  const char *title;
  bool json;
} render_opts;

/* Distinct line colours, cycled when the limit allows more series. */
static const char *const colors[] = {
    "1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "7f7f7f", "bcbd22", "17becf",
    "393b79", "e6550d", "31a354", "a50f15", "6a51a3", "843c39", "c51b8a", "525252", "8c6d31", "3182bd",
};
#define NCOLORS (sizeof colors / sizeof colors[0])

/*---- librrd's fetch callback ----*/

/* "cb//<job address, hex>/<series index>" → the job and that series, or
 * "cb//<job>/none" → the job and NULL (an empty graph's all-NaN line);
 * -1 for anything else. */
static int parse_source(const char *filename, const render_job **job, const promql_series **s)
{
  const char *p = strncmp(filename, "cb//", 4) ? filename : filename + 4;
  char *end;
  uintptr_t addr = (uintptr_t)strtoull(p, &end, 16);
  if (end == p || *end != '/' || !addr)
    return -1;
  const render_job *j = (const render_job *)addr;
  if (j->magic != RENDER_MAGIC)
    return -1;
  p = end + 1;
  *job = j;
  *s = NULL;
  if (!strcmp(p, "none"))
    return 0;
  unsigned long long i = strtoull(p, &end, 10);
  if (end == p || *end || i >= j->r->nseries)
    return -1;
  *s = &j->r->series[i];
  return 0;
}

/* One data source "v": row k holds the point at start + k·step (NaN where
 * the series has none), as rrd_graph reads rows from *start on. */
static int fetch_series(const char *filename, int cf, time_t *start, time_t *end, unsigned long *step,
                        unsigned long *ds_cnt, char ***ds_names, rrd_value_t **data)
{
  (void)cf;
  const render_job *j;
  const promql_series *s;
  if (parse_source(filename, &j, &s)) {
    rrd_set_error("lookout render: unknown data source %s", filename);
    return -1;
  }
  size_t rows = (size_t)((j->rng.end - j->rng.start) / j->rng.step) + 1;
  char **names = malloc(sizeof *names);
  double *v = malloc(rows * sizeof *v);
  if (!names || !v || !(names[0] = strdup("v"))) {
    free(names);
    free(v);
    rrd_set_error("lookout render: out of memory");
    return -1;
  }
  for (size_t k = 0; k < rows; k++)
    v[k] = NAN;
  for (size_t k = 0; s && k < s->n; k++)
    v[(s->t[k] - j->rng.start) / j->rng.step] = s->v[k];
  *step = (unsigned long)(j->rng.step / 1000);
  *start = (time_t)(j->rng.start / 1000);
  *end = *start + (time_t)(rows * *step);
  *ds_cnt = 1;
  *ds_names = names;
  *data = v;
  return 0;
}

/*---- Parameters ----*/

static int size_param(const lk_http_req *req, lk_http_resp *resp, const char *name, long lo, long hi,
                      long dflt, long *out)
{
  const char *v = lk_http_arg(req, name);
  if (!v || !*v) {
    *out = dflt;
    return 0;
  }
  char *end;
  long n = strtol(v, &end, 10);
  if (*end || n < lo || n > hi) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"%s\": must be an integer from %ld to %ld (pixels)",
                  name, lo, hi);
    return -1;
  }
  *out = n;
  return 0;
}

static int render_params(const lk_http_req *req, lk_http_resp *resp, render_opts *o)
{
  if (size_param(req, resp, "width", MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH, &o->width) ||
      size_param(req, resp, "height", MIN_HEIGHT, MAX_HEIGHT, DEFAULT_HEIGHT, &o->height))
    return -1;
  o->title = lk_http_arg(req, "title");
  if (o->title && strlen(o->title) > MAX_TITLE) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"title\": longer than %d bytes", MAX_TITLE);
    return -1;
  }
  const char *f = lk_http_arg(req, "format");
  o->json = f && !strcmp(f, "json");
  if (f && *f && !o->json && strcmp(f, "png")) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"format\": must be png or json");
    return -1;
  }
  return 0;
}

/* What rrd_graph needs beyond query_range's checks: whole seconds, and a
 * range it can draw. */
static int check_range(const web_range *rng, lk_http_resp *resp)
{
  if (rng->step % 1000) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"step\": a graph's step must be whole seconds");
    return -1;
  }
  if (rng->end / 1000 <= rng->start / 1000) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"end\": a graph needs end at least 1s after start");
    return -1;
  }
  return 0;
}

static int check_series(const web_server *w, const promql_result *r, lk_http_resp *resp)
{
  if (r->nseries <= w->limits.max_render_series)
    return 0;
  lk_http_error(resp, 422, "execution",
                "the query returned %zu series; a graph draws at most %zu (limits.max_render_series): "
                "narrow the selector or aggregate, e.g. with topk",
                r->nseries, w->limits.max_render_series);
  return -1;
}

/*---- The rrd_graph command line ----*/

/* How many of s's n bytes fit in max without splitting a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
  if (n <= max)
    return n;
  while (max && (s[max] & 0xc0) == 0x80)
    max--;
  return max;
}

/* The series' label set as legend text, ':' escaped for rrd_graph and cut
 * at a UTF-8 character boundary. It ends in '}' or a name character, never
 * in one of rrd_graph's "\x" alignment codes. */
static void legend(lk_buf *b, const promql_series *s)
{
  lk_buf text = {0};
  lk_labels_format(&text, s->labels, s->nlabels);
  size_t n = utf8_cut((const char *)text.data, text.len, MAX_LEGEND);
  for (size_t i = 0; i < n; i++) {
    if (text.data[i] == ':')
      lk_buf_putc(b, '\\');
    lk_buf_putc(b, (char)text.data[i]);
  }
  if (n < text.len)
    lk_buf_puts(b, "...");
  lk_buf_fini(&text);
}

typedef struct argv_b {
  char **v; /* NULL-terminated; owned */
  size_t n, cap;
} argv_b;

static void arg(argv_b *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argv_b *a, const char *fmt, ...)
{
  a->v = lk_xgrow(a->v, &a->cap, a->n + 2, sizeof *a->v);
  va_list ap;
  va_start(ap, fmt);
  lk_buf b = {0};
  lk_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  lk_buf_putc(&b, '\0');
  a->v[a->n++] = (char *)lk_buf_take(&b, NULL);
  a->v[a->n] = NULL;
}

static void argv_free(argv_b *a)
{
  for (size_t i = 0; i < a->n; i++)
    free(a->v[i]);
  free(a->v);
}

static void build_argv(argv_b *a, const render_job *j, const render_opts *o, const char *query)
{
  arg(a, "graph");
  arg(a, "-");
  arg(a, "--imgformat=PNG");
  arg(a, "--full-size-mode");
  arg(a, "--graph-render-mode=mono");
  arg(a, "--width=%ld", o->width);
  arg(a, "--height=%ld", o->height);
  arg(a, "--start=%lld", (long long)(j->rng.start / 1000));
  arg(a, "--end=%lld", (long long)(j->rng.end / 1000));
  const char *title = o->title && *o->title ? o->title : query;
  arg(a, "--title=%.*s", (int)utf8_cut(title, strlen(title), MAX_TITLE), title);
  for (size_t i = 0; i < j->r->nseries; i++) {
    arg(a, "DEF:s%zu=cb//%" PRIxPTR "/%zu:v:AVERAGE", i, (uintptr_t)j, i);
    lk_buf l = {0};
    legend(&l, &j->r->series[i]);
    lk_buf_putc(&l, '\0');
    arg(a, "LINE1:s%zu#%s:%s", i, colors[i % NCOLORS], (const char *)l.data);
    lk_buf_fini(&l);
  }
  if (!j->r->nseries) { /* rrd_graph draws nothing without a line */
    arg(a, "DEF:none=cb//%" PRIxPTR "/none:v:AVERAGE", (uintptr_t)j);
    arg(a, "LINE1:none#000000:no series");
  }
}

/*---- Running rrd_graph and answering ----*/

/* rrd_graph_v under render_mu; its info list (free with rrd_info_free) or
 * NULL with librrd's message in err. */
static rrd_info_t *graph(web_server *w, argv_b *a, char *err, size_t errlen)
{
  pthread_mutex_lock(&w->render_mu);
  rrd_fetch_cb_register(fetch_series);
  rrd_clear_error();
  rrd_info_t *info = rrd_graph_v((int)a->n, a->v);
  if (!info)
    snprintf(err, errlen, "%s", rrd_test_error() ? rrd_get_error() : "rrd_graph failed");
  rrd_clear_error();
  pthread_mutex_unlock(&w->render_mu);
  return info;
}

static bool is_legend(const char *key) { return !strncmp(key, "legend[", 7); }

/* format=json: rrd_graph's layout figures, and the legend lines in order. */
static void respond_json(lk_http_resp *resp, const rrd_info_t *info, size_t nseries)
{
  lk_buf d = {0};
  lk_buf_printf(&d, "{\"series\":%zu", nseries);
  for (const rrd_info_t *i = info; i; i = i->next) {
    if (is_legend(i->key) || (i->type != RD_I_VAL && i->type != RD_I_CNT && i->type != RD_I_INT))
      continue;
    lk_buf_putc(&d, ',');
    lk_json_str(&d, i->key);
    if (i->type == RD_I_VAL)
      lk_buf_printf(&d, ":%.17g", isfinite(i->value.u_val) ? i->value.u_val : 0.0);
    else if (i->type == RD_I_CNT)
      lk_buf_printf(&d, ":%lu", i->value.u_cnt);
    else
      lk_buf_printf(&d, ":%d", i->value.u_int);
  }
  lk_buf_puts(&d, ",\"legend\":[");
  bool first = true;
  for (const rrd_info_t *i = info; i; i = i->next) {
    if (!is_legend(i->key) || i->type != RD_I_STR)
      continue;
    if (!first)
      lk_buf_putc(&d, ',');
    first = false;
    lk_json_str(&d, i->value.u_str + strspn(i->value.u_str, " ")); /* rrd_graph pads for the swatch */
  }
  lk_buf_puts(&d, "]}");
  web__ok(resp, &d);
  lk_buf_fini(&d);
}

static void respond_png(lk_http_resp *resp, const rrd_info_t *info)
{
  for (const rrd_info_t *i = info; i; i = i->next)
    if (i->type == RD_I_BLO && !strcmp(i->key, "image")) {
      resp->status = 200;
      resp->content_type = "image/png";
      lk_buf_append(&resp->body, i->value.u_blo.ptr, i->value.u_blo.size);
      return;
    }
  lk_http_error(resp, 500, "internal", "rrd_graph returned no image");
}

/* Draw j's series (their number checked) and answer with the image or its layout. */
static void draw(web_server *w, const render_job *j, const render_opts *o, const char *query,
                 lk_http_resp *resp)
{
  argv_b a = {0};
  build_argv(&a, j, o, query);
  char err[512];
  rrd_info_t *info = graph(w, &a, err, sizeof err);
  argv_free(&a);
  if (!info)
    lk_http_error(resp, 422, "execution", "rrd_graph: %s", err);
  else if (o->json)
    respond_json(resp, info, j->r->nseries);
  else
    respond_png(resp, info);
  rrd_info_free(info);
}

void web__render(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  render_opts o;
  render_job j = {.magic = RENDER_MAGIC};
  promql_result *r = NULL;
  if (render_params(req, resp, &o) || web__eval_range(w, req, resp, &j.rng, &r))
    return;
  j.r = r;
  if (!check_range(&j.rng, resp) && !check_series(w, r, resp))
    draw(w, &j, &o, lk_http_arg(req, "query"), resp);
  promql_result_free(r);
}
