/* test_promql.c — unit tests of the PromQL lexer/parser (errors name the
 * position and what was expected) and of evaluation over the in-memory
 * queryable: staleness, range windows, rate, aggregation, matching errors,
 * limits and the timeout; regex label matchers (RE2, anchored) over the
 * Go-answer table on the in-memory queryable and on the tsdb (head and
 * block), label_replace group expansion, and regex parse errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_regex.h"
#include "promql/promql.h"
#include "tests/lib/regex_cases.h"
#include "tsdb/tsdb.h"

static void parse_fails_with(const char *q, const char *msg)
{
  promql_expr *e = NULL;
  lk_diag d = {0};
  int rc = promql_parse(q, &e, &d);
  if (rc != LK_EPARSE || !strstr(d.msg, msg))
    fail_msg("query %s: rc %d, message \"%s\", wanted \"%s\"", q, rc, d.msg, msg);
  assert_null(e);
}

static void test_parse_errors(void **state)
{
  parse_fails_with("foo(", "1:5: parse error: unclosed left parenthesis");
  parse_fails_with("sum(rate(x[5m])", "1:16: parse error: unclosed left parenthesis");
  parse_fails_with("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher");
  parse_fails_with("{a=~\".*\"}", "vector selector must contain at least one non-empty matcher");
  parse_fails_with("1 +", "1:4: parse error: unexpected end of input");
  parse_fails_with("rate(foo)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector");
  parse_fails_with("foo[5m", "1:7: parse error: unclosed left bracket");
  parse_fails_with("\"abc", "1:1: parse error: unterminated quoted string");
  parse_fails_with("1 and 2", "set operator \"and\" not allowed in binary scalar expression");
  parse_fails_with("1 == 2", "comparisons between scalars must use BOOL modifier");
  parse_fails_with("foo +\n  )", "2:3: parse error: unexpected right parenthesis ')'");
  parse_fails_with("nosuchfn(1)", "1:1: parse error: unknown function with name \"nosuchfn\"");
  parse_fails_with("foo{a=\"b\" c}", "1:11: parse error: unexpected identifier \"c\", expected \",\" or \"}\"");
  parse_fails_with("foo{a=~\"(\"}", "invalid regular expression");
  parse_fails_with("sum by (a) (x) by (b)", "unexpected identifier \"by\"");
  parse_fails_with("1 $ 2", "1:3: parse error: unexpected character: '$'");
  parse_fails_with("x @ 1 @ 2", "@ <timestamp> may not be set multiple times");
  parse_fails_with("topk(x)", "wrong number of arguments for aggregate expression provided, expected 2, got 1");
  parse_fails_with("", "no expression found in input");
  parse_fails_with("1 # only a comment follows\n+", "2:2: parse error: unexpected end of input");
  parse_fails_with("foo{", "1:5: parse error: unexpected end of input inside braces");
  parse_fails_with("a and fill(0) b", "fill modifiers are not allowed for set operators");
  parse_fails_with("a + fill(b) c", "fill value must be a number literal");
  parse_fails_with("foo[0s]", "duration must be greater than 0");
  parse_fails_with("foo offset 1h offset 2h", "offset may not be set multiple times");
  parse_fails_with("rate(foo[5m] @ 1, 2)", "expected 1 argument(s) in call to \"rate\", got 2");
}

/* Nesting past 256 levels is a parse error, not a stack overflow of the
 * recursive parser and evaluator; 200 levels still parse. */
static char *repeated(const char *open, const char *mid, const char *close, int n)
{
  size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
  char *s = malloc((lo + lc) * (size_t)n + lm + 1), *p = s;
  for (int i = 0; i < n; i++, p += lo)
    memcpy(p, open, lo);
  memcpy(p, mid, lm);
  p += lm;
  for (int i = 0; i < n; i++, p += lc)
    memcpy(p, close, lc);
  *p = 0;
  return s;
}

static void test_nesting_limit(void **state)
{
  (void)state;
  static const struct { const char *open, *mid, *close; } shapes[] = {
    {"(", "1", ")"}, {"-", "1", ""}, {"", "1", "+1"}, {"", "1", "^1"}, {"abs(", "up", ")"},
    {"sum(", "up", ")"}, {"", "up", " or up"},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    char *deep = repeated(shapes[i].open, shapes[i].mid, shapes[i].close, 10000);
    parse_fails_with(deep, "parse error: query too deeply nested: more than 256 levels");
    free(deep);
    char *fine = repeated(shapes[i].open, shapes[i].mid, shapes[i].close, 200);
    promql_expr *e = NULL;
    lk_diag d = {0};
    if (promql_parse(fine, &e, &d))
      fail_msg("200 levels of %s%s%s: %s", shapes[i].open, shapes[i].mid, shapes[i].close, d.msg);
    promql_expr_free(e);
    free(fine);
  }
  parse_fails_with("x[5m:" "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                   "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                   "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1m", "too deeply nested");
}

/* Syntax that must parse: modifiers, duration arithmetic, fill, keywords
 * as label names, metric names that look like modifiers. */
static void test_parse_ok(void **state)
{
  static const char *const ok[] = {
    "sum by (a) (x) + on(b) group_left(c) y", "sum(x) without (a,)", "x[5m:] offset -1m @ end()",
    "foo[1h30m+5m]", "foo offset (1h - 5m)", "count_over_time(x[step()*2])", "x + fill_left(1) fill_right(2) y",
    "fill + fill(0) other", "{__name__=\"x\", and=\"1\"}", "{\"utf8.name\"}", "rate(x[5m] anchored)",
    "x smoothed", "increase(x[5m] smoothed)", "topk(3, x) by (a)", "SUM(x) BY (a)", "x @ 1700000000.5",
    "-x ^ 2", "histogram_quantiles(x, \"q\", 0.5, 0.9)", "1 - -1", "time() > bool 5",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    promql_expr *e = NULL;
    lk_diag d = {0};
    if (promql_parse(ok[i], &e, &d))
      fail_msg("%s: %s", ok[i], d.msg);
    promql_expr_free(e);
  }
}

/* Evaluate q at t (ms) over q; returns the result (caller frees). */
static promql_result *eval_at(const promql_queryable *qq, const char *q, int64_t t)
{
  promql_expr *e = NULL;
  lk_diag d = {0};
  if (promql_parse(q, &e, &d))
    fail_msg("parse %s: %s", q, d.msg);
  promql_result *r = NULL;
  if (promql_eval_instant(qq, NULL, e, t, &r, &d))
    fail_msg("eval %s: %s", q, d.msg);
  promql_expr_free(e);
  return r;
}

static double scalar_of(const char *q)
{
  promql_mem *m = promql_mem_new();
  promql_queryable qq = promql_mem_queryable(m);
  promql_result *r = eval_at(&qq, q, 0);
  assert_int_equal(r->type, PROMQL_SCALAR);
  double v = r->scalar;
  promql_result_free(r);
  promql_mem_free(m);
  return v;
}

static void test_literals(void **state)
{
  assert_true(scalar_of("0x1f") == 31);
  assert_true(scalar_of("1e3") == 1000);
  assert_true(scalar_of(".5") == 0.5);
  assert_true(isinf(scalar_of("-Inf")) && scalar_of("-inf") < 0);
  assert_true(isnan(scalar_of("NaN")));
  assert_true(scalar_of("1h30m") == 5400);
  assert_true(scalar_of("-2 ^ 2") == -4);
  assert_true(scalar_of("2 ^ 3 ^ 2") == 512);
  assert_true(scalar_of("10 - 2 - 3") == 5);
  assert_true(scalar_of("1 + 2 * 3 # comment") == 7);
  assert_true(scalar_of("(1 + 2) * 3") == 9);
  assert_true(scalar_of("5 % 3") == 2);
  assert_true(scalar_of("1 < bool 2") == 1);
  promql_mem *m = promql_mem_new();
  promql_queryable qq = promql_mem_queryable(m);
  promql_result *r = eval_at(&qq, "\"a\\nb\\x41\\u00e9\"", 0);
  assert_int_equal(r->type, PROMQL_STRING);
  assert_string_equal(r->string, "a\nbA\xc3\xa9");
  promql_result_free(r);
  r = eval_at(&qq, "`raw\\n`", 0);
  assert_string_equal(r->string, "raw\\n");
  promql_result_free(r);
  promql_mem_free(m);
}

static promql_mem *sample_store(void)
{
  promql_mem *m = promql_mem_new();
  lk_label a[] = {{"__name__", "req_total"}, {"job", "api"}, {"instance", "0"}};
  lk_label b[] = {{"__name__", "req_total"}, {"job", "api"}, {"instance", "1"}};
  lk_sample sa[11], sb[3];
  for (int i = 0; i <= 10; i++)
    sa[i] = (lk_sample){i * 60000, i * 60.0};
  uint64_t stale_bits = TSDB_STALE_NAN_BITS;
  double stale;
  memcpy(&stale, &stale_bits, sizeof stale);
  sb[0] = (lk_sample){0, 5};
  sb[1] = (lk_sample){60000, 7};
  sb[2] = (lk_sample){120000, stale};
  assert_int_equal(promql_mem_add(m, a, 3, sa, 11, NULL), 0);
  assert_int_equal(promql_mem_add(m, b, 3, sb, 3, NULL), 0);
  return m;
}

static void test_eval_selectors(void **state)
{
  promql_mem *m = sample_store();
  promql_queryable qq = promql_mem_queryable(m);
  /* both present at 1m; the stale marker at 2m ends instance 1 */
  promql_result *r = eval_at(&qq, "req_total", 60000);
  assert_int_equal(r->nseries, 2);
  promql_result_free(r);
  r = eval_at(&qq, "req_total", 150000);
  assert_int_equal(r->nseries, 1);
  assert_string_equal(r->series[0].labels[1].value, "0");
  promql_result_free(r);
  /* lookback: a sample at 10m is visible until 15m (exclusive) */
  r = eval_at(&qq, "req_total{instance=\"0\"}", 899999);
  assert_int_equal(r->nseries, 1);
  promql_result_free(r);
  r = eval_at(&qq, "req_total{instance=\"0\"}", 900000);
  assert_int_equal(r->nseries, 0);
  promql_result_free(r);
  /* left-open range window: (4m, 5m] holds one sample */
  r = eval_at(&qq, "count_over_time(req_total{instance=\"0\"}[1m])", 300000);
  assert_int_equal(r->nseries, 1);
  assert_true(r->series[0].v[0] == 1);
  assert_int_equal(r->series[0].nlabels, 2); /* __name__ dropped */
  promql_result_free(r);
  r = eval_at(&qq, "rate(req_total{instance=\"0\"}[5m])", 600000);
  assert_true(fabs(r->series[0].v[0] - 1.0) < 1e-12);
  promql_result_free(r);
  r = eval_at(&qq, "sum by (job) (req_total)", 60000);
  assert_int_equal(r->nseries, 1);
  assert_true(r->series[0].v[0] == 67);
  promql_result_free(r);
  r = eval_at(&qq, "req_total[2m]", 120000);
  assert_int_equal(r->type, PROMQL_MATRIX);
  assert_int_equal(r->nseries, 2);
  assert_int_equal(r->series[0].n, 2); /* (0, 2m] */
  assert_int_equal(r->series[1].n, 1); /* stale marker not returned */
  promql_result_free(r);
  promql_mem_free(m);
}

static void test_eval_range(void **state)
{
  promql_mem *m = sample_store();
  promql_queryable qq = promql_mem_queryable(m);
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse("req_total * 2", &e, &d), 0);
  promql_result *r = NULL;
  assert_int_equal(promql_eval_range(&qq, NULL, e, 0, 600000, 60000, &r, &d), 0);
  assert_int_equal(r->type, PROMQL_MATRIX);
  assert_int_equal(r->nseries, 2);
  assert_int_equal(r->series[0].n, 11);
  assert_true(r->series[0].v[10] == 1200);
  assert_int_equal(r->series[1].n, 2); /* stale at 2m */
  promql_result_free(r);
  assert_int_equal(promql_eval_range(&qq, NULL, e, 10, 0, 1000, &r, &d), LK_EINVAL);
  assert_non_null(strstr(d.msg, "end timestamp must not be before start time"));
  promql_expr_free(e);
  promql_mem_free(m);
}

static void eval_fails_at(promql_queryable *qq, const promql_opts *o, const char *q, int64_t t,
                          int code, const char *msg)
{
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse(q, &e, &d), 0);
  promql_result *r = NULL;
  int rc = promql_eval_instant(qq, o, e, t, &r, &d);
  if (rc != code || !strstr(d.msg, msg))
    fail_msg("%s: rc %d msg \"%s\", wanted %d \"%s\"", q, rc, d.msg, code, msg);
  assert_null(r);
  promql_expr_free(e);
}

static void eval_fails_with(promql_queryable *qq, const promql_opts *o, const char *q, int code,
                            const char *msg)
{
  eval_fails_at(qq, o, q, 600000, code, msg);
}

static void test_eval_errors_and_limits(void **state)
{
  promql_mem *m = sample_store();
  promql_queryable qq = promql_mem_queryable(m);
  eval_fails_at(&qq, NULL, "req_total + on(job) req_total", 60000, LK_EEXEC,
                  "many-to-many matching not allowed");
  eval_fails_with(&qq, NULL, "label_replace(req_total, \"a\", \"x\", \"b\", \"(\")", LK_EEXEC,
                  "invalid regular expression in label_replace()");
  /* an evaluation error without position, as in Prometheus */
  eval_fails_with(&qq, NULL, "deriv(req_total[3m] smoothed)", LK_EEXEC,
                  "smoothed modifier can only be used with: delta, increase, rate - not with deriv");
  eval_fails_with(&qq, NULL, "max_over_time((req_total[3m] anchored))", LK_EEXEC,
                  "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with max_over_time");
  promql_opts few = {.max_samples = 5};
  eval_fails_with(&qq, &few, "sum_over_time(req_total[10m])", LK_ELIMIT, "too many samples");
  promql_opts quick = {.timeout_ms = 1};
  eval_fails_with(&qq, &quick, "count_over_time(vector(1)[30d:1s])", LK_ETIMEOUT, "timed out");
  promql_mem_free(m);
}

static bool rx_full_match(const char *re, const char *s)
{
  lk_regex *r;
  lk_diag d = {0};
  if (lk_regex_compile(re, LK_REGEX_ANCHORED, &r, &d))
    fail_msg("compile %s: %s", re, d.msg);
  bool m = lk_regex_match(r, s, strlen(s));
  lk_regex_free(r);
  return m;
}

static bool rx_compiles(const char *re)
{
  lk_regex *r;
  if (lk_regex_compile(re, LK_REGEX_ANCHORED, &r, NULL))
    return false;
  lk_regex_free(r);
  return true;
}

/* RE2 (Go) syntax, fully anchored as label matchers are. */
static void test_regex(void **state)
{
  assert_true(rx_full_match("a.c", "abc"));
  assert_false(rx_full_match("a.c", "xabc"));          /* anchored */
  assert_true(rx_full_match("\\d+", "123"));
  assert_false(rx_full_match("\\d+", "12a"));
  assert_true(rx_full_match("[\\w.]+", "a_b.c"));
  assert_true(rx_full_match("(?i)prod", "PrOd"));
  assert_true(rx_full_match("x(?i:ab)y", "xABy"));
  assert_false(rx_full_match("x(?i:ab)y", "XABy"));     /* scope ends with the group */
  assert_true(rx_full_match("(?:a|b)+c", "abac"));
  assert_true(rx_full_match(".*?x", "aax"));
  assert_true(rx_full_match("", ""));
  assert_false(rx_compiles("("));
  assert_true(rx_full_match("\\bword", "word"));     /* \b is RE2 syntax */
  /* group numbers of the user's pattern survive the wrapper and (?:) groups */
  promql_mem *m = promql_mem_new();
  lk_label l[] = {{"__name__", "m"}, {"src", "ab-12"}};
  lk_sample smp = {0, 1};
  assert_int_equal(promql_mem_add(m, l, 2, &smp, 1, NULL), 0);
  promql_queryable qq = promql_mem_queryable(m);
  promql_result *r = eval_at(&qq, "label_replace(m, \"dst\", \"$2/$1\", \"src\", \"(?:x|)(\\\\w+)-(\\\\d+)\")", 0);
  assert_int_equal(r->nseries, 1);
  assert_string_equal(lk_labels_get(r->series[0].labels, r->series[0].nlabels, "dst"), "12/ab");
  promql_result_free(r);
  promql_mem_free(m);
}

/* Deterministic mutation fuzzing: truncations, byte flips and splices of
 * valid queries must parse or fail cleanly, and whatever parses must
 * evaluate or fail cleanly (ASan/UBSan watch for the rest). Bounded: a
 * fixed number of iterations. */
static void test_fuzz(void **state)
{
  static const char *const seeds[] = {
    "sum by (job) (rate(req_total{job=~\"a.*\"}[5m] offset 1m))",
    "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
    "a + on(b) group_left(c) fill(0) d",
    "max_over_time(req_total[1h:30s] @ end())",
    "label_replace(req_total, \"x\", \"$1\", \"job\", \"(.*)\")",
    "topk(2, req_total) or bottomk(1, req_total) unless absent(nope)",
    "count_values(\"v\", req_total) > bool 1",
    "increase(req_total[5m] smoothed) / -(1 ^ 2 % 3)",
    "quantile_over_time(0.5, req_total[step()*3+10s])",
    "{__name__=\"req_total\", instance!=\"x\"} @ 1e3 offset -(5m)",
  };
  const char alphabet[] = "(){}[],:@+-*/%^=!~<>\"'`#$ \n\t0123456789.eEaxyz_";
  promql_mem *m = sample_store();
  promql_queryable qq = promql_mem_queryable(m);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  char buf[256];
  for (int it = 0; it < 20000; it++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const char *seed = seeds[x % (sizeof seeds / sizeof seeds[0])];
    size_t n = strlen(seed);
    memcpy(buf, seed, n + 1);
    switch ((x >> 8) % 3) {
    case 0: /* truncate */
      buf[(x >> 16) % (n + 1)] = 0;
      break;
    case 1: /* replace a few bytes */
      for (int k = 0; k < 3; k++)
        buf[(x >> (16 + 8 * k)) % n] = alphabet[(x >> (20 + 8 * k)) % (sizeof alphabet - 1)];
      break;
    default: { /* splice the tail of another seed */
      const char *other = seeds[(x >> 24) % (sizeof seeds / sizeof seeds[0])];
      size_t cut = (x >> 32) % (n + 1), from = (x >> 40) % (strlen(other) + 1);
      snprintf(buf + cut, sizeof buf - cut, "%s", other + from);
    }
    }
    promql_expr *e = NULL;
    lk_diag d = {0};
    if (promql_parse(buf, &e, &d)) {
      assert_true(d.set && strstr(d.msg, "parse error"));
      continue;
    }
    promql_result *r = NULL;
    promql_opts o = {.max_samples = 1000000};
    if (promql_eval_range(&qq, &o, e, 0, 600000, 60000, &r, &d) == 0)
      promql_result_free(r);
    r = NULL;
    if (promql_eval_instant(&qq, &o, e, 300000, &r, &d) == 0)
      promql_result_free(r);
    promql_expr_free(e);
  }
  promql_mem_free(m);
}

/* Labels of table row i: the input is the value of v (absent when empty,
 * as Prometheus treats empty labels). */
static size_t row_labels(size_t i, char *id, size_t idn, lk_label *ls)
{
  snprintf(id, idn, "%zu", i);
  ls[0] = (lk_label){"__name__", "m"};
  ls[1] = (lk_label){"case", id};
  ls[2] = (lk_label){"v", rx_cases[i].in};
  return *rx_cases[i].in ? 3 : 2;
}

/* m{case="i", v=~`re`} selects the row's series exactly when Go's
 * ^(?s:re)$ matches the value; v!~ selects the others. */
static void check_table(const promql_queryable *qq, const char *where)
{
  char q[512];
  for (size_t i = 0; i < RX_NCASES; i++) {
    const rx_case *c = &rx_cases[i];
    for (int neg = 0; neg < 2; neg++) {
      snprintf(q, sizeof q, "m{case=\"%zu\", v%s`%s`}", i, neg ? "!~" : "=~", c->re);
      promql_result *r = eval_at(qq, q, 0);
      if (r->nseries != (size_t)(c->full != neg))
        fail_msg("%s row %zu: %s on \"%s\": %zu series", where, i, q, c->in, r->nseries);
      promql_result_free(r);
    }
  }
}

static void test_regex_table(void **state)
{
  promql_mem *m = promql_mem_new();
  char dir[] = "/tmp/lk-promql-rx-XXXXXX";
  assert_non_null(mkdtemp(dir));
  tsdb_opts o = {.dir = dir};
  tsdb *db = NULL;
  assert_int_equal(tsdb_open(&o, &db, NULL), 0);
  for (size_t i = 0; i < RX_NCASES; i++) {
    char id[16];
    lk_label ls[3];
    size_t n = row_labels(i, id, sizeof id, ls);
    lk_sample smp = {0, 1};
    assert_int_equal(promql_mem_add(m, ls, n, &smp, 1, NULL), 0);
    tsdb_series_in in = {.labels = ls, .nlabels = n, .samples = &smp, .nsamples = 1};
    lk_diag d = {0};
    if (tsdb_append(db, &in, 1, NULL, &d))
      fail_msg("append row %zu: %s", i, d.msg);
  }
  promql_queryable mq = promql_mem_queryable(m), tq = promql_queryable_tsdb(db);
  check_table(&mq, "mem");
  check_table(&tq, "tsdb head");
  assert_int_equal(tsdb_flush(db, NULL), 0);
  check_table(&tq, "tsdb block");
  tsdb_close(db);
  promql_mem_free(m);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* label_replace: Go's Expand over RE2 groups — $1, ${1}, $name, ${name},
 * $$, unknown names empty, $1x read as the name "1x", and no match keeps
 * the series unchanged. */
static void test_label_replace_groups(void **state)
{
  promql_mem *m = promql_mem_new();
  lk_label l[] = {{"__name__", "m"}, {"src", "bob@example.com"}};
  lk_sample smp = {0, 1};
  assert_int_equal(promql_mem_add(m, l, 2, &smp, 1, NULL), 0);
  promql_queryable qq = promql_mem_queryable(m);
  static const struct { const char *repl, *re, *want; } rows[] = {
      {"$1", "(\\\\w+)@.*", "bob"},
      {"${2}-${1}", "(\\\\w+)@(\\\\w+)\\\\.com", "example-bob"},
      {"$user at $host", "(?P<user>\\\\w+)@(?<host>[^.]+).*", "bob at example"},
      {"${user}x", "(?P<user>[a-z]+)@.*", "bobx"},
      {"$1x", "(\\\\w+)@.*", ""},
      {"$$1", "(\\\\w+)@.*", "$1"},
      {"$nope", "(\\\\w+)@.*", ""},
      {"$0", "(\\\\w+)@.*", "bob@example.com"},
      {"[$3]", "(\\\\w+)@.*", "[]"},
      {"\u00e9$1", "(?i)(B\\\\pL+)@.*", "\u00e9bob"},
  };
  char q[256];
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    snprintf(q, sizeof q, "label_replace(m, \"dst\", \"%s\", \"src\", \"%s\")", rows[i].repl, rows[i].re);
    promql_result *r = eval_at(&qq, q, 0);
    assert_int_equal(r->nseries, 1);
    const char *got = lk_labels_get(r->series[0].labels, r->series[0].nlabels, "dst");
    if (strcmp(got ? got : "", rows[i].want))
      fail_msg("%s: dst=%s, want %s", q, got ? got : "(none)", rows[i].want);
    promql_result_free(r);
  }
  /* anchored: a partial match is no match, dst is not set */
  promql_result *r = eval_at(&qq, "label_replace(m, \"dst\", \"x\", \"src\", \"bob\")", 0);
  assert_null(lk_labels_get(r->series[0].labels, r->series[0].nlabels, "dst"));
  promql_result_free(r);
  promql_mem_free(m);
}

static void test_regex_parse_error(void **state)
{
  parse_fails_with("{a=~\"(\"}", "1:5: parse error: invalid regular expression \"(\": error parsing regexp: "
                                    "missing closing ): `(` (at offset 0)");
  parse_fails_with("up{a!~\"x{2,1}\"}", "invalid repeat count: `{2,1}` (at offset 1)");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_nesting_limit),
    cmocka_unit_test(test_parse_ok),
    cmocka_unit_test(test_literals),
    cmocka_unit_test(test_eval_selectors),
    cmocka_unit_test(test_eval_range),
    cmocka_unit_test(test_eval_errors_and_limits),
    cmocka_unit_test(test_regex),
    cmocka_unit_test(test_regex_table),
    cmocka_unit_test(test_label_replace_groups),
    cmocka_unit_test(test_regex_parse_error),
    cmocka_unit_test(test_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
