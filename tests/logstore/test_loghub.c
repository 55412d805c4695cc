/* test_loghub.c — every loghub sample (shared/data/loghub: CRLF endings, some
 * without a final newline) is ingested through the real tailer in plain mode
 * into a real store with small blocks (so the bloom skip index is used), and
 * for ≥ 50 generated queries per file — tokens, phrases, raw substrings that
 * cut tokens, regexes, negations — the count Lookout returns equals the count
 * `grep -c` (-F for literals, -E for regexes, -v for negations, LC_ALL=C)
 * gives on the raw file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_time.h"
#include "logstore/logstore.h"

#ifndef LOGHUB_DIR
#define LOGHUB_DIR "../shared/data/loghub"
#endif
#define QUERIES_PER_FILE 60

typedef struct lines {
  char **v;
  size_t n, cap;
} lines;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(uint64_t n)
{
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng % n;
}

static void read_lines(const char *path, lines *out)
{
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char *l = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&l, &cap, fp)) > 0) {
    while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
      l[--n] = 0;
    out->v = lk_xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
    out->v[out->n++] = lk_xstrdup(l);
  }
  free(l);
  fclose(fp);
}

static int sink(void *ctx, const collector_log_entry *e, size_t n)
{
  logstore *s = ctx;
  for (size_t i = 0; i < n; i++) {
    logstore_entry le = {e[i].ts, e[i].line, e[i].len};
    int rc = logstore_push(s, e[i].labels, e[i].nlabels, &le, 1, NULL);
    if (rc)
      return rc;
  }
  return 0;
}

/* Pick a space-separated token of a random line (len >= 2, or NULL). */
static const char *pick_token(const lines *ls, int *ntok, char *buf, size_t cap, int two)
{
  for (int tries = 0; tries < 50; tries++) {
    const char *l = ls->v[rnd(ls->n)];
    char *copy = lk_xstrdup(l), *save = NULL, *tok[64];
    int nt = 0;
    for (char *t = strtok_r(copy, " ", &save); t && nt < 64; t = strtok_r(NULL, " ", &save))
      tok[nt++] = t;
    if (nt >= (two ? 2 : 1)) {
      int i = (int)rnd((uint64_t)(nt - (two ? 1 : 0)));
      if (two)
        snprintf(buf, cap, "%s %s", tok[i], tok[i + 1]);
      else
        snprintf(buf, cap, "%s", tok[i]);
      free(copy);
      if (strlen(buf) >= 2) {
        *ntok = nt;
        return buf;
      }
      continue;
    }
    free(copy);
  }
  return NULL;
}

static void logql_quote(lk_buf *b, const char *s)
{
  lk_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      lk_buf_putc(b, '\\');
    lk_buf_putc(b, (uint8_t)*s);
  }
  lk_buf_putc(b, '"');
}

static void ere_escape(lk_buf *b, const char *s)
{
  for (; *s; s++) {
    if (strchr(".[]()*+?{}|^$\\", *s))
      lk_buf_putc(b, '\\');
    lk_buf_putc(b, (uint8_t)*s);
  }
}

static long grep_count(const char *file, const char *flags, const char *pattern)
{
  char pf[] = "/tmp/lk-loghub-pat-XXXXXX";
  int fd = mkstemp(pf);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  fprintf(fp, "%s\n", pattern);
  fclose(fp);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "LC_ALL=C grep -c %s -f '%s' '%s'", flags, pf, file);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  long n = -1;
  assert_int_equal(fscanf(p, "%ld", &n), 1);
  pclose(p);
  unlink(pf);
  return n;
}

static long store_count(logstore *s, const char *q, int metric)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = (lk_now_ms() + 60000) * 1000000LL,
                           .limit = 100000};
  logstore_result *r = NULL;
  lk_diag d = {0};
  char mq[4096];
  if (metric)
    snprintf(mq, sizeof mq, "sum(count_over_time(%s [1d]))", q);
  int rc = logstore_query(s, metric ? mq : q, &o, &r, &d);
  if (rc)
    fprintf(stderr, "query %s: %s\n", q, d.msg);
  assert_int_equal(rc, 0);
  long n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += metric ? (long)r->series[i].v[0] : (long)r->streams[i].n;
  logstore_result_free(r);
  return n;
}

typedef struct qgen {
  lk_buf logql;     /* the line filter, after the selector */
  lk_buf pattern;   /* for grep */
  const char *flags;
} qgen;

/* Query k of a file: 0-14 token, 15-24 phrase, 25-34 substring, 35-49 regex, 50-59 negation. */
static bool gen_query(const lines *ls, int k, qgen *g)
{
  char tok[512], tok2[512];
  int nt;
  lk_buf_clear(&g->logql);
  lk_buf_clear(&g->pattern);
  if (k < 35) {
    const char *t;
    if (k < 25) {
      t = pick_token(ls, &nt, tok, sizeof tok, k >= 15);
    } else { /* a raw substring, cutting through tokens */
      const char *l = ls->v[rnd(ls->n)];
      size_t len = strlen(l);
      if (len < 4)
        return false;
      size_t a = rnd(len - 3), m = 3 + rnd(10);
      snprintf(tok, sizeof tok, "%.*s", (int)(a + m > len ? len - a : m), l + a);
      t = tok;
    }
    if (!t)
      return false;
    lk_buf_puts(&g->logql, " |= ");
    logql_quote(&g->logql, t);
    lk_buf_puts(&g->pattern, t);
    g->flags = "-F";
    return true;
  }
  const char *a = pick_token(ls, &nt, tok, sizeof tok, 0);
  const char *b = pick_token(ls, &nt, tok2, sizeof tok2, 0);
  if (!a || !b)
    return false;
  lk_buf re = {0};
  if (k < 40) { /* a.*b */
    ere_escape(&re, a);
    lk_buf_puts(&re, ".*");
    ere_escape(&re, b);
  } else if (k < 45) { /* a|b */
    ere_escape(&re, a);
    lk_buf_putc(&re, '|');
    ere_escape(&re, b);
  } else { /* a token with its digit runs generalised */
    for (const char *p = a; *p;) {
      if (*p >= '0' && *p <= '9') {
        lk_buf_puts(&re, "[0-9]+");
        while (*p >= '0' && *p <= '9')
          p++;
      } else {
        char one[2] = {*p++, 0};
        ere_escape(&re, one);
      }
    }
  }
  bool neg = k >= 50;
  if (neg && k % 2) { /* literal negation */
    lk_buf_puts(&g->logql, " != ");
    logql_quote(&g->logql, a);
    lk_buf_puts(&g->pattern, a);
    g->flags = "-v -F";
  } else {
    lk_buf_puts(&g->logql, neg ? " !~ " : " |~ ");
    logql_quote(&g->logql, (const char *)re.data);
    lk_buf_puts(&g->pattern, (const char *)re.data);
    g->flags = neg ? "-v -E" : "-E";
  }
  lk_buf_fini(&re);
  return true;
}

static void test_loghub_counts(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-loghub-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char cmd[1024], sdir[600], glob[600];
  snprintf(cmd, sizeof cmd, "cp %s/*.log %s/", LOGHUB_DIR, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(sdir, sizeof sdir, "%s/store", dir);
  snprintf(glob, sizeof glob, "%s/*.log", dir);
  logstore_opts so = {.dir = sdir, .block_bytes = 8192};
  logstore *s;
  assert_int_equal(logstore_open(&so, &s, NULL), 0);
  const char *globs[] = {glob};
  collector_tail_opts to = {.globs = globs, .nglobs = 1, .format = COLLECTOR_LOG_PLAIN,
                            .partial_flush_ns = 1};
  collector_tail *t;
  assert_int_equal(collector_tail_new(&to, (collector_log_sink){sink, s}, &t, NULL), 0);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(collector_tail_poll(t), 0);
  collector_tail_free(t);
  assert_int_equal(logstore_flush(s), 0);

  DIR *dh = opendir(dir);
  struct dirent *de;
  int files = 0, total = 0;
  qgen g = {0};
  while ((de = readdir(dh))) {
    size_t nl = strlen(de->d_name);
    if (nl < 5 || strcmp(de->d_name + nl - 4, ".log"))
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    lines ls = {0};
    read_lines(path, &ls);
    char sel[1200];
    snprintf(sel, sizeof sel, "{filename=\"%s\"}", path);
    assert_int_equal(store_count(s, sel, 0), (long)ls.n); /* every line, the last one too */
    int made = 0;
    for (int k = 0; k < QUERIES_PER_FILE; k++) {
      if (!gen_query(&ls, k, &g))
        continue;
      lk_buf q = {0};
      lk_buf_puts(&q, sel);
      lk_buf_append(&q, g.logql.data, g.logql.len);
      long want = grep_count(path, g.flags, (const char *)g.pattern.data);
      long have = store_count(s, (const char *)q.data, k % 5 == 0);
      if (want != have)
        fprintf(stderr, "MISMATCH %s: %s grep=%ld lookout=%ld\n", de->d_name, (char *)q.data, want, have);
      assert_int_equal(have, want);
      lk_buf_fini(&q);
      made++;
    }
    assert_true(made >= 50);
    total += made;
    files++;
    for (size_t i = 0; i < ls.n; i++)
      free(ls.v[i]);
    free(ls.v);
  }
  closedir(dh);
  lk_buf_fini(&g.logql);
  lk_buf_fini(&g.pattern);
  assert_int_equal(files, 11);
  fprintf(stderr, "loghub: %d files, %d queries, all counts equal grep -c\n", files, total);
  logstore_close(s);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_loghub_counts)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
