/* bench_logs.c — log pipeline figures on a ≥ 1 GB corpus built from the
 * loghub samples: ingest MB/s per core through the Loki push API (protobuf +
 * snappy, and JSON; real HTTP on 127.0.0.1) and through the tailer; on-disk
 * bytes and compression ratio; latency of selective searches (a rare token,
 * a rare phrase, a regex, a common word) over the whole time range next to
 * `rg -c` over the raw files in the same run (counts must agree); peak memory.
 * Every figure is printed, and with --json FILE also written as JSON (for
 * bench/logs/run.sh, which stores it through bench/lib/results.py).
 *
 * Corpus: each loghub file is repeated with shifted numbers — every digit
 * run of 5+ digits (textual timestamps, block ids, ports, pids) is shifted by
 * a per-repetition amount — so ids are unique per repetition and a rare
 * token stays rare, as in real logs. Entry timestamps advance 1 ms per line.
 *
 * Searches: each query runs once (its first run in this process, recorded),
 * then 5 times, median reported; `rg -c` the same way. Corpus and store are
 * both in the OS page cache (just written) for both sides.
 *
 * usage: bench_logs [--mb N (default 1024)] [--work DIR] [--keep] [--json FILE]
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/loghub.h"
#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_httpc.h"
#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "lib/lk_varint.h"
#include "lib/lk_wire.h"
#include "logstore/logstore.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

#ifndef LOGHUB_DIR
#define LOGHUB_DIR "../shared/data/loghub"
#endif
#define MAXSRC 16
#define T0 1700000000000000000LL

typedef struct src {
  bench_loghub f;   /* name and lines */
  char path[1024];  /* corpus file */
  uint64_t bytes;   /* corpus bytes (without newlines) */
  size_t nlines;
} src;

static src srcs[MAXSRC];
static size_t nsrc;

static double secs(void) { return (double)lk_mono_ns() / 1e9; }

static double cpu_secs(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static long status_kb(const char *key)
{
  FILE *fp = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (fp && fgets(line, sizeof line, fp))
    if (!strncmp(line, key, strlen(key)))
      v = strtol(line + strlen(key) + 1, NULL, 10);
  if (fp)
    fclose(fp);
  return v;
}

static void load_sources(void)
{
  static bench_loghub f[MAXSRC];
  nsrc = bench_loghub_load(LOGHUB_DIR, f, MAXSRC, false);
  for (size_t k = 0; k < nsrc; k++)
    srcs[k].f = f[k];
}

/* Per repetition, the shift added to a digit run of each length (mod
 * 10^len): a multiple of a large odd constant, so ids differ in every digit
 * from one repetition to the next, like fresh random ids. */
typedef struct shifts {
  uint64_t v[19];
} shifts;

static void shifts_next(shifts *sh)
{
  uint64_t mod = 1;
  for (int d = 1; d <= 18; d++) {
    mod *= 10;
    uint64_t c = 0x9E3779B97F4A7C15ULL % mod;
    sh->v[d] = (sh->v[d] + c) % mod; /* both < 10^18: no overflow */
  }
}

/* A line of one repetition: every digit run of 5+ digits shifted. */
static void mutate(lk_buf *out, const char *l, const shifts *sh)
{
  for (const char *p = l; *p;) {
    if (*p < '0' || *p > '9') {
      lk_buf_putc(out, (uint8_t)*p++);
      continue;
    }
    const char *s = p;
    while (*p >= '0' && *p <= '9')
      p++;
    size_t len = (size_t)(p - s);
    if (len < 5) {
      lk_buf_append(out, s, len);
      continue;
    }
    size_t keep = len > 18 ? len - 18 : 0, dl = len - keep;
    uint64_t v = 0, mod = 1;
    for (size_t i = keep; i < len; i++)
      v = v * 10 + (uint64_t)(s[i] - '0'), mod *= 10;
    v = (v + sh->v[dl]) % mod;
    lk_buf_append(out, s, keep);
    lk_buf_printf(out, "%0*llu", (int)dl, (unsigned long long)v);
  }
}

static uint64_t build_corpus(const char *dir, uint64_t target) /* dir < 256 bytes */
{
  uint64_t per = target / nsrc + 1, total = 0;
  for (size_t k = 0; k < nsrc; k++) {
    src *s = &srcs[k];
    snprintf(s->path, sizeof s->path, "%.700s/%.60s.log", dir, s->f.name);
    FILE *fp = fopen(s->path, "w");
    lk_buf b = {0};
    shifts sh = {{0}};
    for (unsigned r = 0; s->bytes < per; r++, shifts_next(&sh))
      for (size_t i = 0; i < s->f.n; i++) {
        lk_buf_clear(&b);
        mutate(&b, s->f.lines[i], &sh);
        s->bytes += b.len;
        s->nlines++;
        lk_buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, fp);
      }
    lk_buf_fini(&b);
    fclose(fp);
    total += s->bytes;
  }
  return total;
}

/*---- push through the API ----*/

typedef enum push_fmt { PUSH_PROTOBUF, PUSH_JSON } push_fmt;

static void pb_bytes(lk_buf *b, unsigned field, const void *p, size_t n)
{
  lk_buf_put_uvarint(b, field << 3 | 2);
  lk_buf_put_uvarint(b, n);
  lk_buf_append(b, p, n);
}

static void pb_entry(lk_buf *st, int64_t ts, const char *line, size_t len)
{
  uint8_t tsb[32], ent[48];
  size_t tn = 0, en = 0;
  tsb[tn++] = 1 << 3;
  tn += lk_uvarint_put(tsb + tn, (uint64_t)(ts / 1000000000));
  tsb[tn++] = 2 << 3;
  tn += lk_uvarint_put(tsb + tn, (uint64_t)(ts % 1000000000));
  ent[en++] = 1 << 3 | 2;
  ent[en++] = (uint8_t)tn;
  memcpy(ent + en, tsb, tn);
  en += tn;
  ent[en++] = 2 << 3 | 2;
  en += lk_uvarint_put(ent + en, len);
  lk_buf_put_uvarint(st, 2 << 3 | 2);
  lk_buf_put_uvarint(st, en + len);
  lk_buf_append(st, ent, en);
  lk_buf_append(st, line, len);
}

/* One ["<ns>", "<line>"] pair of a Loki JSON stream's values. */
static void json_entry(lk_buf *vals, int64_t ts, const char *line, size_t len)
{
  if (vals->len)
    lk_buf_putc(vals, ',');
  lk_buf_printf(vals, "[\"%lld\",", (long long)ts);
  lk_json_strn(vals, line, len);
  lk_buf_putc(vals, ']');
}

/* The request body of one stream's entries, in the format asked for. */
static void push_body(push_fmt f, const char *source, const lk_buf *entries, lk_buf *body)
{
  lk_buf req = {0};
  lk_buf_clear(body);
  if (f == PUSH_JSON) {
    lk_buf_printf(body, "{\"streams\":[{\"stream\":{\"job\":\"loghub\",\"source\":");
    lk_json_str(body, source);
    lk_buf_printf(body, "},\"values\":[");
    lk_buf_append(body, entries->data, entries->len);
    lk_buf_printf(body, "]}]}");
    return;
  }
  lk_buf st = {0};
  char labels[160];
  snprintf(labels, sizeof labels, "{job=\"loghub\", source=\"%.60s\"}", source);
  pb_bytes(&st, 1, labels, strlen(labels));
  lk_buf_append(&st, entries->data, entries->len);
  pb_bytes(&req, 1, st.data, st.len);
  lk_snappy_compress(req.data, req.len, body);
  lk_buf_fini(&st);
  lk_buf_fini(&req);
}

static int push_req(const char *url, push_fmt f, const char *source, const lk_buf *entries, lk_buf *body)
{
  push_body(f, source, entries, body);
  const char *pb[] = {"Content-Type: application/x-protobuf", NULL};
  const char *js[] = {"Content-Type: application/json", NULL};
  lk_httpc_req r = {.method = "POST", .url = url, .headers = f == PUSH_JSON ? js : pb, .body = body->data,
                    .body_len = body->len, .timeout_ms = 120000};
  lk_httpc_resp resp = {0};
  int rc = lk_httpc_do(&r, &resp, NULL);
  if (!rc && resp.status != 204) {
    fprintf(stderr, "push: HTTP %d %s\n", resp.status, (char *)resp.body.data);
    rc = LK_EIO;
  }
  lk_httpc_resp_fini(&resp);
  return rc;
}

/* Stream every corpus file through POST /loki/api/v1/push, ~1 MiB of lines per request. */
static int push_all(const char *base, push_fmt f, double *client_cpu)
{
  char url[128];
  snprintf(url, sizeof url, "%s/loki/api/v1/push", base);
  lk_buf ents = {0}, body = {0};
  struct timespec c0, c1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0); /* this thread's CPU is all client work */
  for (size_t k = 0; k < nsrc; k++) {
    FILE *fp = fopen(srcs[k].path, "r");
    char *line = NULL;
    size_t cap = 0, i = 0, lines_bytes = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
      int64_t ts = T0 + (int64_t)i++ * 1000000;
      if (f == PUSH_JSON)
        json_entry(&ents, ts, line, (size_t)n - 1);
      else
        pb_entry(&ents, ts, line, (size_t)n - 1);
      lines_bytes += (size_t)n - 1;
      if (lines_bytes >= (1u << 20)) {
        if (push_req(url, f, srcs[k].f.name, &ents, &body))
          return LK_EIO;
        lk_buf_clear(&ents);
        lines_bytes = 0;
      }
    }
    if (ents.len && push_req(url, f, srcs[k].f.name, &ents, &body))
      return LK_EIO;
    lk_buf_clear(&ents);
    free(line);
    fclose(fp);
  }
  lk_buf_fini(&ents);
  lk_buf_fini(&body);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  *client_cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9; /* read, encode, send */
  return 0;
}

/* One ingest figure as printed and as JSON. */
static json_t *ingest_row(const char *path, uint64_t raw, double cpu, double client, double wall)
{
  printf("ingest via %s: %.0f MB/s per core (CPU %.1f s; the client thread's %.1f s not counted), "
         "%.0f MB/s wall\n", path, raw / 1e6 / cpu, cpu, client, raw / 1e6 / wall);
  return json_pack("{s:s, s:f, s:f, s:f, s:f, s:f}", "path", path, "mb_per_cpu_s", raw / 1e6 / cpu,
                   "cpu_s", cpu, "client_cpu_s", client, "wall_s", wall, "mb_per_s_wall", raw / 1e6 / wall);
}

/*---- tail ----*/

static int tail_sink(void *ctx, const collector_log_entry *e, size_t n)
{
  logstore *s = ctx;
  logstore_entry *run = lk_xmalloc(n * sizeof *run);
  int rc = 0;
  for (size_t i = 0; i < n && !rc;) {
    size_t j = i, k = 0;
    while (j < n && e[j].labels == e[i].labels) {
      run[k++] = (logstore_entry){e[j].ts, e[j].line, e[j].len};
      j++;
    }
    rc = logstore_push(s, e[i].labels, e[i].nlabels, run, k, NULL);
    i = j;
  }
  free(run);
  return rc;
}

/*---- searches ----*/

#define REPS 5

static uint64_t du(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  uint64_t total = 0;
  while (d && (de = readdir(d))) {
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (de->d_name[0] != '.' && !stat(p, &sb) && S_ISREG(sb.st_mode))
      total += (uint64_t)sb.st_size;
  }
  if (d)
    closedir(d);
  return total;
}

static int dbl_cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Timings of one search: the first run, then REPS runs (median). */
typedef struct timing {
  double first, all[REPS], median;
} timing;

static void timing_done(timing *t)
{
  double s[REPS];
  memcpy(s, t->all, sizeof s);
  qsort(s, REPS, sizeof *s, dbl_cmp);
  t->median = s[REPS / 2];
}

static json_t *timing_json(const timing *t)
{
  json_t *all = json_array();
  for (int i = 0; i < REPS; i++)
    json_array_append_new(all, json_real(t->all[i]));
  return json_pack("{s:f, s:f, s:o}", "first_ms", t->first, "median_ms", t->median, "all_ms", all);
}

static long lookout_count(logstore *s, const char *q, timing *t, logstore_result **keep)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = 5000,
                           .direction = LOGSTORE_FORWARD};
  long n = -1;
  for (int rep = -1; rep < REPS; rep++) {
    logstore_result *r;
    lk_diag d = {0};
    double t0 = secs();
    if (logstore_query(s, q, &o, &r, &d)) {
      fprintf(stderr, "query %s: %s\n", q, d.msg);
      return -1;
    }
    double ms = (secs() - t0) * 1000;
    *(rep < 0 ? &t->first : &t->all[rep]) = ms;
    n = 0;
    for (size_t i = 0; i < r->n; i++)
      n += (long)r->streams[i].n;
    if (rep == REPS - 1 && keep)
      *keep = r;
    else
      logstore_result_free(r);
  }
  timing_done(t);
  return n;
}

static long rg_count(const char *dir, const char *flags, const char *pat, timing *t)
{
  char pf[300], cmd[2048];
  snprintf(pf, sizeof pf, "%s/pattern", dir);
  FILE *fp = fopen(pf, "w");
  fprintf(fp, "%s\n", pat);
  fclose(fp);
  snprintf(cmd, sizeof cmd, "rg -c --no-filename %s -f '%s' '%s/corpus' 2>/dev/null", flags, pf, dir);
  long total = 0;
  for (int rep = -1; rep < REPS; rep++) {
    double t0 = secs();
    FILE *p = popen(cmd, "r");
    long c;
    total = 0;
    while (p && fscanf(p, "%ld", &c) == 1)
      total += c;
    int st = p ? pclose(p) : -1;
    if (st != 0 && st != 256) /* rg exits 1 when nothing matched */
      fprintf(stderr, "rg failed (status %d): %s\n", st, cmd);
    *(rep < 0 ? &t->first : &t->all[rep]) = (secs() - t0) * 1000;
  }
  timing_done(t);
  return total;
}

/* A token from the middle repetition of the HDFS source (a mutated block id). */
static void pick_rare(char *tok, size_t cap, char *phrase, size_t pcap, char *re, size_t rcap)
{
  src *s = NULL;
  for (size_t k = 0; k < nsrc; k++)
    if (!strcmp(srcs[k].f.name, "HDFS_2k"))
      s = &srcs[k];
  if (!s)
    s = &srcs[0];
  unsigned reps = (unsigned)(s->nlines / s->f.n);
  shifts sh = {{0}};
  for (unsigned r = 0; r < reps / 2; r++)
    shifts_next(&sh);
  lk_buf b = {0};
  for (size_t i = 1234; i < s->f.n; i++) {
    lk_buf_clear(&b);
    mutate(&b, s->f.lines[i], &sh);
    const char *blk = strstr((const char *)b.data, "blk_");
    if (!blk)
      continue;
    size_t len = strcspn(blk, " \r\n");
    snprintf(tok, cap, "%.*s", (int)len, blk);
    const char *after = blk + len;
    size_t wl = strcspn(after + 1, " ");
    snprintf(phrase, pcap, "%.*s", (int)(after + 1 + wl - blk), blk);
    snprintf(re, rcap, "blk_-?[0-9]*%.*s ", 10, blk + len - 10);
    break;
  }
  lk_buf_fini(&b);
}

static json_t *search_row(logstore *s, const char *dir, const char *what, const char *filter,
                          const char *pattern, const char *rgflags)
{
  char q[1024];
  snprintf(q, sizeof q, "{job=\"loghub\"} %s \"%s\"", filter, pattern);
  timing lt = {0}, rt = {0};
  logstore_result *r = NULL;
  long ln = lookout_count(s, q, &lt, &r);
  long rn = rg_count(dir, rgflags, pattern, &rt);
  size_t read = r ? r->blocks_read : 0, total = r ? r->blocks_total : 0;
  printf("  %-12s %-46.46s lookout %7.2f ms (first %.2f; %ld lines, %zu/%zu blocks read)  "
         "rg -c %8.1f ms (%ld)  %5.0fx%s\n",
         what, q, lt.median, lt.first, ln, read, total, rt.median, rn, rt.median / lt.median,
         ln == rn ? "" : "  COUNT MISMATCH");
  logstore_result_free(r);
  return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:o, s:I, s:b}", "what", what, "logql", q,
                   "rg_pattern", pattern, "rg_flags", rgflags, "lookout", timing_json(&lt),
                   "lookout_lines", (json_int_t)ln, "blocks_read", (json_int_t)read, "blocks_total",
                   (json_int_t)total, "rg", timing_json(&rt), "rg_count", (json_int_t)rn, "counts_match",
                   ln == rn);
}

/*---- the runs ----*/

typedef struct bench {
  const char *dir;   /* work dir: corpus/, and one store dir per run */
  uint64_t raw;      /* corpus line bytes */
  json_t *doc;       /* the JSON result */
} bench;

/* Searches and disk figures on the store the protobuf push filled. */
static void store_figures(bench *b, logstore *ps, const char *storedir)
{
  logstore_stats st;
  logstore_stats_get(ps, &st);
  uint64_t disk = du(storedir);
  printf("on disk: %.1f MB in %zu blocks, %zu streams (skip-index blooms %.1f MB); compression "
         "%.1fx (raw lines / all bytes on disk)\n", disk / 1e6, st.blocks, st.streams,
         st.bloom_bytes / 1e6, (double)b->raw / (double)disk);
  json_object_set_new(b->doc, "disk", json_pack("{s:I, s:I, s:I, s:I, s:f}", "bytes", (json_int_t)disk,
    "blocks", (json_int_t)st.blocks, "streams", (json_int_t)st.streams, "bloom_bytes",
    (json_int_t)st.bloom_bytes, "compression_ratio", (double)b->raw / (double)disk));
  char tok[256] = "", phrase[512] = "", re[256] = "";
  pick_rare(tok, sizeof tok, phrase, sizeof phrase, re, sizeof re);
  printf("selective searches over the whole range (median of %d after a first run; rg -c the same):\n", REPS);
  json_t *rows = json_array();
  json_array_append_new(rows, search_row(ps, b->dir, "rare token", "|=", tok, "-F"));
  json_array_append_new(rows, search_row(ps, b->dir, "rare phrase", "|=", phrase, "-F"));
  json_array_append_new(rows, search_row(ps, b->dir, "regex", "|~", re, ""));
  json_array_append_new(rows, search_row(ps, b->dir, "common word", "|=", "Exception", "-F"));
  json_object_set_new(b->doc, "searches", rows);
}

/* Push the corpus through the HTTP API into a fresh store; with searches,
 * also the disk and search figures on that store. */
static int push_run(bench *b, push_fmt f, bool searches)
{
  char tsdir[300], storedir[300], base[64];
  const char *name = f == PUSH_JSON ? "json" : "protobuf";
  snprintf(tsdir, sizeof tsdir, "%s/tsdb-%s", b->dir, name);
  snprintf(storedir, sizeof storedir, "%s/push-%s", b->dir, name);
  tsdb_opts to = {.dir = tsdir};
  logstore_opts lo = {.dir = storedir};
  tsdb *db;
  logstore *ps;
  web_server *w;
  if (tsdb_open(&to, &db, NULL) || logstore_open(&lo, &ps, NULL))
    return 1;
  web_opts wo = {.listen = "127.0.0.1:0", .db = db, .logs = ps, .threads = 1};
  if (web_start(&wo, &w, NULL))
    return 1;
  snprintf(base, sizeof base, "http://127.0.0.1:%d", web_port(w));
  double c0 = cpu_secs(), client = 0, t0 = secs();
  if (push_all(base, f, &client))
    return 1;
  logstore_flush(ps);
  double wall = secs() - t0, cpu = cpu_secs() - c0 - client;
  json_array_append_new(json_object_get(b->doc, "ingest"),
    ingest_row(f == PUSH_JSON ? "POST /loki/api/v1/push, JSON" :
               "POST /loki/api/v1/push, protobuf+snappy", b->raw, cpu, client, wall));
  if (searches)
    store_figures(b, ps, storedir);
  web_stop(w);
  logstore_close(ps);
  tsdb_close(db);
  return 0;
}

static int tail_run(bench *b)
{
  char storedir[300], glob[300];
  snprintf(storedir, sizeof storedir, "%s/tail", b->dir);
  logstore_opts tlo = {.dir = storedir};
  logstore *ts;
  if (logstore_open(&tlo, &ts, NULL))
    return 1;
  snprintf(glob, sizeof glob, "%s/corpus/*.log", b->dir);
  const char *globs[] = {glob};
  collector_tail_opts co = {.globs = globs, .nglobs = 1, .format = COLLECTOR_LOG_PLAIN,
                            .batch_entries = 4096};
  collector_tail *t;
  if (collector_tail_new(&co, (collector_log_sink){tail_sink, ts}, &t, NULL))
    return 1;
  double c0 = cpu_secs(), t0 = secs();
  if (collector_tail_poll(t))
    return 1;
  logstore_flush(ts);
  double cpu = cpu_secs() - c0, wall = secs() - t0;
  json_array_append_new(json_object_get(b->doc, "ingest"),
                        ingest_row("the tailer (plain files, one thread)", b->raw, cpu, 0, wall));
  collector_tail_free(t);
  logstore_close(ts);
  return 0;
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  uint64_t mb = 1024;
  const char *work = NULL, *json_path = NULL;
  int keep = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--mb") && i + 1 < argc)
      mb = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--work") && i + 1 < argc)
      work = argv[++i];
    else if (!strcmp(argv[i], "--json") && i + 1 < argc)
      json_path = argv[++i];
    else if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else {
      fprintf(stderr, "usage: bench_logs [--mb N] [--work DIR] [--keep] [--json FILE]\n");
      return 2;
    }
  }
  char dir[256], sub[2048];
  if (work)
    snprintf(dir, sizeof dir, "%s", work);
  else
    snprintf(dir, sizeof dir, "/tmp/lk-bench-logs-%d", (int)getpid());
  snprintf(sub, sizeof sub, "mkdir -p %s/corpus && rm -rf %s/push-* %s/tail %s/tsdb-*", dir, dir, dir, dir);
  if (system(sub))
    return 1;
  load_sources();
  if (!nsrc) {
    fprintf(stderr, "no loghub files in %s\n", LOGHUB_DIR);
    return 1;
  }
  snprintf(sub, sizeof sub, "%s/corpus", dir);
  double t0 = secs();
  bench b = {.dir = dir, .doc = json_object()};
  b.raw = build_corpus(sub, mb << 20);
  size_t lines = 0;
  for (size_t k = 0; k < nsrc; k++)
    lines += srcs[k].nlines;
  printf("corpus: %zu files, %.1f MB of lines, %zu lines (built in %.1f s)\n", nsrc, b.raw / 1e6,
         lines, secs() - t0);
  json_object_set_new(b.doc, "corpus", json_pack("{s:I, s:I, s:I}", "files", (json_int_t)nsrc,
                      "line_bytes", (json_int_t)b.raw, "lines", (json_int_t)lines));
  json_object_set_new(b.doc, "ingest", json_array());
  if (push_run(&b, PUSH_PROTOBUF, true) || push_run(&b, PUSH_JSON, false) || tail_run(&b))
    return 1;
  printf("memory after the runs: peak RSS %.0f MB\n", status_kb("VmHWM:") / 1024.0);
  json_object_set_new(b.doc, "peak_rss_mb", json_real(status_kb("VmHWM:") / 1024.0));
  if (json_path && json_dump_file(b.doc, json_path, JSON_INDENT(1))) {
    fprintf(stderr, "bench_logs: cannot write %s\n", json_path);
    return 1;
  }
  json_decref(b.doc);
  if (!keep) {
    snprintf(sub, sizeof sub, "rm -rf %s", dir);
    if (system(sub))
      return 1;
  }
  return 0;
}
