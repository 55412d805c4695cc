/* test_api_query.c — /api/v1/query and /api/v1/query_range end to end: a
 * real tsdb in a temporary directory, the real web server on a loopback
 * port, requests through lib/lk_httpc; checks shapes, number formats,
 * error types and status codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_httpc.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

typedef struct fixture {
  char dir[64];
  tsdb *db;
  web_server *w;
  char base[64];
} fixture;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(p);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/test_api_query-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  tsdb_opts o = {.dir = f->dir};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  lk_label a[] = {{"__name__", "req_total"}, {"job", "api"}};
  lk_label b[] = {{"__name__", "req_total"}, {"job", "web"}};
  lk_sample sa[11], sb[11];
  for (int i = 0; i <= 10; i++) {
    sa[i] = (lk_sample){1000000000 + i * 60000, i * 60.0};
    sb[i] = (lk_sample){1000000000 + i * 60000, 0.0000001 * i};
  }
  tsdb_series_in in[] = {{a, 2, sa, 11}, {b, 2, sb, 11}};
  tsdb_append_stats st;
  assert_int_equal(tsdb_append(f->db, in, 2, &st, &d), 0);
  web_opts wo = {.listen = "127.0.0.1:0", .db = f->db};
  assert_int_equal(web_start(&wo, &f->w, &d), 0);
  snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", web_port(f->w));
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  web_stop(f->w);
  tsdb_close(f->db);
  nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* GET path?query (already URL-encoded); checks the status, returns the body. */
static char *get(fixture *f, const char *pathq, int want_status)
{
  char url[1024];
  snprintf(url, sizeof url, "%s%s", f->base, pathq);
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_get(url, 10000, &r, &d), 0);
  if (r.status != want_status)
    fail_msg("%s: status %d, body %s", pathq, r.status, (char *)r.body.data);
  char *body = strdup((const char *)r.body.data);
  lk_httpc_resp_fini(&r);
  return body;
}

static void expect_body(fixture *f, const char *pathq, int status, const char *want)
{
  char *body = get(f, pathq, status);
  if (strcmp(body, want))
    fail_msg("%s:\n got  %s\n want %s", pathq, body, want);
  free(body);
}

static void test_instant(void **state)
{
  fixture *f = *state;
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000600", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"value\":[1000600,\"600\"]}]}}");
  /* exponent form for tiny sample values; millisecond timestamps */
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22web%22%7D&time=1000060.5", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"web\"},\"value\":[1000060.500,\"1e-07\"]}]}}");
  /* scalars use plain notation and the short timestamp */
  expect_body(f, "/api/v1/query?query=0.0000001&time=1000.05", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1000.05,\"0.0000001\"]}}");
  expect_body(f, "/api/v1/query?query=%22hi%22&time=5", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[5,\"hi\"]}}");
  expect_body(f, "/api/v1/query?query=sum(rate(req_total%5B5m%5D))&time=1000600", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{},\"value\":[1000600,\"1.0000000016666666\"]}]}}");
}

static void test_range(void **state)
{
  fixture *f = *state;
  expect_body(f, "/api/v1/query_range?query=req_total%7Bjob%3D%22api%22%7D*2&start=1000000&end=1000120&step=1m", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{\"job\":\"api\"},\"values\":[[1000000,\"0\"],[1000060,\"120\"],[1000120,\"240\"]]}]}}");
  expect_body(f, "/api/v1/query_range?query=1&start=1000000&end=1000001&step=1", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{},\"values\":[[1000000,\"1\"],[1000001,\"1\"]]}]}}");
}

static void test_errors(void **state)
{
  fixture *f = *state;
  expect_body(f, "/api/v1/query?query=foo(", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": 1:5: parse error: unclosed left parenthesis\"}");
  expect_body(f, "/api/v1/query?query=1&time=yesterday", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"time\\\": cannot parse \\\"yesterday\\\" to a valid timestamp\"}");
  expect_body(f, "/api/v1/query_range?query=1&start=10&end=5&step=1", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"end\\\": end timestamp must not be before start time\"}");
  expect_body(f, "/api/v1/query_range?query=1&start=0&end=5&step=0", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"step\\\": zero or negative query resolution step widths are not accepted. Try a positive integer\"}");
  expect_body(f, "/api/v1/query_range?query=1&start=0&end=100000&step=1", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)\"}");
  expect_body(f, "/api/v1/query_range?query=req_total%5B1m%5D&start=0&end=5&step=1", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid expression type \\\"range vector\\\" for range query, must be Scalar or instant Vector\"}");
  /* a bad regex names the pattern, Go's problem text, the offending part and offsets */
  expect_body(f, "/api/v1/query?query=%7Ba%3D~%22(%22%7D", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": "
              "1:5: parse error: invalid regular expression \\\"(\\\": error parsing regexp: missing closing ): "
              "`(` (at offset 0)\"}");
  char *body = get(f, "/api/v1/query?query=req_total%2Bon()req_total&time=1000600", 422);
  assert_non_null(strstr(body, "\"errorType\":\"execution\""));
  assert_non_null(strstr(body, "many-to-many matching not allowed"));
  free(body);
}

static void test_post_form(void **state)
{
  fixture *f = *state;
  char url[128];
  snprintf(url, sizeof url, "%s/api/v1/query", f->base);
  static const char form[] = "query=0.1%2B0.2&time=1000.05";
  static const char *const hdr[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
  lk_httpc_req req = {.method = "POST", .url = url, .headers = hdr, .body = form,
                      .body_len = sizeof form - 1, .timeout_ms = 10000};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_do(&req, &r, &d), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal((const char *)r.body.data,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1000.05,\"0.30000000000000004\"]}}");
  lk_httpc_resp_fini(&r);
}

/* Prometheus 3 `limit`: at most that many series, a warning when it cut. */
static void test_limit(void **state)
{
  fixture *f = *state;
  expect_body(f, "/api/v1/query?query=req_total&time=1000600&limit=1", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"value\":[1000600,\"600\"]}]},"
              "\"warnings\":[\"results truncated due to limit\"]}");
  /* at or under the limit, and 0 (off): no cut, no warning */
  static const char both[] =
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
    "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"value\":[1000600,\"600\"]},"
    "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"web\"},\"value\":[1000600,\"0.000001\"]}]}}";
  expect_body(f, "/api/v1/query?query=req_total&time=1000600&limit=2", 200, both);
  expect_body(f, "/api/v1/query?query=req_total&time=1000600&limit=0", 200, both);
  expect_body(f, "/api/v1/query?query=req_total&time=1000600&limit=", 200, both);
  expect_body(f, "/api/v1/query_range?query=req_total&start=1000540&end=1000600&step=1m&limit=1", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"values\":[[1000540,\"540\"],[1000600,\"600\"]]}]},"
              "\"warnings\":[\"results truncated due to limit\"]}");
  /* scalars are not series: never cut */
  expect_body(f, "/api/v1/query?query=7&time=5&limit=1", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[5,\"7\"]}}");
  /* the engine's own warnings come first */
  char *body = get(f, "/api/v1/query?query=quantile_over_time(2%2Creq_total%5B5m%5D)&time=1000600&limit=1", 200);
  const char *w = strstr(body, "\"warnings\":[\"PromQL warning: quantile value should be between 0 and 1, got 2");
  if (!w || !strstr(w, "\",\"results truncated due to limit\"]}") || strstr(body, "\"job\":\"web\""))
    fail_msg("limit with engine warnings: %s", body);
  free(body);
  /* Go's strconv.Atoi errors, checked before any other parameter */
  expect_body(f, "/api/v1/query?query=1&time=yesterday&limit=abc", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"limit\\\": strconv.Atoi: parsing \\\"abc\\\": invalid syntax\"}");
  expect_body(f, "/api/v1/query?query=1&limit=-1", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"limit\\\": limit must be non-negative\"}");
  expect_body(f, "/api/v1/query_range?query=1&limit=1.5", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"limit\\\": strconv.Atoi: parsing \\\"1.5\\\": invalid syntax\"}");
  expect_body(f, "/api/v1/query?query=1&limit=99999999999999999999", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"limit\\\": strconv.Atoi: parsing \\\"99999999999999999999\\\": value out of range\"}");
}

/* Prometheus 3 `lookback_delta`: how far back an instant selector looks. The
 * newest sample is at 1000600 s; the next at 1000660 would be the next. */
static void test_lookback_delta(void **state)
{
  fixture *f = *state;
  static const char found[] =
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
    "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"value\":[1000630,\"600\"]}]}}";
  static const char empty[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000630", 200, found);
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000630&lookback_delta=10s", 200, empty);
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000630&lookback_delta=29.999", 200, empty);
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000630&lookback_delta=31", 200, found);
  /* beyond the default 5 m */
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1001000", 200, empty);
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1001000&lookback_delta=7m", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"value\":[1001000,\"600\"]}]}}");
  /* zero and negative mean the default, as in Prometheus' engine */
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000630&lookback_delta=0", 200, found);
  expect_body(f, "/api/v1/query?query=req_total%7Bjob%3D%22api%22%7D&time=1000630&lookback_delta=-5", 200, found);
  /* range queries: each step looks back lookback_delta */
  expect_body(f, "/api/v1/query_range?query=req_total%7Bjob%3D%22api%22%7D&start=1000000&end=1000090&step=30&lookback_delta=15s", 200,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{\"__name__\":\"req_total\",\"job\":\"api\"},\"values\":[[1000000,\"0\"],[1000060,\"60\"]]}]}}");
  expect_body(f, "/api/v1/query?query=1&lookback_delta=soon", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"error parsing lookback delta duration: cannot parse \\\"soon\\\" to a valid duration\"}");
  expect_body(f, "/api/v1/query_range?query=1&start=0&end=5&step=1&lookback_delta=5x", 400,
              "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"error parsing lookback delta duration: cannot parse \\\"5x\\\" to a valid duration\"}");
}

/* The series objects of a matrix response: what lies between
 * "result":[ and the closing ]}} (borrowed from body, cut in place). */
static char *result_list(char *body)
{
  char *p = strstr(body, "\"result\":[");
  assert_non_null(p);
  p += strlen("\"result\":[");
  size_t n = strlen(p);
  assert_true(n >= 3 && !strcmp(p + n - 3, "]}}"));
  p[n - 3] = 0;
  return p;
}

/* A large matrix (2 × 6,001 points): the body must be the two
 * single-series answers joined. */
static void test_large_matrix(void **state)
{
  fixture *f = *state;
  char *both = get(f, "/api/v1/query_range?query=req_total&start=1000000&end=1000600&step=0.1", 200);
  char *api = get(f, "/api/v1/query_range?query=req_total%7Bjob%3D%22api%22%7D&start=1000000&end=1000600&step=0.1", 200);
  char *web = get(f, "/api/v1/query_range?query=req_total%7Bjob%3D%22web%22%7D&start=1000000&end=1000600&step=0.1", 200);
  char *lb = result_list(both), *la = result_list(api), *lw = result_list(web);
  size_t na = strlen(la);
  assert_true(strlen(lb) == na + 1 + strlen(lw));
  assert_memory_equal(lb, la, na);
  assert_int_equal(lb[na], ',');
  assert_string_equal(lb + na + 1, lw);
  assert_non_null(strstr(lw, "[1000599.900,\"9e-07\"],[1000600,\"0.000001\"]]}"));
  free(both);
  free(api);
  free(web);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_instant),
    cmocka_unit_test(test_range),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_post_form),
    cmocka_unit_test(test_limit),
    cmocka_unit_test(test_lookback_delta),
    cmocka_unit_test(test_large_matrix),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
