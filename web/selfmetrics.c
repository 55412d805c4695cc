/* selfmetrics.c — GET /metrics: Lookout's own metrics in the text exposition
 * format (0.0.4), and the counters behind them.
 *
 * Counters are bumped on the request paths: ingest totals with relaxed
 * atomics, per-route request counts and latency histograms under
 * stats.lock (a leaf lock, held for a table lookup and an add). The page is
 * rendered from a copy taken under the lock, plus tsdb_status_get and
 * /proc/self for the process metrics (standard process_* names, so existing
 * dashboards work), plus malloc's own account of the heap, so a soak can
 * tell live memory from free pages malloc keeps. Every family has HELP and
 * TYPE so `promtool check metrics` is clean.
 */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alerting/alerting.h"
#include "lib/lk_json.h"
#include "lk_version.h"
#include "orchestrator/orchestrator.h"
#include "web/web_int.h"

static const double bucket_le[WEB_NBUCKETS - 1] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25, 0.5, 1, 5};
static const char *const path_names[WEB_IN_NPATHS] = {"remote_write", "import"};

static web_latency *latency_slot(web_stats *s, const char *route)
{
  for (size_t i = 0; i < s->nlat; i++)
    if (s->lat[i].route == route || !strcmp(s->lat[i].route, route))
      return &s->lat[i];
  if (s->nlat == WEB_MAX_ROUTES)
    return NULL;
  web_latency *l = &s->lat[s->nlat++];
  l->route = route;
  return l;
}

static web_code_count *code_slot(web_stats *s, const char *route, int code)
{
  for (size_t i = 0; i < s->ncodes; i++)
    if (s->codes[i].code == code && (s->codes[i].route == route || !strcmp(s->codes[i].route, route)))
      return &s->codes[i];
  if (s->ncodes == WEB_MAX_CODES)
    return NULL;
  web_code_count *c = &s->codes[s->ncodes++];
  c->route = route;
  c->code = code;
  return c;
}

void web__observe(void *ctx, const char *route, int status, int64_t micros)
{
  web_server *w = ctx;
  double secs = (double)micros / 1e6;
  size_t b = 0;
  while (b < WEB_NBUCKETS - 1 && secs > bucket_le[b])
    b++;
  pthread_mutex_lock(&w->stats.lock);
  web_code_count *c = code_slot(&w->stats, route, status);
  if (c)
    c->n++;
  web_latency *l = latency_slot(&w->stats, route);
  if (l) {
    l->bucket[b]++;
    l->sum_s += secs;
    l->count++;
  }
  pthread_mutex_unlock(&w->stats.lock);
}

void web__count_append(web_server *w, enum web_ingest_path path, const tsdb_append_stats *st)
{
  atomic_fetch_add_explicit(&w->stats.ingested[path], st->accepted, memory_order_relaxed);
  atomic_fetch_add_explicit(&w->stats.duplicates, st->duplicates, memory_order_relaxed);
  for (int r = 0; r < TSDB_REJECT__COUNT; r++)
    atomic_fetch_add_explicit(&w->stats.rejected[r], st->rejected[r], memory_order_relaxed);
}

/*---- rendering ----*/

static void family(lk_buf *b, const char *name, const char *type, const char *help)
{
  lk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void value(lk_buf *b, double v)
{
  char tmp[LK_FMT_FLOAT_MAX];
  lk_buf_putc(b, ' ');
  lk_buf_append(b, tmp, lk_fmt_value(tmp, v));
  lk_buf_putc(b, '\n');
}

/* name{k="v"} x, or name x when k is NULL. */
static void sample1(lk_buf *b, const char *name, const char *k, const char *v, double x)
{
  lk_buf_puts(b, name);
  if (k) {
    lk_label l = {k, v};
    lk_labels_format(b, &l, 1); /* {k="v"}, value escaped */
  }
  value(b, x);
}

static void render_ingest(lk_buf *b, web_server *w)
{
  family(b, "lookout_samples_ingested_total", "counter", "Samples stored through the ingest APIs.");
  for (int p = 0; p < WEB_IN_NPATHS; p++)
    sample1(b, "lookout_samples_ingested_total", "path", path_names[p],
            (double)atomic_load(&w->stats.ingested[p]));
  family(b, "lookout_samples_duplicate_total", "counter",
         "Samples ignored because the same timestamp and value were already stored.");
  sample1(b, "lookout_samples_duplicate_total", NULL, NULL, (double)atomic_load(&w->stats.duplicates));
  family(b, "lookout_samples_rejected_total", "counter", "Samples refused at ingest (not stored), by reason.");
  for (int r = 0; r < TSDB_REJECT__COUNT; r++)
    sample1(b, "lookout_samples_rejected_total", "reason", tsdb_reject_name(r),
            (double)atomic_load(&w->stats.rejected[r]));
  family(b, "lookout_ingest_requests_rejected_total", "counter",
         "Ingest requests refused as a whole (bad body, invalid series, limits).");
  for (int p = 0; p < WEB_IN_NPATHS; p++)
    sample1(b, "lookout_ingest_requests_rejected_total", "path", path_names[p],
            (double)atomic_load(&w->stats.bad_requests[p]));
}

static void render_tsdb(lk_buf *b, web_server *w)
{
  tsdb_status *st = NULL;
  if (tsdb_status_get(w->db, 0, &st) || !st)
    return;
  static const struct {
    const char *name, *type, *help;
    size_t off;
  } g[] = {
#define G(n, t, h, f) {n, t, h, offsetof(tsdb_status, f)}
      G("lookout_tsdb_head_series", "gauge", "Series in the in-memory head.", head_series),
      G("lookout_tsdb_head_samples", "gauge", "Samples in the in-memory head.", head_samples),
      G("lookout_tsdb_head_chunks", "gauge", "Chunks in the in-memory head.", head_chunks),
      G("lookout_tsdb_wal_bytes", "gauge", "Size of the write-ahead log on disk.", wal_bytes),
      G("lookout_tsdb_wal_errors_total", "counter", "Failed write-ahead log writes and syncs since start.",
        wal_errors_total),
      G("lookout_tsdb_blocks", "gauge", "Persistent blocks on disk.", blocks),
      G("lookout_tsdb_block_bytes", "gauge", "Size of the persistent blocks on disk.", block_bytes),
      G("lookout_tsdb_samples_appended_total", "counter", "Samples appended since start.",
        samples_appended_total),
      G("lookout_tsdb_series_created_total", "counter", "Series created since start.",
        series_created_total),
      G("lookout_tsdb_sample_cache_hits_total", "counter",
        "Block chunks served decoded from the sample cache.", sample_cache_hits_total),
      G("lookout_tsdb_sample_cache_misses_total", "counter",
        "Block chunks decoded by queries (and then cached).", sample_cache_misses_total),
      G("lookout_tsdb_sample_cache_bytes", "gauge", "Memory held by decoded chunks in the sample cache.",
        sample_cache_bytes),
      G("lookout_tsdb_sample_cache_evictions_total", "counter",
        "Sample cache entries evicted to stay within its budget.", sample_cache_evictions_total),
#undef G
  };
  for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
    family(b, g[i].name, g[i].type, g[i].help);
    sample1(b, g[i].name, NULL, NULL, (double)*(const uint64_t *)((const char *)st + g[i].off));
  }
  tsdb_status_free(st);
}

static void render_http(lk_buf *b, web_server *w)
{
  web_stats *s = &w->stats;
  pthread_mutex_lock(&s->lock);
  family(b, "lookout_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
  for (size_t i = 0; i < s->ncodes; i++) {
    lk_label ls[2] = {{"code", NULL}, {"handler", s->codes[i].route}};
    char code[16];
    snprintf(code, sizeof code, "%d", s->codes[i].code);
    ls[0].value = code;
    lk_buf_puts(b, "lookout_http_requests_total");
    lk_labels_format(b, ls, 2);
    value(b, (double)s->codes[i].n);
  }
  const char *h = "lookout_http_request_duration_seconds";
  family(b, h, "histogram", "HTTP request latency, by route.");
  for (size_t i = 0; i < s->nlat; i++) {
    const web_latency *l = &s->lat[i];
    uint64_t cum = 0;
    for (size_t k = 0; k < WEB_NBUCKETS; k++) {
      char le[32];
      cum += l->bucket[k];
      if (k < WEB_NBUCKETS - 1)
        lk_fmt_value(le, bucket_le[k]);
      else
        strcpy(le, "+Inf");
      lk_label ls[2] = {{"handler", l->route}, {"le", le}};
      lk_buf_printf(b, "%s_bucket", h);
      lk_labels_format(b, ls, 2);
      value(b, (double)cum);
    }
    lk_label hl = {"handler", l->route};
    lk_buf_printf(b, "%s_sum", h);
    lk_labels_format(b, &hl, 1);
    value(b, l->sum_s);
    lk_buf_printf(b, "%s_count", h);
    lk_labels_format(b, &hl, 1);
    value(b, (double)l->count);
  }
  pthread_mutex_unlock(&s->lock);
}

static long count_fds(void)
{
  DIR *dir = opendir("/proc/self/fd");
  long n = 0;
  if (!dir)
    return -1;
  for (struct dirent *e; (e = readdir(dir));)
    if (e->d_name[0] != '.')
      n++;
  closedir(dir);
  return n - 1; /* the directory handle itself */
}

static double boot_time(void)
{
  FILE *f = fopen("/proc/stat", "r");
  char line[256];
  double bt = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "btime %lf", &bt) == 1)
      break;
  if (f)
    fclose(f);
  return bt;
}

static void render_process(lk_buf *b)
{
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f)
    return;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may contain spaces */
  unsigned long utime = 0, stime = 0, vsize = 0;
  unsigned long long start = 0;
  long rss = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                          "%*d %llu %lu %ld", &utime, &stime, &start, &vsize, &rss) != 5)
    return;
  double tick = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
  struct rlimit rl = {0};
  getrlimit(RLIMIT_NOFILE, &rl);
  family(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  sample1(b, "process_cpu_seconds_total", NULL, NULL, (double)(utime + stime) / tick);
  family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  sample1(b, "process_resident_memory_bytes", NULL, NULL, (double)rss * page);
  family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  sample1(b, "process_virtual_memory_bytes", NULL, NULL, (double)vsize);
  family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
  sample1(b, "process_open_fds", NULL, NULL, (double)count_fds());
  family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
  sample1(b, "process_max_fds", NULL, NULL, (double)rl.rlim_cur);
  family(b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  sample1(b, "process_start_time_seconds", NULL, NULL, boot_time() + (double)start / tick);
}

/* mallinfo2 walks every arena under its lock: cheap at scrape rates. In use
 * = allocated chunks plus mmapped ones; free = what malloc holds unused. */
static void render_malloc(lk_buf *b)
{
  struct mallinfo2 mi = mallinfo2();
  family(b, "lookout_malloc_in_use_bytes", "gauge", "Bytes malloc has handed out and not had back (heap chunks and mmapped blocks).");
  sample1(b, "lookout_malloc_in_use_bytes", NULL, NULL, (double)(mi.uordblks + mi.hblkhd));
  family(b, "lookout_malloc_free_bytes", "gauge", "Free bytes malloc keeps in its heaps for reuse.");
  sample1(b, "lookout_malloc_free_bytes", NULL, NULL, (double)mi.fordblks);
}

void web__metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
  web_metrics_page(ctx, &resp->body);
}

void web_metrics_page(web_server *w, lk_buf *b)
{
  family(b, "lookout_build_info", "gauge", "Lookout version, value 1.");
  sample1(b, "lookout_build_info", "version", LOOKOUT_VERSION, 1);
  render_ingest(b, w);
  render_tsdb(b, w);
  render_http(b, w);
  if (w->autoscaler)
    orch_hpa_metrics_text(w->autoscaler, b);
  render_process(b);
  render_malloc(b);
  if (w->rules)
    alerting_manager_metrics(w->rules, b);
  if (w->am)
    alerting_am_metrics(w->am, b);
}
