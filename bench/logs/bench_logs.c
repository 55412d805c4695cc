/* bench_logs.c — log pipeline figures on a ≥ 1 GB corpus built from the
 * loghub samples: ingest MB/s per core through the Loki push API
 * (protobuf+snappy, real HTTP on 127.0.0.1) and through the tailer; on-disk
 * bytes and compression ratio; latency of selective searches (a rare token,
 * a rare phrase, a regex) over the whole time range next to `rg -c` over the
 * raw files in the same run (counts must agree); peak memory.
 *
 * Corpus: each loghub file is repeated with shifted numbers — every digit
 * run of 5+ digits (textual timestamps, block ids, ports, pids) is shifted by
 * a per-repetition amount — so ids are unique per repetition and a rare
 * token stays rare, as in real logs. Entry timestamps advance 1 ms per line.
 *
 * usage: bench_logs [--mb N (default 1024)] [--work DIR] [--keep]
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_httpc.h"
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
  char name[64];
  char **lines;
  size_t n, cap;
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
  DIR *d = opendir(LOGHUB_DIR);
  struct dirent *de;
  while (d && (de = readdir(d)) && nsrc < MAXSRC) {
    size_t l = strlen(de->d_name);
    if (l < 5 || strcmp(de->d_name + l - 4, ".log"))
      continue;
    src *s = &srcs[nsrc++];
    snprintf(s->name, sizeof s->name, "%.*s", (int)(l - 4), de->d_name);
    char path[700];
    snprintf(path, sizeof path, "%s/%s", LOGHUB_DIR, de->d_name);
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (fp && (n = getline(&line, &cap, fp)) > 0) {
      while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
      s->lines = lk_xgrow(s->lines, &s->cap, s->n + 1, sizeof *s->lines);
      s->lines[s->n++] = lk_xstrdup(line);
    }
    free(line);
    if (fp)
      fclose(fp);
  }
  if (d)
    closedir(d);
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
    snprintf(s->path, sizeof s->path, "%.700s/%.60s.log", dir, s->name);
    FILE *fp = fopen(s->path, "w");
    lk_buf b = {0};
    shifts sh = {{0}};
    for (unsigned r = 0; s->bytes < per; r++, shifts_next(&sh))
      for (size_t i = 0; i < s->n; i++) {
        lk_buf_clear(&b);
        mutate(&b, s->lines[i], &sh);
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

static int push_req(const char *url, const char *labels, lk_buf *stream_entries, lk_buf *scratch)
{
  lk_buf st = {0}, req = {0};
  pb_bytes(&st, 1, labels, strlen(labels));
  lk_buf_append(&st, stream_entries->data, stream_entries->len);
  pb_bytes(&req, 1, st.data, st.len);
  lk_buf_clear(scratch);
  lk_snappy_compress(req.data, req.len, scratch);
  const char *hdrs[] = {"Content-Type: application/x-protobuf", NULL};
  lk_httpc_req r = {.method = "POST", .url = url, .headers = hdrs, .body = scratch->data,
                    .body_len = scratch->len, .timeout_ms = 120000};
  lk_httpc_resp resp = {0};
  int rc = lk_httpc_do(&r, &resp, NULL);
  if (!rc && resp.status != 204) {
    fprintf(stderr, "push: HTTP %d %s\n", resp.status, (char *)resp.body.data);
    rc = LK_EIO;
  }
  lk_httpc_resp_fini(&resp);
  lk_buf_fini(&st);
  lk_buf_fini(&req);
  return rc;
}

/* Stream every corpus file through POST /loki/api/v1/push, ~1 MiB per request. */
static int push_all(const char *base, double *client_cpu)
{
  char url[128];
  snprintf(url, sizeof url, "%s/loki/api/v1/push", base);
  lk_buf ents = {0}, scratch = {0};
  struct timespec c0, c1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0); /* this thread's CPU is all client work */
  for (size_t k = 0; k < nsrc; k++) {
    char labels[160];
    snprintf(labels, sizeof labels, "{job=\"loghub\", source=\"%.60s\"}", srcs[k].name);
    FILE *fp = fopen(srcs[k].path, "r");
    char *line = NULL;
    size_t cap = 0, i = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
      pb_entry(&ents, T0 + (int64_t)i++ * 1000000, line, (size_t)n - 1);
      if (ents.len >= (1u << 20)) {
        if (push_req(url, labels, &ents, &scratch))
          return LK_EIO;
        lk_buf_clear(&ents);
      }
    }
    if (ents.len && push_req(url, labels, &ents, &scratch))
      return LK_EIO;
    lk_buf_clear(&ents);
    free(line);
    fclose(fp);
  }
  lk_buf_fini(&ents);
  lk_buf_fini(&scratch);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  double spent = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
  *client_cpu = spent; /* reading, encoding, snappy, sending */
  return 0;
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

static long lookout_count(logstore *s, const char *q, double *ms, logstore_result **keep)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = 5000,
                           .direction = LOGSTORE_FORWARD};
  double best = 1e9;
  long n = -1;
  for (int rep = 0; rep < 5; rep++) {
    logstore_result *r;
    lk_diag d = {0};
    double t0 = secs();
    if (logstore_query(s, q, &o, &r, &d)) {
      fprintf(stderr, "query %s: %s\n", q, d.msg);
      return -1;
    }
    double t = (secs() - t0) * 1000;
    best = t < best ? t : best;
    n = 0;
    for (size_t i = 0; i < r->n; i++)
      n += (long)r->streams[i].n;
    if (rep == 4 && keep)
      *keep = r;
    else
      logstore_result_free(r);
  }
  *ms = best;
  return n;
}

static long rg_count(const char *dir, const char *flags, const char *pat, double *ms)
{
  char pf[300], cmd[2048];
  snprintf(pf, sizeof pf, "%s/pattern", dir);
  FILE *fp = fopen(pf, "w");
  fprintf(fp, "%s\n", pat);
  fclose(fp);
  snprintf(cmd, sizeof cmd, "rg -c --no-filename %s -f '%s' '%s/corpus' 2>/dev/null", flags, pf, dir);
  double best = 1e9;
  long total = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = secs();
    FILE *p = popen(cmd, "r");
    long c;
    total = 0;
    while (p && fscanf(p, "%ld", &c) == 1)
      total += c;
    int st = p ? pclose(p) : -1;
    if (st != 0 && st != 256) /* rg exits 1 when nothing matched */
      fprintf(stderr, "rg failed (status %d): %s\n", st, cmd);
    double t = (secs() - t0) * 1000;
    best = t < best ? t : best;
  }
  *ms = best;
  return total;
}

/* A token from the middle repetition of the HDFS source (a mutated block id). */
static void pick_rare(char *tok, size_t cap, char *phrase, size_t pcap, char *re, size_t rcap)
{
  src *s = NULL;
  for (size_t k = 0; k < nsrc; k++)
    if (!strcmp(srcs[k].name, "HDFS_2k"))
      s = &srcs[k];
  if (!s)
    s = &srcs[0];
  unsigned reps = (unsigned)(s->nlines / s->n);
  shifts sh = {{0}};
  for (unsigned r = 0; r < reps / 2; r++)
    shifts_next(&sh);
  lk_buf b = {0};
  for (size_t i = 1234; i < s->n; i++) {
    lk_buf_clear(&b);
    mutate(&b, s->lines[i], &sh);
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

static void search_row(logstore *s, const char *dir, const char *what, const char *filter,
                       const char *pattern, const char *rgflags)
{
  char q[1024];
  snprintf(q, sizeof q, "{job=\"loghub\"} %s \"%s\"", filter, pattern);
  double lms = 0, rms = 0;
  logstore_result *r = NULL;
  long ln = lookout_count(s, q, &lms, &r);
  long rn = rg_count(dir, rgflags, pattern, &rms);
  printf("  %-12s %-46.46s lookout %7.2f ms (%ld lines, %zu/%zu blocks read)  rg -c %8.1f ms (%ld)  "
         "%5.0fx%s\n",
         what, q, lms, ln, r ? r->blocks_read : 0, r ? r->blocks_total : 0, rms, rn, rms / lms,
         ln == rn ? "" : "  COUNT MISMATCH");
  logstore_result_free(r);
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  uint64_t mb = 1024;
  const char *work = NULL;
  int keep = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--mb") && i + 1 < argc)
      mb = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--work") && i + 1 < argc)
      work = argv[++i];
    else if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else {
      fprintf(stderr, "usage: bench_logs [--mb N] [--work DIR] [--keep]\n");
      return 2;
    }
  }
  char dir[256], sub[2048], tsdir[300], pushdir[300];
  if (work)
    snprintf(dir, sizeof dir, "%s", work);
  else
    snprintf(dir, sizeof dir, "/tmp/lk-bench-logs-%d", (int)getpid());
  snprintf(sub, sizeof sub, "mkdir -p %s/corpus && rm -rf %s/push %s/tail %s/tsdb", dir, dir, dir, dir);
  if (system(sub))
    return 1;
  load_sources();
  if (!nsrc) {
    fprintf(stderr, "no loghub files in %s\n", LOGHUB_DIR);
    return 1;
  }
  snprintf(sub, sizeof sub, "%s/corpus", dir);
  double t0 = secs();
  uint64_t raw = build_corpus(sub, mb << 20);
  size_t lines = 0;
  for (size_t k = 0; k < nsrc; k++)
    lines += srcs[k].nlines;
  printf("corpus: %zu files, %.1f MB of lines, %zu lines (built in %.1f s)\n", nsrc, raw / 1e6,
         lines, secs() - t0);

  /* 1. push API */
  tsdb *db;
  logstore *ps;
  snprintf(tsdir, sizeof tsdir, "%s/tsdb", dir);
  tsdb_opts to = {.dir = tsdir};
  snprintf(pushdir, sizeof pushdir, "%s/push", dir);
  logstore_opts lo = {.dir = pushdir};
  web_server *w;
  web_opts wo = {.listen = "127.0.0.1:0", .logs = NULL, .threads = 1};
  if (tsdb_open(&to, &db, NULL) || logstore_open(&lo, &ps, NULL))
    return 1;
  wo.db = db;
  wo.logs = ps;
  if (web_start(&wo, &w, NULL))
    return 1;
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", web_port(w));
  double c0 = cpu_secs(), client = 0;
  t0 = secs();
  if (push_all(base, &client))
    return 1;
  logstore_flush(ps);
  double wall = secs() - t0, cpu = cpu_secs() - c0 - client;
  printf("ingest via POST /loki/api/v1/push (protobuf+snappy, ~1 MiB requests): %.0f MB/s per core "
         "(server CPU %.1f s = process CPU minus the client thread), %.0f MB/s wall\n", raw / 1e6 / cpu, cpu,
         raw / 1e6 / wall);
  logstore_stats st;
  logstore_stats_get(ps, &st);
  uint64_t disk = du(lo.dir);
  printf("on disk: %.1f MB in %zu blocks, %zu streams (skip-index blooms %.1f MB); compression "
         "%.1fx (raw lines / all bytes on disk)\n", disk / 1e6, st.blocks, st.streams,
         st.bloom_bytes / 1e6, (double)raw / (double)disk);

  /* 2. searches */
  char tok[256] = "", phrase[512] = "", re[256] = "";
  pick_rare(tok, sizeof tok, phrase, sizeof phrase, re, sizeof re);
  printf("selective searches over the whole range (best of 5; rg best of 3, warm cache):\n");
  search_row(ps, dir, "rare token", "|=", tok, "-F");
  search_row(ps, dir, "rare phrase", "|=", phrase, "-F");
  search_row(ps, dir, "regex", "|~", re, "");
  search_row(ps, dir, "common word", "|=", "Exception", "-F");
  printf("memory after ingest and searches: peak RSS %.0f MB, current RSS %.0f MB\n",
         status_kb("VmHWM:") / 1024.0, status_kb("VmRSS:") / 1024.0);
  web_stop(w);
  logstore_close(ps);
  tsdb_close(db);

  /* 3. tailer */
  snprintf(tsdir, sizeof tsdir, "%s/tail", dir);
  logstore_opts tlo = {.dir = tsdir};
  logstore *ts;
  if (logstore_open(&tlo, &ts, NULL))
    return 1;
  char glob[300];
  snprintf(glob, sizeof glob, "%s/corpus/*.log", dir);
  const char *globs[] = {glob};
  collector_tail_opts co = {.globs = globs, .nglobs = 1, .format = COLLECTOR_LOG_PLAIN,
                            .batch_entries = 4096};
  collector_tail *t;
  if (collector_tail_new(&co, (collector_log_sink){tail_sink, ts}, &t, NULL))
    return 1;
  c0 = cpu_secs();
  t0 = secs();
  if (collector_tail_poll(t))
    return 1;
  logstore_flush(ts);
  cpu = cpu_secs() - c0;
  wall = secs() - t0;
  collector_tail_stats tst;
  collector_tail_stats_get(t, &tst);
  printf("ingest via the tailer (plain files → store, one thread): %.0f MB/s per core (%.1f s CPU, "
         "%.1f s wall, %llu entries)\n", raw / 1e6 / cpu, cpu, wall, (unsigned long long)tst.entries);
  collector_tail_free(t);
  logstore_close(ts);
  if (!keep) {
    snprintf(sub, sizeof sub, "rm -rf %s", dir);
    if (system(sub))
      return 1;
  }
  return 0;
}
