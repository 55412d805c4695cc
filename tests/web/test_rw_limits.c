/* test_rw_limits.c — remote_write under series churn and a cardinality
 * attack, against a real server on 127.0.0.1: a client creating new series
 * request after request is refused past the series limit with a 400 (which
 * Prometheus does not retry) naming limits.max_series, the head stays at the
 * limit, and an existing series keeps ingesting; a series whose cached ref
 * went stale (head GC dropped it while idle) is resolved again and stored,
 * by remote_write and by the text import alike; a sender's memo of its
 * previous request never stores a sample under another series.
 * LK_RW_ATTACK_SERIES=1000000 runs the attack at full size and prints the
 * figures (a slow run, not part of the suite's default). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "lib/lk_wire.h"
#include "tests/helpers/web_fx.h"
#include "tests/helpers/mem_fx.h"

#define MIN_MS 60000LL
#define T0 1700000000000LL
#define PER_REQ 1000

static const char *const rw_hdrs[] = {"Content-Encoding: snappy", "Content-Type: application/x-protobuf",
                                      "X-Prometheus-Remote-Write-Version: 0.1.0", NULL};

static int post_rw(web_fx *f, const lk_series *s, size_t n, lk_httpc_resp *r)
{
  lk_buf body = {0};
  assert_int_equal(lk_rw_encode(s, n, &body), 0);
  char url[128];
  snprintf(url, sizeof url, "%s/api/v1/write", f->base);
  lk_httpc_req q = {.method = "POST", .url = url, .headers = rw_hdrs, .body = body.data,
                    .body_len = body.len, .timeout_ms = 30000};
  int rc = lk_httpc_do(&q, r, NULL);
  lk_buf_fini(&body);
  return rc;
}

/* One sample of {__name__=name, id=id} at t: the HTTP status. */
static int write1(web_fx *f, const char *name, const char *id, int64_t t, double v)
{
  lk_label ls[] = {{"__name__", name}, {"id", id}};
  lk_sample s = {t, v};
  lk_series in = {ls, 2, &s, 1};
  lk_httpc_resp r = {0};
  assert_int_equal(post_rw(f, &in, 1, &r), 0);
  int status = r.status;
  if (status != 204)
    fprintf(stderr, "write %s{id=%s}: %d %s\n", name, id, status, (char *)r.body.data);
  lk_httpc_resp_fini(&r);
  return status;
}

static uint64_t head_series(web_fx *f)
{
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(f->db, 0, &st), 0);
  uint64_t n = st->head_series;
  tsdb_status_free(st);
  return n;
}

static size_t samples_of(web_fx *f, const char *name, const char *id)
{
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", name}, {TSDB_EQ, "id", id}};
  tsdb_result *r;
  assert_int_equal(tsdb_select(f->db, m, 2, 0, INT64_MAX / 2, NULL, &r, NULL), 0);
  size_t n = tsdb_result_count(r) ? tsdb_result_get(r, 0)->n : 0;
  tsdb_result_free(r);
  return n;
}

/* PER_REQ new series {__name__="attack", n="<k>"} starting at k0. */
static int attack_request(web_fx *f, uint64_t k0, int64_t t, char *msg, size_t msgcap)
{
  static char vals[PER_REQ][24];
  lk_label *ls = malloc(PER_REQ * 2 * sizeof *ls);
  lk_sample *smp = malloc(PER_REQ * sizeof *smp);
  lk_series *in = malloc(PER_REQ * sizeof *in);
  for (int i = 0; i < PER_REQ; i++) {
    snprintf(vals[i], sizeof vals[i], "%llu", (unsigned long long)(k0 + (uint64_t)i));
    ls[2 * i] = (lk_label){"__name__", "attack"};
    ls[2 * i + 1] = (lk_label){"n", vals[i]};
    smp[i] = (lk_sample){t, 1};
    in[i] = (lk_series){&ls[2 * i], 2, &smp[i], 1};
  }
  lk_httpc_resp r = {0};
  assert_int_equal(post_rw(f, in, PER_REQ, &r), 0);
  int status = r.status;
  if (msg)
    snprintf(msg, msgcap, "%s", r.body.data ? (char *)r.body.data : "");
  lk_httpc_resp_fini(&r);
  free(ls);
  free(smp);
  free(in);
  return status;
}

static uint64_t attack_series(void)
{
  const char *e = getenv("LK_RW_ATTACK_SERIES");
  uint64_t n = e ? strtoull(e, NULL, 10) : 20000;
  return n >= PER_REQ && n <= 10000000 ? n : 20000;
}

/* New series request after request: past limits.max_series every request
 * creating series gets 400 naming the limit, nothing of it is stored, the
 * head holds exactly the limit, and a known series keeps getting 204. */
static void test_series_attack(void **state)
{
  (void)state;
  uint64_t total = attack_series(), limit = total / 10;
  tsdb_opts to = {.max_series = limit + 1};
  web_opts wo = {.limits = {.max_write_body = 64 << 20}};
  web_fx *f = web_fx_start_tsdb("/tmp/lk_rwlim_XXXXXX", wo, NULL, &to);
  if (!f)
    fail();
  assert_int_equal(write1(f, "steady", "0", T0, 0), 204);
  uint64_t refused = 0, rss0 = mfx_anon_rss_bytes(), rss_at_limit = 0;
  int64_t start = lk_mono_ns(), steady_ns = 0;
  char msg[512] = "";
  for (uint64_t k = 0, i = 1; k < total; k += PER_REQ, i++) {
    int status = attack_request(f, k, T0 + (int64_t)i, msg, sizeof msg);
    if (status == 400) {
      refused++;
      assert_non_null(strstr(msg, "series limit reached (limits.max_series="));
      if (!rss_at_limit)
        rss_at_limit = mfx_anon_rss_bytes();
    } else {
      assert_int_equal(status, 204);
      assert_int_equal(refused, 0);
    }
    int64_t t = lk_mono_ns();
    assert_int_equal(write1(f, "steady", "0", T0 + (int64_t)i, (double)i), 204);
    steady_ns += lk_mono_ns() - t;
  }
  uint64_t rss1 = mfx_anon_rss_bytes();
  assert_int_equal(head_series(f), limit + 1);
  assert_int_equal(refused, (total - limit) / PER_REQ);
  assert_int_equal(samples_of(f, "steady", "0"), total / PER_REQ + 1);
  fprintf(stderr,
          "rw attack: %llu new series offered in %.1f s, limit %llu: %llu requests refused (400); "
          "known series write: mean %.2f ms; anon rss %.1f MiB at start, %.1f at the limit, %.1f at the end\n",
          (unsigned long long)total, (lk_mono_ns() - start) / 1e9, (unsigned long long)limit,
          (unsigned long long)refused, steady_ns / 1e6 / (double)(total / PER_REQ), rss0 / 1048576.0,
          rss_at_limit / 1048576.0, rss1 / 1048576.0);
  assert_true(rss1 <= rss_at_limit + rss_at_limit / 5); /* refused series cost nothing lasting */
  assert_int_equal(web_fx_stop(f), 0);
}

/* A server whose head cuts after 1 h blocks and drops a series idle past
 * it (head_min_samples 1): what makes cached refs go stale. */
static web_fx *start_cutting_server(void)
{
  tsdb_opts to = {.block_range_ms = 60 * MIN_MS, .head_min_samples = 1};
  web_opts wo = {.limits = {.max_write_body = 1 << 20}};
  web_fx *f = web_fx_start_tsdb("/tmp/lk_rwlim_XXXXXX", wo, NULL, &to);
  if (!f)
    fail();
  return f;
}

/* The remote_write series cache holds the ref of a series; it goes idle,
 * a head cut drops it; writing it again resolves it anew (204) and both
 * samples read back. */
static void test_stale_cached_ref(void **state)
{
  (void)state;
  web_fx *f = start_cutting_server();
  assert_int_equal(write1(f, "idle", "a", T0, 1), 204);
  assert_int_equal(write1(f, "busy", "b", T0 + 200 * MIN_MS, 2), 204);
  assert_int_equal(head_series(f), 1); /* idle{id=a} dropped */
  assert_int_equal(write1(f, "idle", "a", T0 + 201 * MIN_MS, 3), 204);
  assert_int_equal(head_series(f), 2);
  assert_int_equal(samples_of(f, "idle", "a"), 2);
  assert_int_equal(write1(f, "idle", "a", T0 + 202 * MIN_MS, 4), 204);
  assert_int_equal(samples_of(f, "idle", "a"), 3);
  assert_int_equal(web_fx_stop(f), 0);
}

/* One import request: idle{id=a} at T0, then more than a batch of another
 * series 200 minutes later (the first batch's append cuts the head and
 * drops idle{id=a}), then idle{id=a} again: its cached ref is stale, the
 * batch is resolved again and stored whole. */
static void test_import_stale_ref(void **state)
{
  (void)state;
  web_fx *f = start_cutting_server();
  enum { FILL = 20000 };
  lk_buf body = {0};
  lk_buf_printf(&body, "idle{id=\"a\"} 1 %lld\n", (long long)T0);
  for (int i = 0; i < FILL; i++)
    lk_buf_printf(&body, "fill{id=\"b\"} %d %lld\n", i, (long long)(T0 + 200 * MIN_MS + i * 1000LL));
  lk_buf_printf(&body, "idle{id=\"a\"} 2 %lld\n", (long long)(T0 + 200 * MIN_MS + FILL * 1000LL));
  char url[128];
  snprintf(url, sizeof url, "%s/api/v1/import/prometheus", f->base);
  lk_httpc_req q = {.method = "POST", .url = url, .body = body.data, .body_len = body.len, .timeout_ms = 30000};
  lk_httpc_resp r = {0};
  assert_int_equal(lk_httpc_do(&q, &r, NULL), 0);
  if (r.status != 200)
    fprintf(stderr, "import: %d %s\n", r.status, (char *)r.body.data);
  assert_int_equal(r.status, 200);
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&body);
  assert_int_equal(samples_of(f, "idle", "a"), 2);
  assert_int_equal(samples_of(f, "fill", "b"), FILL);
  assert_int_equal(web_fx_stop(f), 0);
}

/* POST series (each one sample of {__name__=m, id=ids[i]} at t, and the
 * label x="y" on the one at index extra, if any): the HTTP status. */
static int write_ids(web_fx *f, const char *const *ids, size_t n, int extra, int64_t t)
{
  lk_label ls[8][3];
  lk_series in[8];
  lk_sample s = {t, 1};
  assert_true(n <= 8);
  for (size_t i = 0; i < n; i++) {
    ls[i][0] = (lk_label){"__name__", "m"};
    ls[i][1] = (lk_label){"id", ids[i]};
    ls[i][2] = (lk_label){"x", "y"};
    in[i] = (lk_series){ls[i], (int)i == extra ? 3 : 2, &s, 1};
  }
  lk_httpc_resp r = {0};
  assert_int_equal(post_rw(f, in, n, &r), 0);
  int status = r.status;
  lk_httpc_resp_fini(&r);
  return status;
}

/* Samples of {__name__="m", id=id, x=x} (x "": without the label x). */
static size_t samples_x(web_fx *f, const char *id, const char *x)
{
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", "m"}, {TSDB_EQ, "id", id}, {TSDB_EQ, "x", x}};
  tsdb_result *r;
  assert_int_equal(tsdb_select(f->db, m, 3, 0, INT64_MAX / 2, NULL, &r, NULL), 0);
  size_t n = tsdb_result_count(r) ? tsdb_result_get(r, 0)->n : 0;
  tsdb_result_free(r);
  return n;
}

/* A sender's memo (web/rw_memo.c) expects its previous request's series by
 * index: a request that starts the same but then differs — a series with
 * one more label (its key starts with the expected one), another series —
 * stores each sample under its own series; refs the memo kept that went
 * stale (head GC) are resolved again. */
static void test_rw_memo_by_index(void **state)
{
  (void)state;
  web_fx *f = start_cutting_server();
  const char *abc[] = {"a", "b", "c"}, *abd[] = {"a", "b", "d"}, *b[] = {"b"};
  assert_int_equal(write_ids(f, abc, 3, -1, T0), 204);
  assert_int_equal(write_ids(f, abd, 3, 1, T0 + 1000), 204); /* b with x="y" */
  assert_int_equal(samples_x(f, "a", ""), 2);
  assert_int_equal(samples_x(f, "b", ""), 1);
  assert_int_equal(samples_x(f, "c", ""), 1);
  assert_int_equal(samples_x(f, "d", ""), 1);
  assert_int_equal(samples_x(f, "b", "y"), 1);
  assert_int_equal(write_ids(f, abd, 3, 1, T0 + 2000), 204); /* the same again: all expected */
  assert_int_equal(samples_x(f, "b", "y"), 2);
  assert_int_equal(write_ids(f, abd, 3, -1, T0 + 3000), 204); /* b without x again */
  assert_int_equal(samples_x(f, "b", "y"), 2);
  assert_int_equal(head_series(f), 5);
  assert_int_equal(write_ids(f, b, 1, -1, T0 + 200 * MIN_MS), 204); /* the cut drops a, c, d and b{x} */
  assert_int_equal(head_series(f), 1);
  assert_int_equal(write_ids(f, abd, 3, -1, T0 + 201 * MIN_MS), 204); /* the memo's refs of a, d: stale */
  assert_int_equal(write_ids(f, abd, 3, -1, T0 + 202 * MIN_MS), 204);
  assert_int_equal(samples_x(f, "a", ""), 6);
  assert_int_equal(samples_x(f, "b", ""), 5);
  assert_int_equal(samples_x(f, "c", ""), 1);
  assert_int_equal(samples_x(f, "d", ""), 5);
  assert_int_equal(samples_x(f, "b", "y"), 2);
  assert_int_equal(web_fx_stop(f), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stale_cached_ref),
    cmocka_unit_test(test_rw_memo_by_index),
    cmocka_unit_test(test_import_stale_ref),
    cmocka_unit_test(test_series_attack),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
