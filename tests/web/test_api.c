/* test_api.c — the web/ handlers end to end: a real tsdb in a temp dir, a
 * real server on 127.0.0.1 port 0, requests through lk_httpc. Covers
 * remote_write (success, corrupt bodies, wrong encodings, invalid labels,
 * out-of-order samples, the series cache, native histograms in a body built
 * by protobuf-c), import (plain, gzip, malformed lines, timestamps),
 * the metadata endpoints, flush, health and /metrics, a backfill seen
 * through the query result cache — and that rejected requests store
 * nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/lk_httpc.h"
#include "lib/lk_varint.h"
#include "lib/lk_wire.h"
#include "lib/remote.pb-c.h"
#include "promql/promql.h"
#include "tests/helpers/web_fx.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

typedef web_fx fx;

static int setup(void **state)
{
  web_opts wo = {.limits = {.max_write_body = 1 << 20}};
  *state = web_fx_start("/tmp/lk_api_XXXXXX", wo, NULL);
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  return web_fx_stop(*state);
}

static int req(fx *f, const char *method, const char *path, const char *const *hdrs, const void *body,
               size_t len, lk_httpc_resp *r)
{
  char url[1024];
  snprintf(url, sizeof url, "%s%s", f->base, path);
  lk_httpc_req q = {.method = method, .url = url, .headers = hdrs, .body = body, .body_len = len,
                    .timeout_ms = 10000};
  lk_diag d = {0};
  int rc = lk_httpc_do(&q, r, &d);
  if (rc)
    fprintf(stderr, "%s %s: %s\n", method, path, d.msg);
  return rc;
}

/* GET path and return the body (caller frees); asserts the status. */
static char *get_ok(fx *f, const char *path, int want)
{
  lk_httpc_resp r = {0};
  assert_int_equal(req(f, "GET", path, NULL, NULL, 0, &r), 0);
  if (r.status != want)
    fprintf(stderr, "GET %s → %d %s\n", path, r.status, (char *)r.body.data);
  assert_int_equal(r.status, want);
  char *b = strdup((char *)r.body.data);
  lk_httpc_resp_fini(&r);
  return b;
}

/* assert a status, printing the body when it differs */
#define expect_status(r, want)                                                   \
  do {                                                                           \
    if ((r).status != (want))                                                    \
      fprintf(stderr, "line %d: status %d: %s\n", __LINE__, (r).status,         \
              (char *)(r).body.data);                                            \
    assert_int_equal((r).status, (want));                                        \
  } while (0)

static const char *const rw_hdrs[] = {"Content-Encoding: snappy", "Content-Type: application/x-protobuf",
                                      "X-Prometheus-Remote-Write-Version: 0.1.0", NULL};

static int post_rw(fx *f, const lk_series *s, size_t n, const char *const *hdrs, lk_httpc_resp *r)
{
  lk_buf body = {0};
  assert_int_equal(lk_rw_encode(s, n, &body), 0);
  int rc = req(f, "POST", "/api/v1/write", hdrs ? hdrs : rw_hdrs, body.data, body.len, r);
  lk_buf_fini(&body);
  return rc;
}

static void test_write_and_read(void **state)
{
  fx *f = *state;
  lk_label l1[] = {{"__name__", "rw_metric"}, {"job", "a"}};
  lk_label l2[] = {{"job", "b"}, {"__name__", "rw_metric"}}; /* unsorted: accepted */
  lk_sample s1[] = {{1000, 1}, {2000, 2}};
  lk_sample s2[] = {{1000, 5}};
  lk_series in[] = {{l1, 2, s1, 2}, {l2, 2, s2, 1}};
  lk_httpc_resp r = {0};
  assert_int_equal(post_rw(f, in, 2, NULL, &r), 0);
  expect_status(r, 204);
  lk_httpc_resp_fini(&r);

  char *b = get_ok(f, "/api/v1/series?match[]=rw_metric", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[{\"__name__\":\"rw_metric\",\"job\":\"a\"},"
                         "{\"__name__\":\"rw_metric\",\"job\":\"b\"}]}");
  free(b);
  b = get_ok(f, "/api/v1/series?match[]=rw_metric{job=%22b%22}&match[]=rw_metric{job=~%22a|b%22}", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[{\"__name__\":\"rw_metric\",\"job\":\"a\"},"
                         "{\"__name__\":\"rw_metric\",\"job\":\"b\"}]}");
  free(b);
  b = get_ok(f, "/api/v1/label/job/values?match[]=rw_metric", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[\"a\",\"b\"]}");
  free(b);
  b = get_ok(f, "/api/v1/labels?match[]=rw_metric", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[\"__name__\",\"job\"]}");
  free(b);
  b = get_ok(f, "/api/v1/series?match[]=rw_metric&limit=1", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[{\"__name__\":\"rw_metric\",\"job\":\"a\"}],"
                         "\"warnings\":[\"results truncated due to limit\"]}");
  free(b);
  b = get_ok(f, "/api/v1/label/job/values?limit=2", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[\"a\",\"b\"]}");
  free(b);
  b = get_ok(f, "/api/v1/labels?limit=-1", 400);
  free(b);
  b = get_ok(f, "/api/v1/label/U__j_6f_b/values", 200); /* U__ escaping of "job" */
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[\"a\",\"b\"]}");
  free(b);
  b = get_ok(f, "/api/v1/label/U__j_zz/values", 400);
  free(b);
  b = get_ok(f, "/api/v1/series?match[]=nothing_here", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[]}");
  free(b);

  /* the samples themselves, read back from storage */
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", "rw_metric"}, {TSDB_EQ, "job", "a"}};
  tsdb_result *res = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(f->db, m, 2, 0, 10000, NULL, &res, &d), 0);
  assert_int_equal(tsdb_result_count(res), 1);
  const tsdb_series *s = tsdb_result_get(res, 0);
  assert_int_equal(s->n, 2);
  assert_int_equal(s->t[1], 2000);
  assert_true(s->v[1] == 2);
  tsdb_result_free(res);

  /* an older sample for an existing series: rejected and reported, never dropped silently */
  lk_sample old[] = {{500, 9}, {3000, 3}};
  lk_series in2[] = {{l1, 2, old, 2}};
  assert_int_equal(post_rw(f, in2, 1, NULL, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "accepted 1 samples, rejected 1: 1 out of order"));
  lk_httpc_resp_fini(&r);
}

static void test_write_rejects(void **state)
{
  fx *f = *state;
  lk_httpc_resp r = {0};
  /* garbage snappy */
  assert_int_equal(req(f, "POST", "/api/v1/write", rw_hdrs, "\xff\xff\xff\xff garbage", 13, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "snappy"));
  lk_httpc_resp_fini(&r);
  /* valid snappy around garbage protobuf */
  lk_buf body = {0};
  const uint8_t junk[] = {0x0a, 0x50, 0x0a, 0x03, 'a', 'b'};
  lk_snappy_compress(junk, sizeof junk, &body);
  assert_int_equal(req(f, "POST", "/api/v1/write", rw_hdrs, body.data, body.len, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "protobuf"));
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&body);
  /* truncated body of a valid request */
  lk_label l[] = {{"__name__", "trunc_metric"}};
  lk_sample s[] = {{1000, 1}};
  lk_series in[] = {{l, 1, s, 1}};
  lk_rw_encode(in, 1, &body);
  assert_int_equal(req(f, "POST", "/api/v1/write", rw_hdrs, body.data, body.len - 3, &r), 0);
  expect_status(r, 400);
  lk_httpc_resp_fini(&r);
  /* other encodings */
  const char *gz[] = {"Content-Encoding: gzip", NULL};
  assert_int_equal(req(f, "POST", "/api/v1/write", gz, body.data, body.len, &r), 0);
  expect_status(r, 415);
  lk_httpc_resp_fini(&r);
  const char *v2[] = {"Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request", NULL};
  assert_int_equal(req(f, "POST", "/api/v1/write", v2, body.data, body.len, &r), 0);
  expect_status(r, 415);
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&body);
  /* invalid label name: the whole request is refused, nothing stored */
  lk_label good[] = {{"__name__", "trunc_metric"}};
  lk_label bad[] = {{"__name__", "trunc_metric"}, {"bad-name", "x"}};
  lk_series mixed[] = {{good, 1, s, 1}, {bad, 2, s, 1}};
  assert_int_equal(post_rw(f, mixed, 2, NULL, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "bad-name"));
  lk_httpc_resp_fini(&r);
  /* oversized body (limit 1 MiB in this fixture) */
  size_t big = (2 << 20);
  char *huge = malloc(big);
  memset(huge, 'x', big);
  assert_int_equal(req(f, "POST", "/api/v1/write", rw_hdrs, huge, big, &r), 0);
  expect_status(r, 413);
  lk_httpc_resp_fini(&r);
  free(huge);
  char *b = get_ok(f, "/api/v1/series?match[]=trunc_metric", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[]}");
  free(b);
}

/* Known series take the server's label-bytes cache: a request mixing a
 * cached series with an invalid new one still stores nothing, and the same
 * label set sent in another byte order reaches the same series. */
static void test_write_cached_series(void **state)
{
  fx *f = *state;
  lk_label a[] = {{"__name__", "cache_metric"}, {"job", "x"}};
  lk_label a_swapped[] = {{"job", "x"}, {"__name__", "cache_metric"}};
  lk_label bad[] = {{"__name__", "cache_metric"}, {"job", "y"}, {"job", "z"}};
  lk_sample s1[] = {{1000, 1}}, s2[] = {{2000, 2}}, s3[] = {{3000, 3}};
  lk_httpc_resp r = {0};
  lk_series first[] = {{a, 2, s1, 1}};
  assert_int_equal(post_rw(f, first, 1, NULL, &r), 0);
  expect_status(r, 204);
  lk_httpc_resp_fini(&r);
  lk_series mixed[] = {{a, 2, s2, 1}, {bad, 3, s2, 1}};
  assert_int_equal(post_rw(f, mixed, 2, NULL, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "duplicate label name"));
  lk_httpc_resp_fini(&r);
  lk_series again[] = {{a, 2, s2, 1}, {a_swapped, 2, s3, 1}};
  assert_int_equal(post_rw(f, again, 2, NULL, &r), 0);
  expect_status(r, 204);
  lk_httpc_resp_fini(&r);
  lk_series dup[] = {{a, 2, s3, 1}, {a_swapped, 2, s3, 1}};
  assert_int_equal(post_rw(f, dup, 2, NULL, &r), 0); /* both keys cached now: duplicates */
  expect_status(r, 204);
  lk_httpc_resp_fini(&r);
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", "cache_metric"}};
  tsdb_result *res = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(f->db, m, 1, 0, 10000, NULL, &res, &d), 0);
  assert_int_equal(tsdb_result_count(res), 1);
  const tsdb_series *got = tsdb_result_get(res, 0);
  assert_int_equal(got->n, 3);
  assert_int_equal(got->t[0], 1000);
  assert_int_equal(got->t[1], 2000);
  assert_int_equal(got->t[2], 3000);
  tsdb_result_free(res);
}

/*---- native histograms: refused out loud, floats beside them stored ----*/

/* Prometheus' Histogram fields (count_int = 1, sum = 3, schema = 4,
 * timestamp = 15), carried as unknown fields since lib/remote.proto declares
 * the message empty; protobuf-c packs them as sent. */
static void fill_histogram(Lkrw__Histogram *h, ProtobufCMessageUnknownField *uf, uint8_t *bytes,
                           int64_t t)
{
  uint8_t *p = bytes;
  static const uint8_t count[] = {7}, sum[] = {0, 0, 0, 0, 0, 0, 0x24, 0x40}, schema[] = {6};
  uf[0] = (ProtobufCMessageUnknownField){1, PROTOBUF_C_WIRE_TYPE_VARINT, 1, (uint8_t *)count};
  uf[1] = (ProtobufCMessageUnknownField){3, PROTOBUF_C_WIRE_TYPE_64BIT, 8, (uint8_t *)sum};
  uf[2] = (ProtobufCMessageUnknownField){4, PROTOBUF_C_WIRE_TYPE_VARINT, 1, (uint8_t *)schema};
  size_t n = lk_uvarint_put(p, (uint64_t)t);
  uf[3] = (ProtobufCMessageUnknownField){15, PROTOBUF_C_WIRE_TYPE_VARINT, n, p};
  lkrw__histogram__init(h);
  h->base.n_unknown_fields = 4;
  h->base.unknown_fields = uf;
}

enum { HIST_MAX = 4 };
typedef struct pb_series {
  Lkrw__TimeSeries ts;
  Lkrw__Label lab[2], *labp[2];
  Lkrw__Sample smp[2], *smpp[2];
  Lkrw__Histogram hist[HIST_MAX], *histp[HIST_MAX];
  ProtobufCMessageUnknownField uf[HIST_MAX][4];
  uint8_t tbytes[HIST_MAX][LK_UVARINT_MAX];
} pb_series;

/* Series {__name__="name"} with ns float samples (t = 1000, 2000) and nh
 * histogram samples (t = 1000, 2000, …). */
static void pb_series_init(pb_series *s, const char *name, size_t ns, size_t nh)
{
  lkrw__time_series__init(&s->ts);
  lkrw__label__init(&s->lab[0]);
  s->lab[0].name = "__name__";
  s->lab[0].value = (char *)name;
  lkrw__label__init(&s->lab[1]);
  s->lab[1].name = "job";
  s->lab[1].value = "hist";
  s->labp[0] = &s->lab[0];
  s->labp[1] = &s->lab[1];
  s->ts.n_labels = 2;
  s->ts.labels = s->labp;
  for (size_t i = 0; i < ns; i++) {
    lkrw__sample__init(&s->smp[i]);
    s->smp[i].timestamp = 1000 * (int64_t)(i + 1);
    s->smp[i].value = 0.5 + (double)i;
    s->smpp[i] = &s->smp[i];
  }
  s->ts.n_samples = ns;
  s->ts.samples = s->smpp;
  for (size_t i = 0; i < nh; i++) {
    fill_histogram(&s->hist[i], s->uf[i], s->tbytes[i], 1000 * (int64_t)(i + 1));
    s->histp[i] = &s->hist[i];
  }
  s->ts.n_histograms = nh;
  s->ts.histograms = s->histp;
}

/* A snappy WriteRequest body of the series, packed by protobuf-c. */
static void pb_body(pb_series *ss, size_t n, lk_buf *out)
{
  Lkrw__TimeSeries *tsp[4];
  for (size_t i = 0; i < n; i++)
    tsp[i] = &ss[i].ts;
  Lkrw__WriteRequest wr;
  lkrw__write_request__init(&wr);
  wr.n_timeseries = n;
  wr.timeseries = tsp;
  size_t len = lkrw__write_request__get_packed_size(&wr);
  uint8_t *raw = malloc(len + 1);
  assert_int_equal(lkrw__write_request__pack(&wr, raw), len);
  assert_int_equal(lk_snappy_compress(raw, len, out), 0);
  free(raw);
}

static void test_write_native_histograms(void **state)
{
  fx *f = *state;
  pb_series ss[3];
  pb_series_init(&ss[0], "hist_mixed", 2, 2);
  pb_series_init(&ss[1], "hist_floats", 1, 0);
  pb_series_init(&ss[2], "hist_only", 0, 3);
  lk_buf body = {0};
  pb_body(ss, 3, &body);
  lk_httpc_resp r = {0};
  assert_int_equal(req(f, "POST", "/api/v1/write", rw_hdrs, body.data, body.len, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "native histograms are not supported yet: refused 5 "
                                              "native histogram samples in 2 series; accepted 3 float samples"));
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&body);

  /* the floats are stored; the histogram-only series is not created */
  tsdb_matcher m[] = {{TSDB_EQ, "job", "hist"}};
  tsdb_result *res = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(f->db, m, 1, 0, 10000, NULL, &res, &d), 0);
  assert_int_equal(tsdb_result_count(res), 2);
  const tsdb_series *floats = tsdb_result_get(res, 0), *mixed = tsdb_result_get(res, 1);
  assert_int_equal(floats->n, 1);
  assert_true(floats->v[0] == 0.5);
  assert_int_equal(mixed->n, 2);
  assert_int_equal(mixed->t[1], 2000);
  assert_true(mixed->v[1] == 1.5);
  tsdb_result_free(res);
  char *b = get_ok(f, "/api/v1/series?match[]=hist_only", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[]}");
  free(b);

  /* with another rejection in the same request: both named */
  pb_series_init(&ss[0], "hist_mixed", 1, 1);
  ss[0].smp[0].timestamp = 500; /* behind 2000: out of order */
  pb_body(ss, 1, &body);
  assert_int_equal(req(f, "POST", "/api/v1/write", rw_hdrs, body.data, body.len, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "refused 1 native histogram samples in 1 series; "
                                              "accepted 0 float samples, rejected 1: 1 out of order"));
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&body);

  /* a body refused for an invalid series: its samples count as invalid */
  lk_label bad[] = {{"__name__", "hist_mixed"}, {"bad-name", "x"}};
  lk_sample two[] = {{3000, 1}, {4000, 2}};
  lk_series invalid[] = {{bad, 2, two, 2}};
  assert_int_equal(post_rw(f, invalid, 1, NULL, &r), 0);
  expect_status(r, 400);
  lk_httpc_resp_fini(&r);

  b = get_ok(f, "/metrics", 200);
  assert_non_null(strstr(b, "lookout_samples_rejected_total{reason=\"invalid\"} 2\n"));
  assert_non_null(strstr(b, "lookout_samples_rejected_total{reason=\"native_histogram\"} 6\n"));
  assert_non_null(strstr(b, "lookout_samples_rejected_total{reason=\"out_of_order\"} 1\n"));
  assert_non_null(strstr(b, "lookout_samples_ingested_total{path=\"remote_write\"} 3\n"));
  free(b);
}

static void gzip_buf(const char *in, lk_buf *out)
{
  z_stream z = {0};
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  lk_buf_reserve(out, compressBound(strlen(in)) + 64);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)strlen(in);
  z.next_out = out->data;
  z.avail_out = (uInt)out->cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  out->len = z.total_out;
  deflateEnd(&z);
}

static void test_import(void **state)
{
  fx *f = *state;
  const char *text = "# HELP imp_a help\n# TYPE imp_a gauge\n"
                     "imp_a{x=\"1\"} 1 1000\nimp_a{x=\"1\"} 2 2000\nimp_a{x=\"2\"} 3.5 1000\n"
                     "imp_b 7 1000\n";
  lk_httpc_resp r = {0};
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, text, strlen(text), &r), 0);
  expect_status(r, 200);
  assert_non_null(strstr((char *)r.body.data, "\"accepted\":4"));
  assert_non_null(strstr((char *)r.body.data, "\"series\":3"));
  lk_httpc_resp_fini(&r);
  char *b = get_ok(f, "/api/v1/series?match[]={__name__=~%22imp_.*%22}", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[{\"__name__\":\"imp_a\",\"x\":\"1\"},"
                         "{\"__name__\":\"imp_a\",\"x\":\"2\"},{\"__name__\":\"imp_b\"}]}");
  free(b);

  /* gzip */
  lk_buf gz = {0};
  gzip_buf("imp_gz{a=\"b\"} 42 5000\n", &gz);
  const char *ge[] = {"Content-Encoding: gzip", NULL};
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", ge, gz.data, gz.len, &r), 0);
  expect_status(r, 200);
  lk_httpc_resp_fini(&r);
  /* truncated gzip */
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", ge, gz.data, gz.len - 6, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "gzip"));
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&gz);
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", "imp_gz"}};
  tsdb_result *res = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(f->db, m, 1, 0, 10000, NULL, &res, &d), 0);
  assert_int_equal(tsdb_result_count(res), 1);
  assert_true(tsdb_result_get(res, 0)->v[0] == 42);
  tsdb_result_free(res);

  /* a malformed line: 400 naming it; lines before it are stored, none after */
  const char *bad = "imp_c 1 1000\nimp_c 2 2000\nimp_c{x=\"1\" 3 3000\nimp_d 4 4000\n";
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, bad, strlen(bad), &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "line 3"));
  assert_non_null(strstr((char *)r.body.data, "2 samples from the lines before it were stored"));
  lk_httpc_resp_fini(&r);
  b = get_ok(f, "/api/v1/series?match[]=imp_d", 200);
  assert_string_equal(b, "{\"status\":\"success\",\"data\":[]}");
  free(b);
  const char *badlabel = "imp_e{bad-label=\"x\"} 1\n";
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, badlabel, strlen(badlabel), &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "line 1"));
  lk_httpc_resp_fini(&r);
  const char *brotli[] = {"Content-Encoding: br", NULL};
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", brotli, "x 1\n", 4, &r), 0);
  expect_status(r, 415);
  lk_httpc_resp_fini(&r);
}

/* Imports of several batches go through the storage thread: every sample
 * before a bad line is stored and counted, in order, none after it. */
static void test_import_pipelined(void **state)
{
  fx *f = *state;
  lk_buf text = {0};
  const int n = 50000; /* > 3 batches */
  for (int i = 0; i < n; i++)
    lk_buf_printf(&text, "imp_big{k=\"%d\"} %d %d\n", i % 7, i, 1000 + i);
  lk_httpc_resp r = {0};
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, text.data, text.len, &r), 0);
  expect_status(r, 200);
  assert_non_null(strstr((char *)r.body.data, "\"accepted\":50000"));
  assert_non_null(strstr((char *)r.body.data, "\"series\":7"));
  lk_httpc_resp_fini(&r);
  lk_buf_clear(&text);
  for (int i = 0; i < n; i++)
    lk_buf_printf(&text, "imp_big2 %d %d\n", i, 1000 + i);
  lk_buf_puts(&text, "imp_big2{ 1 99999999\nimp_big2 1 99999999\n");
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, text.data, text.len, &r), 0);
  expect_status(r, 400);
  assert_non_null(strstr((char *)r.body.data, "line 50001"));
  assert_non_null(strstr((char *)r.body.data, "50000 samples from the lines before it were stored"));
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&text);
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", "imp_big2"}};
  tsdb_result *res = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(f->db, m, 1, 0, INT64_MAX, NULL, &res, &d), 0);
  assert_int_equal(tsdb_result_count(res), 1);
  const tsdb_series *got = tsdb_result_get(res, 0);
  assert_int_equal(got->n, n);
  assert_int_equal(got->t[n - 1], 1000 + n - 1);
  assert_true(got->v[n - 1] == n - 1);
  tsdb_result_free(res);
}

/* Own fixture: "now" becomes the newest time, so retention (relative to the
 * newest sample) would drop the small timestamps the other tests use. */
static void test_import_now(void **state)
{
  fx *f = *state;
  lk_httpc_resp r = {0};
  tsdb_result *res = NULL;
  lk_diag d = {0};
  /* a sample without timestamp gets the request time */
  int64_t before = (int64_t)time(NULL) * 1000;
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, "imp_now 1\n", 10, &r), 0);
  expect_status(r, 200);
  lk_httpc_resp_fini(&r);
  tsdb_matcher mn[] = {{TSDB_EQ, "__name__", "imp_now"}};
  assert_int_equal(tsdb_select(f->db, mn, 1, 0, INT64_MAX, NULL, &res, &d), 0);
  assert_int_equal(tsdb_result_count(res), 1);
  assert_true(tsdb_result_get(res, 0)->t[0] >= before);
  assert_true(tsdb_result_get(res, 0)->t[0] <= (int64_t)time(NULL) * 1000 + 1000);
  tsdb_result_free(res);
}

/* Import a sample of qc_a at t ms with value v. */
static void import_qc(fx *f, int64_t t, double v)
{
  char line[128];
  int n = snprintf(line, sizeof line, "qc_a{x=\"1\"} %g %lld\n", v, (long long)t);
  lk_httpc_resp r = {0};
  assert_int_equal(req(f, "POST", "/api/v1/import/prometheus", NULL, line, (size_t)n, &r), 0);
  expect_status(r, 200);
  assert_non_null(strstr((char *)r.body.data, "\"accepted\":1"));
  lk_httpc_resp_fini(&r);
}

/* With the server's result cache: samples imported after a range leave the
 * cached answer as it was; an out-of-order sample imported inside it (a
 * backfill) is in the next answer. */
static void test_query_cache_sees_backfill(void **state)
{
  (void)state;
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  web_opts wo = {.query_cache = c};
  tsdb_opts to = {.ooo_window_ms = 86400000};
  fx *f = web_fx_start_tsdb("/tmp/lk_api_qc_XXXXXX", wo, NULL, &to);
  assert_non_null(f);
  for (int64_t t = 15000; t <= 600000; t += 15000)
    import_qc(f, t, 1);
  const char *path = "/api/v1/query_range?query=sum_over_time(qc_a[1m])&start=60&end=600&step=60";
  char *before = get_ok(f, path, 200);
  assert_non_null(strstr(before, "[360,\"4\"]"));
  import_qc(f, 615000, 1); /* after the range */
  char *same = get_ok(f, path, 200);
  assert_string_equal(same, before);
  import_qc(f, 307000, 100); /* inside it, out of order */
  char *after = get_ok(f, path, 200);
  assert_non_null(strstr(after, "[360,\"104\"]"));
  assert_non_null(strstr(after, "[300,\"4\"]"));
  free(before);
  free(same);
  free(after);
  assert_int_equal(web_fx_stop(f), 0);
  promql_cache_free(c);
}

static void test_meta_errors_and_misc(void **state)
{
  fx *f = *state;
  char *b = get_ok(f, "/api/v1/series", 400);
  assert_string_equal(b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"no match[] parameter provided\"}");
  free(b);
  b = get_ok(f, "/api/v1/series?match[]=up{", 400);
  assert_non_null(strstr(b, "invalid parameter \\\"match[]\\\": 1:4: parse error"));
  free(b);
  b = get_ok(f, "/api/v1/labels?start=abc", 400);
  assert_non_null(strstr(b, "invalid parameter \\\"start\\\""));
  free(b);
  b = get_ok(f, "/api/v1/labels?start=100&end=50", 400);
  assert_non_null(strstr(b, "end timestamp must not be before start time"));
  free(b);
  b = get_ok(f, "/api/v1/label/job/nope", 404);
  free(b);
  b = get_ok(f, "/api/v1/status/tsdb", 200);
  assert_non_null(strstr(b, "\"headStats\":{\"numSeries\":"));
  assert_non_null(strstr(b, "\"seriesCountByMetricName\":["));
  free(b);
  b = get_ok(f, "/-/healthy", 200);
  free(b);
  b = get_ok(f, "/-/ready", 200);
  free(b);
  b = get_ok(f, "/metrics", 200);
  assert_non_null(strstr(b, "# TYPE lookout_samples_ingested_total counter"));
  assert_non_null(strstr(b, "lookout_http_requests_total{code=\"200\", handler=\"/-/healthy\"} 1"));
  assert_non_null(strstr(b, "process_resident_memory_bytes "));
  const char *inuse = strstr(b, "\nlookout_malloc_in_use_bytes ");
  assert_non_null(inuse);
  double inuse_bytes = strtod(inuse + strlen("\nlookout_malloc_in_use_bytes "), NULL);
  struct mallinfo2 mi = mallinfo2(); /* zero under a sanitizer's allocator (ASan, TSan) */
  if (mi.uordblks + mi.hblkhd > 0)
    assert_true(inuse_bytes > 4096);
  else
    assert_true(inuse_bytes == 0);
  free(b);
  /* POST form for series, as client_golang may send it */
  const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
  const char *body = "match%5B%5D=rw_metric%7Bjob%3D%22a%22%7D";
  lk_httpc_resp r = {0};
  assert_int_equal(req(f, "POST", "/api/v1/series", form, body, strlen(body), &r), 0);
  expect_status(r, 200);
  assert_string_equal((char *)r.body.data, "{\"status\":\"success\",\"data\":[{\"__name__\":\"rw_metric\",\"job\":\"a\"}]}");
  lk_httpc_resp_fini(&r);
  assert_int_equal(req(f, "POST", "/api/v1/admin/flush", NULL, "", 0, &r), 0);
  expect_status(r, 204);
  lk_httpc_resp_fini(&r);
  /* data survives the flush into blocks */
  b = get_ok(f, "/api/v1/series?match[]=rw_metric", 200);
  assert_non_null(strstr(b, "\"job\":\"b\""));
  free(b);
  assert_int_equal(req(f, "DELETE", "/api/v1/series", NULL, NULL, 0, &r), 0);
  expect_status(r, 405);
  lk_httpc_resp_fini(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_write_and_read),
    cmocka_unit_test(test_write_rejects),
    cmocka_unit_test(test_write_cached_series),
    cmocka_unit_test(test_import),
    cmocka_unit_test(test_import_pipelined),
    cmocka_unit_test(test_meta_errors_and_misc),
    cmocka_unit_test_setup_teardown(test_import_now, setup, teardown),
    cmocka_unit_test(test_query_cache_sees_backfill),
    cmocka_unit_test_setup_teardown(test_write_native_histograms, setup, teardown),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
