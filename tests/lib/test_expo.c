/* test_expo.c — text exposition (lib/lk_expo*.c, lib/lk_float.c, lib/lk_gzip.c):
 * every syntax feature, chunk splits at every byte, each malformed line kind
 * with its line number, series text parsing, exact float parsing against
 * strtod, the writer, streaming gunzip, guard pages and a mutation fuzz. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/lk_expo.h"
#include "lib/lk_expo_int.h"
#include "lib/lk_gzip.h"
#include "tests/lib/guard.h"

/*---- a collecting consumer ----*/

typedef struct got_sample {
  char series[256];
  uint64_t vbits;
  int64_t t;
  int has_t, type;
  uint64_t line;
} got_sample;

typedef struct collector {
  got_sample s[64];
  size_t n;
  int validate;     /* run lk_expo_parse_series on each series, as the import path does */
  lk_diag *diag;    /* where a series error is reported */
  lk_arena *arena;
} collector;

static uint64_t bits_of(double v)
{
  uint64_t b;
  memcpy(&b, &v, 8);
  return b;
}

static int collect(void *ctx, const lk_expo_sample *s)
{
  collector *c = ctx;
  if (c->validate) {
    lk_label *ls;
    size_t n;
    lk_diag d = {0};
    int rc = lk_expo_parse_series(s->series, s->series_len, c->arena, &ls, &n, &d);
    if (rc)
      return lk_diag_set(c->diag, rc, -1, "line %llu: %s", (unsigned long long)s->line, d.msg);
  }
  if (c->n < sizeof c->s / sizeof *c->s) {
    got_sample *g = &c->s[c->n];
    snprintf(g->series, sizeof g->series, "%.*s", (int)s->series_len, s->series);
    g->vbits = bits_of(s->value);
    g->t = s->t_ms;
    g->has_t = s->has_t;
    g->type = s->type;
    g->line = s->line;
  }
  c->n++;
  return 0;
}

/* Parse `text` fed in pieces of `chunk` bytes (0 = all at once). */
static int parse_all(const char *text, size_t chunk, int om, collector *c, lk_diag *d)
{
  lk_expo *p = lk_expo_new(collect, c, 512);
  lk_expo_set_openmetrics(p, om);
  size_t len = strlen(text);
  int rc = 0;
  for (size_t off = 0; off < len && !rc;) {
    size_t k = chunk && len - off > chunk ? chunk : len - off;
    rc = lk_expo_feed(p, (const uint8_t *)text + off, k, d);
    off += k;
  }
  if (!rc)
    rc = lk_expo_finish(p, d);
  lk_expo_free(p);
  return rc;
}

static const char features[] =
  "# HELP http_requests_total The total \\\\ number\\n of requests.\n"
  "# TYPE http_requests_total counter\n"
  "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
  "http_requests_total{method=\"post\",code=\"400\",}    3   1395066363000\n"
  "\n"
  "   \t\n"
  "# a free comment\n"
  "#HELP-less comment\n"
  "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\r\n"
  "metric_without_timestamp_and_labels 12.47\n"
  "\tsomething_weird{problem=\"division by zero\"} +Inf -3982045\n"
  "# TYPE rpc_duration_seconds summary\n"
  "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
  "rpc_duration_seconds_sum 1.7560473e+07\n"
  "rpc_duration_seconds_count 2693\n"
  "nan_value NaN\n"
  "neg_inf -Inf 0\n"
  "empty_braces{} 0x1p-2\n"
  "spaced {a=\"x y\" , b = \"}\"} 5 6\n"
  "{\"utf8.name\",\"label.x\"=\"v\"} 1\n"
  "last_line_without_newline 7 8";

static void test_features(void **state)
{
  (void)state;
  collector c = {.n = 0};
  lk_diag d = {0};
  assert_int_equal(parse_all(features, 0, 0, &c, &d), 0);
  assert_int_equal(c.n, 14);
  const struct {
    const char *series;
    double v;
    int64_t t;
    int has_t, type;
    uint64_t line;
  } want[] = {
    {"http_requests_total{method=\"post\",code=\"200\"}", 1027, 1395066363000, 1, LK_EXPO_COUNTER, 3},
    {"http_requests_total{method=\"post\",code=\"400\",}", 3, 1395066363000, 1, LK_EXPO_COUNTER, 4},
    {"msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"}",
     1.458255915e9, 0, 0, LK_EXPO_UNTYPED, 9},
    {"metric_without_timestamp_and_labels", 12.47, 0, 0, LK_EXPO_UNTYPED, 10},
    {"something_weird{problem=\"division by zero\"}", INFINITY, -3982045, 1, LK_EXPO_UNTYPED, 11},
    {"rpc_duration_seconds{quantile=\"0.01\"}", 3102, 0, 0, LK_EXPO_SUMMARY, 13},
    {"rpc_duration_seconds_sum", 1.7560473e+07, 0, 0, LK_EXPO_SUMMARY, 14},
    {"rpc_duration_seconds_count", 2693, 0, 0, LK_EXPO_SUMMARY, 15},
    {"nan_value", 0, 0, 0, LK_EXPO_UNTYPED, 16},
    {"neg_inf", -INFINITY, 0, 1, LK_EXPO_UNTYPED, 17},
    {"empty_braces{}", 0.25, 0, 0, LK_EXPO_UNTYPED, 18},
    {"spaced {a=\"x y\" , b = \"}\"}", 5, 6, 1, LK_EXPO_UNTYPED, 19},
    {"{\"utf8.name\",\"label.x\"=\"v\"}", 1, 0, 0, LK_EXPO_UNTYPED, 20},
    {"last_line_without_newline", 7, 8, 1, LK_EXPO_UNTYPED, 21},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    assert_string_equal(c.s[i].series, want[i].series);
    if (i == 8)
      assert_int_equal(c.s[i].vbits, 0x7ff8000000000001ull); /* Go's NaN */
    else
      assert_int_equal(c.s[i].vbits, bits_of(want[i].v));
    assert_int_equal(c.s[i].has_t, want[i].has_t);
    if (want[i].has_t)
      assert_int_equal(c.s[i].t, want[i].t);
    assert_int_equal(c.s[i].type, want[i].type);
    assert_int_equal(c.s[i].line, want[i].line);
  }
}

/* The same result whatever the chunking: 2 pieces split at every byte, and 1..7-byte pieces. */
static void test_chunk_splits(void **state)
{
  (void)state;
  collector whole = {.n = 0};
  assert_int_equal(parse_all(features, 0, 0, &whole, NULL), 0);
  size_t len = strlen(features);
  for (size_t cut = 0; cut <= len; cut++) {
    collector c = {.n = 0};
    lk_expo *p = lk_expo_new(collect, &c, 512);
    assert_int_equal(lk_expo_feed(p, (const uint8_t *)features, cut, NULL), 0);
    assert_int_equal(lk_expo_feed(p, (const uint8_t *)features + cut, len - cut, NULL), 0);
    assert_int_equal(lk_expo_finish(p, NULL), 0);
    assert_int_equal(lk_expo_lines(p), 21);
    lk_expo_free(p);
    assert_int_equal(c.n, whole.n);
    assert_memory_equal(c.s, whole.s, whole.n * sizeof *c.s);
  }
  for (size_t chunk = 1; chunk < 8; chunk++) {
    collector c = {.n = 0};
    assert_int_equal(parse_all(features, chunk, 0, &c, NULL), 0);
    assert_memory_equal(c.s, whole.s, whole.n * sizeof *c.s);
  }
}

/* Each malformed line kind, as line 3 after two good lines, under several chunkings. */
static void test_malformed_lines(void **state)
{
  (void)state;
  const struct {
    const char *line;
    int code;
    const char *msg;
  } cases[] = {
    {"novalue", LK_EPARSE, "missing value"},
    {"novalue{a=\"b\"}", LK_EPARSE, "missing value"},
    {"m 1.2.3", LK_EPARSE, "invalid value"},
    {"m abc", LK_EPARSE, "invalid value"},
    {"m 1e400", LK_EPARSE, "invalid value"},
    {"m +NaN", LK_EPARSE, "invalid value"},
    {"m 0x1", LK_EPARSE, "invalid value"},
    {"m 1_000", LK_EPARSE, "invalid value"},
    {"m{a=\"b\"} 1 1.5", LK_EPARSE, "invalid timestamp"},
    {"m{a=\"b\"} 1 99999999999999999999", LK_EPARSE, "invalid timestamp"},
    {"m 1 2 3", LK_EPARSE, "bad series"},
    {"m{a=\"b\"} 1 2 junk", LK_EPARSE, "bad series"},
    {"m{a=\"b\"}1", LK_EPARSE, "missing value"},
    {"m{a=\"b\"} 1 2 # {x=\"y\"} 1", LK_EPARSE, "bad series"},
    {"m{a=\"b} 1", LK_EPARSE, "bad series"},
    {"m{a=b} 1", LK_EPARSE, "bad series"},
    {"m{9a=\"b\"} 1", LK_EPARSE, "bad series"},
    {"m{a=\"1\",a=\"2\"} 1", LK_EPARSE, "bad series"},
    {"m{a=\"\xff\"} 1", LK_EPARSE, "bad series"},
    {"9m 1", LK_EPARSE, "bad series"},
    {"m-x 1", LK_EPARSE, "bad series"},
    {"{a=\"b\"} 1", LK_EPARSE, "bad series"},
    {"# TYPE m countr", LK_EPARSE, "invalid metric type"},
    {"# TYPE m", LK_EPARSE, "invalid metric type"},
    {"# TYPE", LK_EPARSE, "missing metric name"},
    {"# HELP 9m text", LK_EPARSE, "invalid metric name"},
    {"# HELP m bad \xc3\x28 utf8", LK_EPARSE, "invalid UTF-8"},
    {"# UNIT m two words", LK_EPARSE, "invalid unit"},
    {"m 1 xx\xff", LK_EPARSE, "invalid timestamp"},
    {NULL, LK_ELIMIT, "longer than 512 bytes"}, /* 600 bytes */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[1024], longline[601];
    memset(longline, 'x', 600);
    longline[600] = 0;
    const char *line = cases[i].line ? cases[i].line : longline;
    snprintf(text, sizeof text, "good 1\n# TYPE good gauge\n%s\nafter 2\n", line);
    for (size_t chunk = 0; chunk < 4; chunk++) {
      lk_arena *a = lk_arena_new(1024);
      lk_diag d = {0};
      collector c = {.validate = 1, .diag = &d, .arena = a};
      int rc = parse_all(text, chunk * 5, 0, &c, &d);
      if (rc != cases[i].code || !strstr(d.msg, "line 3: ") ||
          (strcmp(cases[i].msg, "bad series") && !strstr(d.msg, cases[i].msg)))
        fail_msg("case %zu (%s): rc %d, diag \"%s\"", i, line, rc, d.msg);
      assert_int_equal(c.n, 1); /* only the good line was delivered */
      lk_arena_free(a);
    }
  }
}

static void test_errors_are_sticky_and_stop(void **state)
{
  (void)state;
  collector c = {.n = 0};
  lk_expo *p = lk_expo_new(collect, &c, 0);
  lk_diag d = {0};
  assert_int_equal(lk_expo_feed(p, (const uint8_t *)"a 1\nb x\n", 8, &d), LK_EPARSE);
  assert_string_equal(d.msg, "line 2: invalid value");
  assert_int_equal(d.offset, 4);
  lk_diag d2 = {0};
  assert_int_equal(lk_expo_feed(p, (const uint8_t *)"c 1\n", 4, &d2), LK_EPARSE);
  assert_string_equal(d2.msg, "line 2: invalid value");
  assert_int_equal(lk_expo_finish(p, NULL), LK_EPARSE);
  assert_int_equal(c.n, 1);
  lk_expo_free(p);
  lk_expo_free(NULL);
}

static int stop_at_second(void *ctx, const lk_expo_sample *s)
{
  (void)s;
  return ++*(int *)ctx == 2 ? 1 : 0;
}

static int fail_with_code(void *ctx, const lk_expo_sample *s)
{
  (void)ctx;
  (void)s;
  return LK_ELIMIT;
}

static void test_callback_stops(void **state)
{
  (void)state;
  int count = 0;
  lk_expo *p = lk_expo_new(stop_at_second, &count, 0);
  assert_int_equal(lk_expo_feed(p, (const uint8_t *)"a 1\nb 2\nc 3\n", 12, NULL), LK_ECANCELED);
  assert_int_equal(count, 2);
  lk_expo_free(p);
  p = lk_expo_new(fail_with_code, NULL, 0);
  assert_int_equal(lk_expo_feed(p, (const uint8_t *)"a 1", 3, NULL), 0);
  assert_int_equal(lk_expo_finish(p, NULL), LK_ELIMIT);
  lk_expo_free(p);
}

static void test_openmetrics(void **state)
{
  (void)state;
  const char *text = "# TYPE foo counter\n"
                     "# UNIT foo seconds\n"
                     "# HELP foo Help \\\"quoted\\\".\n"
                     "foo_total{a=\"1 2\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879602.3\n"
                     "foo_created 1520872607.123\n"
                     "# TYPE bar info\n"
                     "bar_info{v=\"1\"} 1 # {} 1\n"
                     "# EOF\n";
  collector c = {.n = 0};
  lk_diag d = {0};
  assert_int_equal(parse_all(text, 0, 1, &c, &d), 0);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.s[0].series, "foo_total{a=\"1 2\"}");
  assert_int_equal(c.s[0].t, 1520879607789);
  assert_int_equal(c.s[0].type, LK_EXPO_COUNTER);
  assert_int_equal(c.s[1].type, LK_EXPO_COUNTER);
  assert_int_equal(c.s[2].type, LK_EXPO_INFO);
  assert_int_equal(c.s[2].has_t, 0);

  const char *after_eof = "a 1\n# EOF\n\nb 2\n";
  memset(&c, 0, sizeof c);
  assert_int_equal(parse_all(after_eof, 0, 1, &c, &d), LK_EPARSE);
  assert_non_null(strstr(d.msg, "line 4: data after # EOF"));
  /* in 0.0.4 mode `# EOF` is only a comment */
  memset(&c, 0, sizeof c);
  assert_int_equal(parse_all(after_eof, 0, 0, &c, NULL), 0);
  assert_int_equal(c.n, 2);
  /* broken exemplars */
  memset(&d, 0, sizeof d);
  assert_int_equal(parse_all("a 1 # {x=\"y\"}\n", 0, 1, &c, &d), LK_EPARSE);
  assert_non_null(strstr(d.msg, "line 1: unexpected text"));
  memset(&d, 0, sizeof d);
  assert_int_equal(parse_all("a{x=\"1\" 1\n", 0, 1, &c, &d), LK_EPARSE);
  assert_non_null(strstr(d.msg, "unterminated label set"));
  memset(&d, 0, sizeof d);
  assert_int_equal(parse_all("a 1\na{x=\"1\"}1\n", 0, 1, &c, &d), LK_EPARSE);
  assert_string_equal(d.msg, "line 2: missing value");
  memset(&d, 0, sizeof d);
  assert_int_equal(parse_all("a 1 2 3\n", 0, 1, &c, &d), LK_EPARSE);
  assert_string_equal(d.msg, "line 1: unexpected text after the sample");
}

/*---- series text ----*/

static void expect_labels(const char *text, const char *formatted)
{
  lk_arena *a = lk_arena_new(1024);
  lk_label *ls;
  size_t n;
  lk_diag d = {0};
  int rc = lk_expo_parse_series(text, strlen(text), a, &ls, &n, &d);
  if (rc)
    fail_msg("%s: %s", text, d.msg);
  lk_buf b = {0};
  for (size_t i = 0; i < n; i++)
    lk_buf_printf(&b, "%s%s=%s", i ? "|" : "", ls[i].name, ls[i].value);
  assert_string_equal((char *)b.data, formatted);
  lk_buf_fini(&b);
  lk_arena_free(a);
}

static void expect_series_error(const char *text, const char *msg)
{
  lk_arena *a = lk_arena_new(1024);
  lk_label *ls = NULL;
  size_t n = 42;
  lk_diag d = {0};
  assert_int_equal(lk_expo_parse_series(text, strlen(text), a, &ls, &n, &d), LK_EPARSE);
  if (!strstr(d.msg, msg))
    fail_msg("%s: got \"%s\", want \"%s\"", text, d.msg, msg);
  assert_null(ls);
  assert_int_equal(n, 42);
  lk_arena_free(a);
}

static void test_parse_series(void **state)
{
  (void)state;
  expect_labels("up", "__name__=up");
  expect_labels("up{}", "__name__=up");
  expect_labels("a:b_c{z=\"1\",b=\"2\",}", "__name__=a:b_c|b=2|z=1");
  expect_labels("m {a = \"x\" ,\tb=\"y\"\t}", "__name__=m|a=x|b=y");
  expect_labels("m{v=\"q\\\"\\\\\\n\\t\"}", "__name__=m|v=q\"\\\n\\t");
  expect_labels("m{empty=\"\",x=\"1\"}", "__name__=m|x=1");
  expect_labels("{\"my.metric\",\"la.bel\"=\"ü\"}", "__name__=my.metric|la.bel=ü");
  expect_labels("{__name__=\"viaLabel\",a=\"1\"}", "__name__=viaLabel|a=1");
  expect_labels("{a=\"1\",\"late.name\"}", "__name__=late.name|a=1");
  expect_series_error("", "missing metric name");
  expect_series_error("{a=\"1\"}", "missing metric name");
  expect_series_error("{__name__=\"\"}", "missing metric name");
  expect_series_error("1m", "invalid metric name");
  expect_series_error("m.x", "invalid metric name");
  expect_series_error("m x", "invalid metric name");
  expect_series_error(" m", "invalid metric name");
  expect_series_error("m{a=\"1\"} ", "unexpected text after '}'");
  expect_series_error("m{a=\"1\"}x", "unexpected text after '}'");
  expect_series_error("m{a=\"1\"", "unterminated label set");
  expect_series_error("m{a=\"1", "unterminated quoted string");
  expect_series_error("m{a=\"1\\\"}", "unterminated quoted string");
  expect_series_error("m{a}", "expected '=' after label name");
  expect_series_error("m{a=1}", "expected a quoted label value");
  expect_series_error("m{a=\"1\" b=\"2\"}", "expected ',' or '}'");
  expect_series_error("m{,}", "invalid label name");
  expect_series_error("m{1a=\"x\"}", "invalid label name");
  expect_series_error("m{a=\"1\",a=\"2\"}", "duplicate label \"a\"");
  expect_series_error("m{__name__=\"m\"}", "metric name given twice");
  expect_series_error("m{\"other\"}", "metric name given twice");
  expect_series_error("m{a=\"\xe2\x82\"}", "invalid UTF-8");
  expect_series_error("m{\"\"=\"x\"}", "empty quoted name");
}

/*---- floats ----*/

static void test_go_float_syntax(void **state)
{
  (void)state;
  const struct {
    const char *s;
    double v;
  } ok[] = {
    {"0", 0},         {"-0", -0.0},          {"+1", 1},          {"1.", 1},
    {".5", 0.5},      {"1e3", 1000},         {"1E-3", 0.001},    {"-1.5e+2", -150},
    {"Inf", INFINITY}, {"+inf", INFINITY},   {"-INF", -INFINITY}, {"infinity", INFINITY},
    {"-Infinity", -INFINITY}, {"0x1p-2", 0.25}, {"0X1.8P1", 3},  {"-0x10p0", -16},
    {"1e-400", 0},    {"123456789012345678901234567890", 123456789012345678901234567890.0},
    {"9007199254740993", 9007199254740992.0}, {"0.1", 0.1}, {"3.0e22", 3e22},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    double v = 12345;
    if (lk_parse_go_float(ok[i].s, strlen(ok[i].s), &v))
      fail_msg("rejected %s", ok[i].s);
    assert_int_equal(bits_of(v), bits_of(ok[i].v));
  }
  double v;
  assert_int_equal(lk_parse_go_float("nan", 3, &v), 0);
  assert_int_equal(bits_of(v), 0x7ff8000000000001ull);
  const char *bad[] = {"", "+", "-", ".", "e5", "1e", "1e+", "1..2", "1.2.3", "0x", "0x1",
                       "0x1.p", "0xg1p1", "+nan", "-NaN", "nana", "infinit", "1e309",
                       "-1e309", "1_0", " 1", "1 ", "0x1p1x", "1f", "--1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (lk_parse_go_float(bad[i], strlen(bad[i]), &v) != LK_EPARSE)
      fail_msg("accepted \"%s\"", bad[i]);
}

/* Random decimals of every shape: bit-identical to strtod (fast and slow paths). */
static void test_go_float_exact(void **state)
{
  (void)state;
  uint64_t seed = 42;
  char s[64];
  for (int i = 0; i < 200000; i++) {
    uint64_t r = test_rand(&seed);
    int digits = 1 + (int)(r % 22), point = (int)((r >> 8) % (unsigned)(digits + 1));
    size_t k = 0;
    if (r & (1u << 20))
      s[k++] = '-';
    for (int j = 0; j < digits; j++) {
      if (j == point && (r & (1u << 21)))
        s[k++] = '.';
      s[k++] = (char)('0' + test_rand(&seed) % 10);
    }
    if (r & (1u << 22))
      k += (size_t)snprintf(s + k, sizeof s - k, "e%d", (int)((r >> 32) % 80) - 40);
    s[k] = 0;
    double want = strtod(s, NULL), got;
    assert_int_equal(lk_parse_go_float(s, k, &got), 0);
    if (bits_of(got) != bits_of(want))
      fail_msg("%s: got %.17g want %.17g", s, got, want);
  }
}

/* Millisecond timestamps around the digit counts where parse_int64 switches
 * from its unchecked loop (≤ 18 digits) to the overflow-checked one. */
static void test_timestamp_bounds(void **state)
{
  (void)state;
  const struct {
    const char *ts;
    int ok;
    int64_t want;
  } cases[] = {
    {"1699920000452", 1, 1699920000452},
    {"999999999999999999", 1, 999999999999999999},
    {"-999999999999999999", 1, -999999999999999999},
    {"9223372036854775807", 1, INT64_MAX},
    {"-9223372036854775808", 1, INT64_MIN},
    {"+0000000000000000001", 1, 1},
    {"00000000000000000000000042", 1, 42},
    {"9223372036854775808", 0, 0},
    {"-9223372036854775809", 0, 0},
    {"10000000000000000000", 0, 0},
    {"12345678901234567a", 0, 0},
    {"1234567890123456789a", 0, 0},
    {"-", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[128];
    snprintf(text, sizeof text, "m 1 %s\n", cases[i].ts);
    lk_diag d = {0};
    collector c = {0};
    int rc = parse_all(text, 0, 0, &c, &d);
    if (cases[i].ok && (rc || c.n != 1 || !c.s[0].has_t || c.s[0].t != cases[i].want))
      fail_msg("%s: rc %d n %zu t %lld", cases[i].ts, rc, c.n, (long long)c.s[0].t);
    if (!cases[i].ok && (rc != LK_EPARSE || c.n || !strstr(d.msg, "invalid timestamp")))
      fail_msg("%s accepted (rc %d, diag \"%s\")", cases[i].ts, rc, d.msg);
  }
}

/* lk__eight_digits: every run of 8 digits gives its number; one byte that
 * is not a digit (just below or above '0'..'9', high bytes that carry) at
 * any position gives 0. */
static void test_eight_digits(void **state)
{
  (void)state;
  uint64_t seed = 7;
  const unsigned char odd[] = {'/', ':', 0, ' ', '.', 'e', 0x80, 0xf9, 0xfa, 0xff, 0x3f, 0x40, 0x29};
  for (int it = 0; it < 20000; it++) {
    char p[8];
    uint64_t want = 0, got = 0;
    for (int i = 0; i < 8; i++) {
      p[i] = (char)('0' + test_rand(&seed) % 10);
      want = want * 10 + (uint64_t)(p[i] - '0');
    }
    assert_int_equal(lk__eight_digits(p, &got), 1);
    assert_int_equal(got, want);
    p[test_rand(&seed) % 8] = (char)odd[test_rand(&seed) % sizeof odd];
    assert_int_equal(lk__eight_digits(p, &got), 0);
  }
}

/* Random timestamps of 1 to 18 digits, signed or not: as strtoll. */
static void test_timestamp_random(void **state)
{
  (void)state;
  uint64_t seed = 11;
  for (int it = 0; it < 20000; it++) {
    char ts[32], text[64];
    uint64_t r = test_rand(&seed);
    int digits = 1 + (int)(r % 18); /* 19 digits: test_timestamp_bounds */
    size_t k = 0;
    if (r & 64)
      ts[k++] = r & 128 ? '-' : '+';
    for (int i = 0; i < digits; i++)
      ts[k++] = (char)('0' + test_rand(&seed) % 10);
    ts[k] = 0;
    snprintf(text, sizeof text, "m 1 %s\n", ts);
    lk_diag d = {0};
    collector c = {0};
    if (parse_all(text, 0, 0, &c, &d) || c.n != 1 || c.s[0].t != strtoll(ts, NULL, 10))
      fail_msg("%s: got %lld (%zu samples, diag \"%s\")", ts, (long long)c.s[0].t, c.n, d.msg);
  }
}

/* Sample lines with random runs of spaces and tabs around tokens of every
 * length (and blanks inside label values): series, value and timestamp
 * split where the blanks are. */
static void test_blank_runs(void **state)
{
  (void)state;
  uint64_t seed = 23;
  const char blank[] = {' ', '\t'};
  for (int it = 0; it < 20000; it++) {
    char text[256], series[64], val[32], ts[32];
    uint64_t r = test_rand(&seed);
    int nv = 1 + (int)(r % 17), nt = 1 + (int)((r >> 8) % 18), has_t = (int)(r >> 16) & 1;
    snprintf(series, sizeof series, r >> 17 & 1 ? "m{a=\"x \t y\"}" : "metric_%d", (int)(r >> 20) % 100);
    for (int i = 0; i < nv; i++)
      val[i] = (char)('1' + test_rand(&seed) % 9);
    val[nv] = 0;
    for (int i = 0; i < nt; i++)
      ts[i] = (char)('1' + test_rand(&seed) % 9);
    ts[nt] = 0;
    size_t k = (size_t)snprintf(text, sizeof text, "%s", series);
    for (int part = 0; part < 2 + has_t; part++) {
      int nb = 1 + (int)(test_rand(&seed) % 10);
      for (int i = 0; i < nb; i++)
        text[k++] = blank[test_rand(&seed) % 2];
      if (part < 1 + has_t)
        k += (size_t)snprintf(text + k, sizeof text - k, "%s", part == 0 ? val : ts);
    }
    text[k++] = '\n';
    text[k] = 0;
    lk_diag d = {0};
    collector c = {0};
    if (parse_all(text, 0, 0, &c, &d) || c.n != 1)
      fail_msg("%s: %s", text, d.msg);
    assert_string_equal(c.s[0].series, series);
    assert_int_equal(c.s[0].vbits, bits_of(strtod(val, NULL)));
    assert_int_equal(c.s[0].has_t, has_t);
    if (has_t)
      assert_int_equal(c.s[0].t, strtoll(ts, NULL, 10));
  }
}

/* The plain-decimal path's edges: 19 and 20 digits, 2^53 and 2^53 + 1,
 * 22 and 23 fraction digits, leading or trailing points, exponents at and
 * past ±22 or with many digits: as strtod. */
static void test_go_float_plain_edges(void **state)
{
  (void)state;
  const char *cases[] = {
    "9007199254740992", "9007199254740993", "9007199254740992.0", "900719925474099.3",
    "1234567890123456789", "12345678901234567890", "0.1234567890123456789", "0.0000000000000000000001",
    "0.00000000000000000000001", "5.", ".5", "-.5", "-0.0", "0", "000000000000000000000.5",
    "20.272042784", "18446744073709551621", "1e5", "1.5E-3", "+3.25", "18446744073709551616.5",
    "1.23456789e+09", "9.007199254740993e+15", "1e22", "1e23", "1e-22", "1e-23", "0e400",
    "123456789012345678e-5", "1E+0005", "1e00000000001", "4.2e-0000000000000000000001", "5.e3",
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    double got, want = strtod(cases[i], NULL);
    assert_int_equal(lk_parse_go_float(cases[i], strlen(cases[i]), &got), 0);
    if (bits_of(got) != bits_of(want))
      fail_msg("%s: got %.17g want %.17g", cases[i], got, want);
  }
  const char *bad[] = {".", "-.", "1..2", "1.2.", "..5", "1 ", "1.-2", "1e", "1e+", "1e5.", "1.5e-3x", "e5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    double v;
    if (lk_parse_go_float(bad[i], strlen(bad[i]), &v) != LK_EPARSE)
      fail_msg("accepted \"%s\"", bad[i]);
  }
}

/*---- writer ----*/

static void test_writer(void **state)
{
  (void)state;
  const struct {
    double v;
    const char *s;
  } cases[] = {
    {0, "0"},           {1, "1"},           {-1, "-1"},         {0.1, "0.1"},
    {100000, "100000"}, {1e6, "1e+06"},     {1234567, "1.234567e+06"}, {0.0001, "0.0001"},
    {0.00001, "1e-05"}, {123.456, "123.456"}, {NAN, "NaN"},     {INFINITY, "+Inf"},
    {-INFINITY, "-Inf"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
    {5e-324, "5e-324"},  {1.5e-7, "1.5e-07"}, {-2.5, "-2.5"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    lk_buf b = {0};
    lk_expo_write_value(&b, cases[i].v);
    assert_string_equal((char *)b.data, cases[i].s);
    lk_buf_fini(&b);
  }
  lk_buf b = {0};
  const lk_label ls[] = {{"__name__", "m"}, {"a", "q\"\\\nz"}, {"b", ""}};
  lk_expo_write_help(&b, "m", "line1\nback\\slash");
  lk_expo_write_type(&b, "m", LK_EXPO_GAUGE);
  lk_expo_write_sample(&b, NULL, ls, 3, 0.5, -7, 1);
  lk_expo_write_sample(&b, "bare", NULL, 0, 2, 0, 0);
  assert_string_equal((char *)b.data, "# HELP m line1\\nback\\\\slash\n"
                                      "# TYPE m gauge\n"
                                      "m{a=\"q\\\"\\\\\\nz\",b=\"\"} 0.5 -7\n"
                                      "bare 2\n");
  /* and it parses back */
  lk_arena *a = lk_arena_new(1024);
  lk_diag d = {0};
  collector c = {.validate = 1, .diag = &d, .arena = a};
  assert_int_equal(parse_all((char *)b.data, 0, 0, &c, &d), 0);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.s[0].type, LK_EXPO_GAUGE);
  assert_int_equal(c.s[0].t, -7);
  lk_arena_free(a);
  lk_buf_fini(&b);
}

/*---- gzip ----*/

static void gzip_into(const void *p, size_t n, lk_buf *out)
{
  z_stream zs = {0};
  assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  lk_buf_reserve(out, deflateBound(&zs, n));
  zs.next_in = (Bytef *)p;
  zs.avail_in = (uInt)n;
  zs.next_out = out->data + out->len;
  zs.avail_out = (uInt)(out->cap - out->len);
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out->len += zs.total_out;
  deflateEnd(&zs);
}

static int sink_to_buf(void *ctx, const uint8_t *p, size_t n)
{
  lk_buf_append(ctx, p, n);
  return 0;
}

static void test_gunzip(void **state)
{
  (void)state;
  lk_buf plain = {0}, gz = {0}, out = {0};
  for (int i = 0; i < 50000; i++)
    lk_buf_printf(&plain, "metric_%d{i=\"%d\"} %d\n", i % 13, i, i);
  gzip_into(plain.data, plain.len, &gz);
  size_t first = gz.len;
  gzip_into("tail 1\n", 7, &gz); /* a second member */
  for (size_t chunk = 1; chunk <= 4096; chunk *= 8) {
    lk_buf_clear(&out);
    lk_gunzip *z = lk_gunzip_new(0, sink_to_buf, &out);
    for (size_t off = 0; off < gz.len; off += chunk)
      assert_int_equal(lk_gunzip_feed(z, gz.data + off, gz.len - off < chunk ? gz.len - off : chunk, NULL), 0);
    assert_int_equal(lk_gunzip_finish(z, NULL), 0);
    assert_int_equal(lk_gunzip_total_out(z), plain.len + 7);
    lk_gunzip_free(z);
    assert_int_equal(out.len, plain.len + 7);
    assert_memory_equal(out.data, plain.data, plain.len);
  }
  lk_diag d = {0};
  lk_gunzip *z = lk_gunzip_new(plain.len - 1, sink_to_buf, &out);
  assert_int_equal(lk_gunzip_feed(z, gz.data, first, &d), LK_ETOOBIG);
  assert_non_null(strstr(d.msg, "gzip: decompressed size exceeds"));
  lk_gunzip_free(z);
  z = lk_gunzip_new(0, sink_to_buf, &out);
  assert_int_equal(lk_gunzip_feed(z, gz.data, first / 2, NULL), 0);
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_gunzip_finish(z, &d), LK_ECORRUPT);
  assert_string_equal(d.msg, "gzip: truncated stream");
  lk_gunzip_free(z);
  z = lk_gunzip_new(0, sink_to_buf, &out);
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_gunzip_feed(z, plain.data, 100, &d), LK_ECORRUPT);
  assert_non_null(strstr(d.msg, "gzip: "));
  lk_gunzip_free(z);
  lk_gunzip_free(NULL);
  lk_buf_fini(&plain);
  lk_buf_fini(&gz);
  lk_buf_fini(&out);
}

/*---- guard pages and fuzz ----*/

static int validate_only(void *ctx, const lk_expo_sample *s)
{
  lk_label *ls;
  size_t n;
  lk_expo_parse_series(s->series, s->series_len, ctx, &ls, &n, NULL);
  return 0;
}

static void parse_guarded(const uint8_t *p, size_t n, int om, lk_arena *a)
{
  guard_buf g;
  assert_int_equal(guard_init(&g, p, n), 0);
  lk_expo *x = lk_expo_new(validate_only, a, 256);
  lk_expo_set_openmetrics(x, om);
  if (!lk_expo_feed(x, g.data, n, NULL))
    lk_expo_finish(x, NULL);
  lk_expo_free(x);
  lk_expo_parse_series((const char *)g.data, n, a, &(lk_label *){NULL}, &(size_t){0}, NULL);
  double v;
  lk_parse_go_float((const char *)g.data, n, &v);
  lk_arena_reset(a);
  guard_fini(&g);
}

/* Every prefix of the feature input (so every construct is cut at the page edge). */
static void test_guard_page(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(4096);
  size_t len = strlen(features);
  for (size_t cut = 0; cut <= len; cut++)
    for (int om = 0; om < 2; om++)
      parse_guarded((const uint8_t *)features, cut, om, a);
  const char *tails[] = {"m{a=\"\\", "m{a=\"x\\\"", "m 0x1p", "m 1e", "# HELP", "m{\"", "m 1 #"};
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++)
    for (int om = 0; om < 2; om++)
      parse_guarded((const uint8_t *)tails[i], strlen(tails[i]), om, a);
  lk_arena_free(a);
}

/* Parse p[0..n) in pieces of random size (0 = all at once) with a validating consumer. */
static int parse_pieces(const uint8_t *p, size_t n, int om, uint64_t *seed, collector *c,
                        lk_diag *d)
{
  lk_expo *x = lk_expo_new(collect, c, 256);
  lk_expo_set_openmetrics(x, om);
  int rc = 0;
  for (size_t off = 0; off < n && !rc;) {
    size_t k = seed ? 1 + test_rand(seed) % 40 : n;
    k = k < n - off ? k : n - off;
    rc = lk_expo_feed(x, p + off, k, d);
    off += k;
  }
  if (!rc)
    rc = lk_expo_finish(x, d);
  lk_expo_free(x);
  return rc;
}

/* Whatever the chunking, the same samples, result and message. */
static void same_in_random_chunks(const uint8_t *p, size_t n, int om, uint64_t *seed, lk_arena *a)
{
  static collector whole, pieces;
  lk_diag dw = {0}, dp = {0};
  whole = (collector){.validate = 1, .diag = &dw, .arena = a};
  pieces = (collector){.validate = 1, .diag = &dp, .arena = a};
  int rw = parse_pieces(p, n, om, NULL, &whole, &dw);
  int rp = parse_pieces(p, n, om, seed, &pieces, &dp);
  assert_int_equal(rw, rp);
  assert_string_equal(dw.msg, dp.msg);
  assert_int_equal(whole.n, pieces.n);
  size_t k = whole.n < 64 ? whole.n : 64;
  assert_memory_equal(whole.s, pieces.s, k * sizeof *whole.s);
  lk_arena_reset(a);
}

static void test_mutation_fuzz(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(4096);
  static const char alphabet[] = "{}\"\\=, \t\n#.eE+-0123456789xpNaInf_:aZ\xff\xc3";
  uint64_t seed = 7;
  size_t len = strlen(features);
  uint8_t *buf = lk_xmalloc(len);
  for (int iter = 0; iter < 5000; iter++) {
    memcpy(buf, features, len);
    size_t n = len;
    int edits = 1 + (int)(test_rand(&seed) % 6);
    for (int e = 0; e < edits; e++) {
      size_t pos = test_rand(&seed) % n;
      uint64_t r = test_rand(&seed);
      if (r % 4 == 0)
        n = pos + 1;
      else
        buf[pos] = r % 3 ? (uint8_t)alphabet[(r >> 8) % (sizeof alphabet - 1)] : (uint8_t)(r >> 16);
    }
    int om = (int)(test_rand(&seed) & 1);
    size_t start = test_rand(&seed) % n;
    parse_guarded(buf + start, n - start, om, a);
    parse_guarded(buf, n, om, a);
    same_in_random_chunks(buf, n, om, &seed, a);
  }
  free(buf);
  lk_arena_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_features),
    cmocka_unit_test(test_chunk_splits),
    cmocka_unit_test(test_malformed_lines),
    cmocka_unit_test(test_errors_are_sticky_and_stop),
    cmocka_unit_test(test_callback_stops),
    cmocka_unit_test(test_openmetrics),
    cmocka_unit_test(test_parse_series),
    cmocka_unit_test(test_go_float_syntax),
    cmocka_unit_test(test_go_float_exact),
    cmocka_unit_test(test_go_float_plain_edges),
    cmocka_unit_test(test_timestamp_bounds),
    cmocka_unit_test(test_timestamp_random),
    cmocka_unit_test(test_eight_digits),
    cmocka_unit_test(test_blank_runs),
    cmocka_unit_test(test_writer),
    cmocka_unit_test(test_gunzip),
    cmocka_unit_test(test_guard_page),
    cmocka_unit_test(test_mutation_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
