/* bench_regex.c — regex figures through the public store APIs, so the same
 * source builds against the POSIX-translation tree (before) and the RE2 tree
 * (after) and compare.sh can run both in one go:
 *  (a) LogQL `|~` line filters over the loghub corpus (each file repeated
 *      --reps times, one stream per file, sealed into blocks): the whole
 *      time range in one instant `sum(count_over_time(... [range]))`;
 *  (b) `=~` / `!~` selectors over 10,000 series in the tsdb head, labels
 *      only, as a /api/v1/series or a query's select would run them.
 * Each figure is the median of --runs runs. Counts are printed so semantic
 * differences between the engines show next to the timings.
 *
 * usage: bench_regex [--reps N (16)] [--runs N (5)] [--json FILE] [--label NAME]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/loghub.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"
#include "logstore/logstore.h"
#include "tsdb/tsdb.h"

#ifndef LOGHUB_DIR
#define LOGHUB_DIR "../shared/data/loghub"
#endif
#define SEC 1000000000LL
#define T0 1700000000000000000LL
#define NSERIES 10000
#define MAXRUNS 31

typedef struct opts {
  int reps, runs;
  const char *json, *label;
} opts;

static const char *const log_res[] = {
    "error",                                  /* a literal (prefilter + bloom) */
    "(?i)exception|error|fail",               /* case-folded alternation */
    "[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+",      /* IPv4-like */
    "blk_-?[0-9]{6,}",                        /* HDFS block ids */
    ".*timeout.*",                            /* leading .* */
    "\\d{3}",                                 /* Perl class (POSIX read it as 'd') */
    "(\\w+)=(\\w+)",                          /* key=value pairs */
};

static const struct { const char *name, *value; enum tsdb_match type; } sels[] = {
    {"instance", "host-0[0-4].*", TSDB_RE},         /* prefix-like */
    {"path", ".*/items/1.*", TSDB_RE},               /* contains */
    {"job", "job-1|job-2|job-3", TSDB_RE},           /* literal alternation */
    {"instance", "(?i)HOST-000.*", TSDB_RE},         /* case-folded */
    {"path", "/api/v[0-9]+/items/[0-9]{3}", TSDB_RE},
    {"instance", "host-01.*", TSDB_NRE},             /* negative */
};

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

/* s as a JSON string body (the figures' strings hold no control bytes). */
static void json_str(FILE *js, const char *s)
{
  for (; *s; s++)
    fprintf(js, *s == '\\' || *s == '"' ? "\\%c" : "%c", *s);
}

/*---- (a) log line filters ----*/

/* Push every file reps times (1 ms apart per line); returns corpus bytes and
 * sets *span_ns to the time covered. */
static uint64_t fill_logs(logstore *ls, bench_loghub *c, size_t nc, int reps, int64_t *span_ns)
{
  uint64_t bytes = 0;
  int64_t maxt = T0;
  for (size_t i = 0; i < nc; i++) {
    lk_label lb[] = {{"job", "loghub"}, {"src", c[i].name}};
    int64_t t = T0;
    for (int r = 0; r < reps; r++)
      for (size_t k = 0; k < c[i].n; k++, t += 1000000) {
        logstore_entry e = {t, c[i].lines[k], strlen(c[i].lines[k])};
        lk_diag d = {0};
        if (logstore_push(ls, lb, 2, &e, 1, &d)) {
          fprintf(stderr, "push: %s\n", d.msg);
          exit(1);
        }
        bytes += e.len;
      }
    maxt = t > maxt ? t : maxt;
  }
  *span_ns = maxt - T0;
  return bytes;
}

static double log_filter(logstore *ls, const char *re, int64_t span_ns, int runs, double *count,
                         size_t *blocks_read, size_t *blocks_total)
{
  char q[512];
  snprintf(q, sizeof q, "sum(count_over_time({job=\"loghub\"} |~ `%s` [%llds]))", re,
           (long long)(span_ns / SEC + 2));
  logstore_query_opts o = {.start_ns = T0 + span_ns + SEC, .end_ns = T0 + span_ns + SEC};
  double ms[MAXRUNS];
  for (int r = 0; r < runs; r++) {
    logstore_result *res = NULL;
    lk_diag d = {0};
    int64_t t0 = lk_mono_ns();
    if (logstore_query(ls, q, &o, &res, &d)) {
      fprintf(stderr, "%s: %s\n", q, d.msg);
      return -1;
    }
    ms[r] = (double)(lk_mono_ns() - t0) / 1e6;
    *count = res->n && res->series[0].n ? res->series[0].v[0] : 0;
    *blocks_read = res->blocks_read;
    *blocks_total = res->blocks_total;
    logstore_result_free(res);
  }
  return median(ms, runs);
}

static void bench_logs(const opts *o, FILE *js)
{
  static bench_loghub c[32];
  size_t nc = bench_loghub_load(LOGHUB_DIR, c, 32, true);
  if (!nc) {
    fprintf(stderr, "no loghub corpus in %s\n", LOGHUB_DIR);
    exit(1);
  }
  char dir[] = "/tmp/lk-bench-regex-XXXXXX";
  if (!mkdtemp(dir))
    exit(1);
  logstore_opts lo = {.dir = dir};
  logstore *ls = NULL;
  if (logstore_open(&lo, &ls, NULL))
    exit(1);
  int64_t span;
  uint64_t bytes = fill_logs(ls, c, nc, o->reps, &span);
  logstore_flush(ls);
  printf("(a) LogQL line filters: %zu loghub files x %d = %.1f MB\n", nc, o->reps, (double)bytes / 1e6);
  printf("  %-36s %10s %9s %9s %9s\n", "regex", "matches", "ms", "MB/s", "blocks");
  fprintf(js, "  \"log_corpus_bytes\": %llu,\n  \"log_filters\": [\n", (unsigned long long)bytes);
  for (size_t i = 0; i < sizeof log_res / sizeof log_res[0]; i++) {
    double count = 0;
    size_t br = 0, bt = 0;
    double ms = log_filter(ls, log_res[i], span, o->runs, &count, &br, &bt);
    double mbs = ms > 0 ? (double)bytes / 1e6 / (ms / 1e3) : 0;
    printf("  %-36s %10.0f %9.1f %9.0f %4zu/%-4zu\n", log_res[i], count, ms, mbs, br, bt);
    fprintf(js, "    {\"regex\": \"");
    json_str(js, log_res[i]);
    fprintf(js, "\", \"matches\": %.0f, \"ms\": %.2f, \"mb_per_s\": %.1f, \"blocks_read\": %zu, "
                "\"blocks_total\": %zu}%s\n",
            count, ms, mbs, br, bt, i + 1 < sizeof log_res / sizeof log_res[0] ? "," : "");
  }
  fprintf(js, "  ],\n");
  logstore_close(ls);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd))
    fprintf(stderr, "could not remove %s\n", dir);
  for (size_t i = 0; i < nc; i++) {
    for (size_t k = 0; k < c[i].n; k++)
      free(c[i].lines[k]);
    free(c[i].lines);
  }
}

/*---- (b) tsdb selectors ----*/

static void fill_series(tsdb *db)
{
  for (int i = 0; i < NSERIES; i++) {
    char inst[32], job[16], path[48];
    snprintf(inst, sizeof inst, "host-%05d:9100", i);
    snprintf(job, sizeof job, "job-%d", i % 20);
    snprintf(path, sizeof path, "/api/v%d/items/%d", i % 3, i);
    lk_label lb[] = {{"__name__", "bench_metric"}, {"instance", inst}, {"job", job}, {"path", path}};
    tsdb_sample s = {1000, (double)i};
    tsdb_series_in in = {.labels = lb, .nlabels = 4, .samples = &s, .nsamples = 1};
    lk_diag d = {0};
    if (tsdb_append(db, &in, 1, NULL, &d)) {
      fprintf(stderr, "append: %s\n", d.msg);
      exit(1);
    }
  }
}

static double select_us(tsdb *db, size_t i, int runs, size_t *nseries)
{
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", "bench_metric"}, {sels[i].type, sels[i].name, sels[i].value}};
  tsdb_select_opts so = {.labels_only = true};
  double us[MAXRUNS];
  for (int r = 0; r < runs; r++) {
    tsdb_result *res = NULL;
    lk_diag d = {0};
    int64_t t0 = lk_mono_ns();
    if (tsdb_select(db, m, 2, 0, 2000, &so, &res, &d)) {
      fprintf(stderr, "select %s: %s\n", sels[i].value, d.msg);
      return -1;
    }
    us[r] = (double)(lk_mono_ns() - t0) / 1e3;
    *nseries = tsdb_result_count(res);
    tsdb_result_free(res);
  }
  return median(us, runs);
}

static void bench_tsdb(const opts *o, FILE *js)
{
  char dir[] = "/tmp/lk-bench-regex-tsdb-XXXXXX";
  if (!mkdtemp(dir))
    exit(1);
  tsdb_opts to = {.dir = dir, .fsync = TSDB_FSYNC_NEVER};
  tsdb *db = NULL;
  if (tsdb_open(&to, &db, NULL))
    exit(1);
  fill_series(db);
  size_t n = sizeof sels / sizeof sels[0];
  printf("(b) tsdb selectors over %d series (head, labels only)\n", NSERIES);
  printf("  %-40s %8s %10s\n", "matcher", "series", "us");
  fprintf(js, "  \"tsdb_series\": %d,\n  \"tsdb_selectors\": [\n", NSERIES);
  for (size_t i = 0; i < n; i++) {
    size_t ns = 0;
    double us = select_us(db, i, o->runs, &ns);
    char desc[96];
    snprintf(desc, sizeof desc, "%s%s\"%s\"", sels[i].name, sels[i].type == TSDB_RE ? "=~" : "!~",
             sels[i].value);
    printf("  %-40s %8zu %10.0f\n", desc, ns, us);
    fprintf(js, "    {\"matcher\": \"");
    json_str(js, desc);
    fprintf(js, "\", \"series\": %zu, \"us\": %.1f}%s\n", ns, us, i + 1 < n ? "," : "");
  }
  fprintf(js, "  ]\n");
  tsdb_close(db);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd))
    fprintf(stderr, "could not remove %s\n", dir);
}

static opts parse_args(int argc, char **argv)
{
  opts o = {.reps = 16, .runs = 5, .json = NULL, .label = "build"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--reps"))
      o.reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs"))
      o.runs = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--json"))
      o.json = argv[i + 1];
    else if (!strcmp(argv[i], "--label"))
      o.label = argv[i + 1];
  }
  if (o.reps < 1 || o.runs < 1 || o.runs > MAXRUNS) {
    fprintf(stderr, "usage: bench_regex [--reps N] [--runs 1..%d] [--json FILE] [--label NAME]\n", MAXRUNS);
    exit(2);
  }
  return o;
}

int main(int argc, char **argv)
{
  opts o = parse_args(argc, argv);
  FILE *js = o.json ? fopen(o.json, "w") : fopen("/dev/null", "w");
  if (!js)
    return 1;
  fprintf(js, "{\n  \"label\": \"%s\",\n  \"reps\": %d,\n  \"runs\": %d,\n", o.label, o.reps, o.runs);
  printf("[%s]\n", o.label);
  bench_logs(&o, js);
  bench_tsdb(&o, js);
  fprintf(js, "}\n");
  fclose(js);
  return 0;
}
