/* test_logql.c — LogQL evaluation: parsers (json, logfmt, regexp), label
 * filters, line_format, metric queries with steps and aggregations, and the
 * label/series listings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "logstore/logstore.h"

#define SEC 1000000000LL

typedef struct fx {
  char dir[64];
  logstore *s;
} fx;

static int setup(void **state)
{
  fx *f = lk_xcalloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/lk-logql-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  logstore_opts o = {.dir = f->dir, .block_bytes = 2048};
  if (logstore_open(&o, &f->s, NULL))
    return -1;
  static const char *lines[] = {
      "{\"level\":\"info\",\"msg\":\"ok\",\"dur\":12,\"req\":{\"path\":\"/a\"}}",
      "{\"level\":\"error\",\"msg\":\"db down\",\"dur\":250,\"req\":{\"path\":\"/b\"}}",
      "level=warn msg=\"slow query\" dur=120 path=/c",
      "level=error msg=\"timeout\" dur=900 path=/a",
      "GET /a 200 13ms",
      "POST /b 503 1200ms",
  };
  for (int i = 0; i < 60; i++) {
    lk_label ls[] = {{"app", i % 2 ? "shop" : "auth"}, {"env", "prod"}};
    logstore_entry e = {(int64_t)(100 + i) * SEC, lines[i % 6], strlen(lines[i % 6])};
    if (logstore_push(f->s, ls, 2, &e, 1, NULL))
      return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  logstore_close(f->s);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  int rc = system(cmd);
  free(f);
  return rc;
}

static logstore_result *run(fx *f, const char *q, int64_t start, int64_t end, int64_t step)
{
  logstore_query_opts o = {.start_ns = start, .end_ns = end, .step_ns = step, .limit = 1000};
  logstore_result *r = NULL;
  lk_diag d = {0};
  int rc = logstore_query(f->s, q, &o, &r, &d);
  if (rc)
    fprintf(stderr, "%s: %s\n", q, d.msg);
  assert_int_equal(rc, 0);
  return r;
}

static size_t entries(logstore_result *r)
{
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += r->streams[i].n;
  return n;
}

static void test_parsers(void **state)
{
  fx *f = *state;
  logstore_result *r = run(f, "{env=\"prod\"} | json | level=\"error\"", 0, 1000 * SEC, 0);
  assert_int_equal(entries(r), 10);
  assert_int_equal(r->kind, LOGSTORE_STREAMS);
  const char *path = NULL;
  for (size_t i = 0; i < r->streams[0].nlabels; i++)
    if (!strcmp(r->streams[0].labels[i].name, "req_path"))
      path = r->streams[0].labels[i].value;
  assert_non_null(path);
  assert_string_equal(path, "/b");
  logstore_result_free(r);
  r = run(f, "{env=\"prod\"} | logfmt | dur > 500", 0, 1000 * SEC, 0);
  assert_int_equal(entries(r), 10);
  logstore_result_free(r);
  r = run(f, "{env=\"prod\"} |~ \"^(GET|POST)\" | regexp \"(?P<method>[A-Z]+) (?P<path>\\\\S+) "
             "(?P<status>[0-9]+)\" | status >= 500 | line_format \"{{.method}} {{ .path }}!\"",
          0, 1000 * SEC, 0);
  assert_int_equal(entries(r), 10);
  assert_int_equal(r->streams[0].entries[0].len, 8);
  assert_memory_equal(r->streams[0].entries[0].line, "POST /b!", 8);
  logstore_result_free(r);
  r = run(f, "{app=\"shop\"} | logfmt | level=~\"warn|error\" | path!=\"/a\"", 0, 1000 * SEC, 0);
  assert_int_equal(entries(r), 0); /* shop has only the error line of /a */
  logstore_result_free(r);
  r = run(f, "{env=\"prod\"} | logfmt | level=~\"warn|error\" | path!=\"/a\"", 0, 1000 * SEC, 0);
  assert_int_equal(entries(r), 10);
  logstore_result_free(r);
}

static double value_of(logstore_result *r, const char *name, const char *value)
{
  for (size_t i = 0; i < r->n; i++)
    for (size_t j = 0; j < r->series[i].nlabels; j++)
      if (!strcmp(r->series[i].labels[j].name, name) && !strcmp(r->series[i].labels[j].value, value))
        return r->series[i].v[0];
  return NAN;
}

static void test_metrics(void **state)
{
  fx *f = *state;
  logstore_result *r = run(f, "sum by (app) (count_over_time({env=\"prod\"}[1h]))", 0, 1000 * SEC, 0);
  assert_int_equal(r->kind, LOGSTORE_VECTOR);
  assert_int_equal(r->n, 2);
  assert_true(value_of(r, "app", "shop") == 30);
  assert_true(value_of(r, "app", "auth") == 30);
  logstore_result_free(r);
  r = run(f, "sum(rate({env=\"prod\"} |= \"error\" [10s]))", 100 * SEC, 159 * SEC, 10 * SEC);
  assert_int_equal(r->kind, LOGSTORE_MATRIX);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->series[0].n, 5); /* no error line in (90s,100s] */
  assert_true(r->series[0].t_ns[0] == 110 * SEC);
  /* window (100s,110s] holds entries i=1..10; i%6 in {1,3} contain "error" */
  assert_true(fabs(r->series[0].v[0] - 0.4) < 1e-9);
  logstore_result_free(r);
  r = run(f, "topk(1, sum by (app) (bytes_over_time({env=\"prod\"}[1h])))", 0, 1000 * SEC, 0);
  assert_int_equal(r->n, 1);
  logstore_result_free(r);
  r = run(f, "max(count_over_time({env=\"prod\"} | logfmt [1h])) by (level)", 0, 1000 * SEC, 0);
  assert_true(value_of(r, "level", "warn") == 10);
  logstore_result_free(r);
}

static void test_listings(void **state)
{
  fx *f = *state;
  const char **v;
  size_t n;
  lk_arena *a;
  assert_int_equal(logstore_labels(f->s, 0, 0, &v, &n, &a), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[0], "app");
  lk_arena_free(a);
  assert_int_equal(logstore_label_values(f->s, "app", 0, 1000 * SEC, &v, &n, &a), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[1], "shop");
  lk_arena_free(a);
  assert_int_equal(logstore_label_values(f->s, "app", 5000 * SEC, 6000 * SEC, &v, &n, &a), 0);
  assert_int_equal(n, 0);
  lk_arena_free(a);
  logstore_rstream *ss;
  assert_int_equal(logstore_series(f->s, "{app=~\"sh.*\"}", 0, 0, &ss, &n, &a, NULL), 0);
  assert_int_equal(n, 1);
  lk_arena_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parsers),
      cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_listings),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
