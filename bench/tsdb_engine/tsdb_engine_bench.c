/* tsdb_engine_bench.c — the storage engine alone on the benchmark dataset:
 * ingest through tsdb_append_refs in batches, flush, bytes on disk per
 * sample, query timings, reopen time, peak RSS.
 *
 * Usage: tsdb_engine_bench DATASET.txt DATADIR [BATCH]
 * DATASET.txt is gen_dataset.py output (text exposition with ms
 * timestamps). It is first converted once into DATADIR.lkbin (series
 * text table + 20-byte samples) so parsing is not timed; the ingest phase
 * then streams that file with a fixed buffer, resolving each series once
 * with tsdb_series_ref (timed, as the HTTP import handler does).
 * DATADIR is removed and recreated.
 */
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_hash.h"
#include "lib/lk_time.h"
#include "tsdb/tsdb.h"

typedef struct rec {
  uint32_t sid;
  int64_t t;
  double v;
} __attribute__((packed)) rec;

typedef struct keymap {
  char **keys;
  uint32_t *ids;
  size_t cap, n;
} keymap;

static uint32_t key_id(keymap *m, const char *k, size_t len, FILE *series_out)
{
  if ((m->n + 1) * 2 > m->cap) {
    keymap o = *m;
    m->cap = o.cap ? o.cap * 2 : 4096;
    m->keys = lk_xcalloc(m->cap, sizeof *m->keys);
    m->ids = lk_xcalloc(m->cap, sizeof *m->ids);
    for (size_t i = 0; i < o.cap; i++)
      if (o.keys[i]) {
        size_t j = lk_hash64(o.keys[i], strlen(o.keys[i]), 1) & (m->cap - 1);
        while (m->keys[j])
          j = (j + 1) & (m->cap - 1);
        m->keys[j] = o.keys[i];
        m->ids[j] = o.ids[i];
      }
    free(o.keys);
    free(o.ids);
  }
  size_t j = lk_hash64(k, len, 1) & (m->cap - 1);
  while (m->keys[j]) {
    if (strlen(m->keys[j]) == len && !memcmp(m->keys[j], k, len))
      return m->ids[j];
    j = (j + 1) & (m->cap - 1);
  }
  m->keys[j] = lk_xstrndup(k, len);
  m->ids[j] = (uint32_t)m->n++;
  fprintf(series_out, "%s\n", m->keys[j]);
  return m->ids[j];
}

static int convert(const char *txt, const char *bin)
{
  FILE *in = fopen(txt, "r");
  char *tmp_series, *tmp_bin;
  if (!in || asprintf(&tmp_series, "%s.series", bin) < 0 || asprintf(&tmp_bin, "%s.tmp", bin) < 0)
    return -1;
  FILE *so = fopen(tmp_series, "w"), *bo = fopen(tmp_bin, "w");
  keymap m = {0};
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint64_t count = 0;
  while ((n = getline(&line, &cap, in)) > 0) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    char *end = line + n;
    char *sp = strchr(line, '}');
    sp = sp ? sp + 1 : strchr(line, ' ');
    if (!sp || sp >= end)
      continue;
    rec r;
    r.sid = key_id(&m, line, (size_t)(sp - line), so);
    char *p;
    r.v = strtod(sp, &p);
    r.t = strtoll(p, NULL, 10);
    fwrite(&r, sizeof r, 1, bo);
    count++;
  }
  free(line);
  fclose(in);
  fclose(so);
  fclose(bo);
  for (size_t i = 0; i < m.cap; i++)
    free(m.keys[i]);
  free(m.keys);
  free(m.ids);
  char *final_series;
  if (asprintf(&final_series, "%s.series.done", bin) < 0)
    return -1;
  rename(tmp_series, final_series);
  rename(tmp_bin, bin);
  fprintf(stderr, "converted %llu samples, %zu series\n", (unsigned long long)count, m.n);
  free(tmp_series);
  free(tmp_bin);
  free(final_series);
  return 0;
}

/* Parse `name{a="b",...}` into labels (values unescaped minimally: the
 * dataset has no escapes). Returns label count. */
static size_t parse_series(char *s, lk_label *ls, size_t max)
{
  size_t n = 0;
  char *br = strchr(s, '{');
  if (br)
    *br = 0;
  ls[n++] = (lk_label){"__name__", s};
  if (!br)
    return n;
  char *p = br + 1;
  while (*p && *p != '}' && n < max) {
    char *eq = strchr(p, '=');
    *eq = 0;
    char *v = eq + 2;
    char *q = strchr(v, '"');
    *q = 0;
    ls[n++] = (lk_label){p, v};
    p = q + 1;
    if (*p == ',')
      p++;
  }
  return n;
}

static long rss_kb(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static uint64_t dir_bytes;
static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void)p, (void)f;
  if (flag == FTW_F)
    dir_bytes += (uint64_t)st->st_size;
  return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static double cpu_s(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now_s(void)
{
  return (double)lk_mono_ns() / 1e9;
}

static tsdb_ref *resolve_all(tsdb *db, const char *series_path, size_t *nout)
{
  FILE *f = fopen(series_path, "r");
  if (!f)
    return NULL;
  tsdb_ref *refs = NULL;
  size_t n = 0, cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) > 0) {
    line[len - 1] = 0;
    lk_label ls[32];
    size_t nl = parse_series(line, ls, 32);
    refs = lk_xgrow(refs, &cap, n + 1, sizeof *refs);
    lk_diag d = {0};
    if (tsdb_series_ref(db, ls, nl, &refs[n++], &d)) {
      fprintf(stderr, "series_ref: %s\n", d.msg);
      exit(1);
    }
  }
  free(line);
  fclose(f);
  *nout = n;
  return refs;
}

static void time_select(tsdb *db, const char *what, const tsdb_matcher *m, size_t nm, int64_t mint,
                        int64_t maxt)
{
  double best = 1e9;
  size_t ns = 0, nsamp = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now_s();
    tsdb_result *r;
    lk_diag d = {0};
    if (tsdb_select(db, m, nm, mint, maxt, NULL, &r, &d)) {
      fprintf(stderr, "select: %s\n", d.msg);
      exit(1);
    }
    double dt = now_s() - t0;
    best = dt < best ? dt : best;
    ns = tsdb_result_count(r);
    nsamp = 0;
    for (size_t i = 0; i < ns; i++)
      nsamp += tsdb_result_get(r, i)->n;
    tsdb_result_free(r);
  }
  printf("select %-28s series=%zu samples=%zu best_of_5_ms=%.2f\n", what, ns, nsamp, best * 1e3);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s DATASET.txt DATADIR [BATCH]\n", argv[0]);
    return 2;
  }
  size_t batch = argc > 3 ? (size_t)atol(argv[3]) : 10000;
  char *bin, *series;
  if (asprintf(&bin, "%s.lkbin", argv[2]) < 0 || asprintf(&series, "%s.series.done", bin) < 0)
    return 1;
  if (access(bin, R_OK) && convert(argv[1], bin))
    return 1;
  nftw(argv[2], rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  tsdb_opts o = {.dir = argv[2]};
  tsdb *db;
  lk_diag d = {0};
  if (tsdb_open(&o, &db, &d)) {
    fprintf(stderr, "open: %s\n", d.msg);
    return 1;
  }
  FILE *f = fopen(bin, "r");
  rec *buf = lk_xmalloc(batch * sizeof *buf);
  tsdb_ref_sample *rs = lk_xmalloc(batch * sizeof *rs);
  double t0 = now_s(), c0 = cpu_s();
  size_t nser = 0;
  tsdb_ref *refs = resolve_all(db, series, &nser);
  uint64_t total = 0, acc = 0;
  int64_t mint = INT64_MAX, maxt = INT64_MIN;
  size_t got;
  while ((got = fread(buf, sizeof *buf, batch, f)) > 0) {
    for (size_t i = 0; i < got; i++) {
      rs[i] = (tsdb_ref_sample){refs[buf[i].sid], buf[i].t, buf[i].v};
      mint = buf[i].t < mint ? buf[i].t : mint;
      maxt = buf[i].t > maxt ? buf[i].t : maxt;
    }
    tsdb_append_stats st;
    if (tsdb_append_refs(db, rs, got, &st, &d)) {
      fprintf(stderr, "append: %s\n", d.msg);
      return 1;
    }
    total += got;
    acc += st.accepted;
  }
  double ingest = now_s() - t0, ingest_cpu = cpu_s() - c0;
  long rss_ingest = rss_kb();
  if (getenv("BENCH_MALLOC_STATS"))
    malloc_stats();
  printf("ingest samples=%llu accepted=%llu series=%zu seconds=%.2f samples_per_s=%.0f cpu_s=%.2f "
         "samples_per_cpu_s=%.0f peak_rss_mib=%.1f\n",
         (unsigned long long)total, (unsigned long long)acc, nser, ingest, (double)total / ingest, ingest_cpu,
         (double)total / ingest_cpu, (double)rss_ingest / 1024);
  t0 = now_s();
  if (tsdb_flush(db, &d)) {
    fprintf(stderr, "flush: %s\n", d.msg);
    return 1;
  }
  printf("flush seconds=%.2f\n", now_s() - t0);
  nftw(argv[2], du_cb, 16, FTW_PHYS);
  printf("disk bytes=%llu bytes_per_sample=%.3f\n", (unsigned long long)dir_bytes,
         (double)dir_bytes / (double)acc);
  tsdb_close(db);
  t0 = now_s();
  if (tsdb_open(&o, &db, &d)) {
    fprintf(stderr, "reopen: %s\n", d.msg);
    return 1;
  }
  printf("reopen seconds=%.3f\n", now_s() - t0);
  tsdb_matcher one[] = {{TSDB_EQ, "__name__", "container_memory_rss"},
                        {TSDB_RE, "pod", "api-.*"}, {TSDB_EQ, "container", "api"}};
  tsdb_result *r;
  if (!tsdb_select(db, one, 2, mint, maxt, NULL, &r, &d) && tsdb_result_count(r)) {
    const tsdb_series *s = tsdb_result_get(r, 0);
    tsdb_matcher exact[8];
    size_t ne = 0;
    for (size_t i = 0; i < s->nlabels && ne < 8; i++)
      exact[ne++] = (tsdb_matcher){TSDB_EQ, s->labels[i].name, s->labels[i].value};
    time_select(db, "one series 24h", exact, ne, mint, maxt);
  }
  tsdb_result_free(r);
  tsdb_matcher all[] = {{TSDB_EQ, "__name__", "container_cpu_usage_seconds_total"}};
  time_select(db, "one metric (all series) 24h", all, 1, mint, maxt);
  time_select(db, "one metric 1h", all, 1, maxt - 3600000, maxt);
  tsdb_close(db);
  printf("peak_rss_mib_total=%.1f\n", (double)rss_kb() / 1024);
  fclose(f);
  free(refs);
  free(buf);
  free(rs);
  free(bin);
  free(series);
  return 0;
}
