/* promqltest_expect.c — the conformance runner's parsing of the script
 * syntax (value sequences, label sets, durations) and of an eval block's
 * expectations, and the checks Prometheus's promqltest harness applies by
 * default: result values and label sets (order only with `expect ordered`,
 * range results sorted by label set), `expect warn|info` (at least one
 * annotation of that kind, and every one matched by an expect line),
 * `expect no_warn|no_info`, and the error text of `expect fail msg:|regex:`
 * (and the older eval_fail/expected_fail_message/expected_fail_regexp).
 * An eval without annotation expectations does not check annotations,
 * as upstream.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_regex.h"
#include "lib/lk_time.h"
#include "tests/promql/promqltest.h"

char *ptest_trim(char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = 0;
  return s;
}

char *ptest_next_tok(char **p)
{
  while (isspace((unsigned char)**p))
    (*p)++;
  char *s = *p;
  while (**p && !isspace((unsigned char)**p))
    (*p)++;
  if (**p)
    *(*p)++ = 0;
  return s;
}

int ptest_parse_time(const char *s, int64_t *out)
{
  lk_diag d = {0};
  bool neg = *s == '-';
  if (lk_parse_duration(neg ? s + 1 : s, out, &d))
    return -1;
  if (neg)
    *out = -*out;
  return 0;
}

/*---- Expectation lines ----*/

/* The text after `msg:` / `regex:` (or an expected_fail_* line) into m. */
static int parse_match(ptest_match *m, const char *how, const char *text, lk_arena *a, lk_buf *why)
{
  while (isspace((unsigned char)*text))
    text++;
  if (!strcmp(how, "msg")) {
    m->exact = lk_arena_strndup(a, text, strlen(text));
    return 0;
  }
  lk_diag d = {0};
  if (lk_regex_compile(text, LK_REGEX_UNANCHORED, &m->re, &d)) {
    lk_buf_printf(why, "bad regex %s: %s", text, d.msg);
    return -1;
  }
  return 0;
}

static bool match_text(const ptest_match *m, const char *s)
{
  if (m->exact)
    return !strcmp(m->exact, s);
  return !m->re || lk_regex_match(m->re, s, strlen(s));
}

/* The annotation as the v3.14.0 harness (the scripts' version) matches it:
 * the error text without the " (line:col)" position the API appends. */
static const char *anno_text(const char *s, char *buf, size_t n)
{
  const char *p = strrchr(s, '(');
  size_t a, b;
  char tail;
  if (!p || p == s || p[-1] != ' ' || sscanf(p, "(%zu:%zu%c", &a, &b, &tail) != 3 || tail != ')' ||
      strchr(p, ')')[1])
    return s;
  snprintf(buf, n, "%.*s", (int)(p - 1 - s), s);
  return buf;
}

static bool match_anno(const ptest_match *m, const char *s)
{
  char buf[1024];
  return match_text(m, anno_text(s, buf, sizeof buf));
}

/* `expect <kind>[ msg: …| regex: …]` */
static int parse_expect_kind(char *p, expect *ex, lk_arena *a, lk_buf *why)
{
  char *kind = ptest_next_tok(&p);
  char *how = NULL, *text = NULL;
  while (isspace((unsigned char)*p))
    p++;
  if (!strncmp(p, "msg:", 4) || !strncmp(p, "regex:", 6)) {
    how = p;
    text = strchr(p, ':');
    *text++ = 0;
  } else if (*p) {
    lk_buf_printf(why, "invalid expect line (after %s: %s)", kind, p);
    return -1;
  }
  ptest_match m = {0};
  if (how && parse_match(&m, how, text, a, why))
    return -1;
  bool warn = !strcmp(kind, "warn"), info = !strcmp(kind, "info");
  if (!strcmp(kind, "fail")) {
    ex->fail = true;
    ex->fail_msg = m;
    ex->has_fail_msg = how != NULL;
  } else if (warn || info) {
    size_t *n = warn ? &ex->nwarn : &ex->ninfo;
    if (*n == PTEST_MAX_ANNOS) {
      lk_buf_puts(why, "too many expect lines");
      return -1;
    }
    (warn ? ex->warn : ex->info)[(*n)++] = m;
  } else if (!strcmp(kind, "no_warn") || !strcmp(kind, "no_info") || !strcmp(kind, "ordered")) {
    *(kind[0] == 'o' ? &ex->ordered : kind[3] == 'w' ? &ex->no_warn : &ex->no_info) = true;
    if (how) {
      lk_buf_printf(why, "no message allowed after expect %s", kind);
      return -1;
    }
  } else {
    lk_buf_printf(why, "invalid expect type %s", kind);
    return -1;
  }
  if ((ex->nwarn && ex->no_warn) || (ex->ninfo && ex->no_info)) {
    lk_buf_puts(why, "warn/no_warn or info/no_info used together");
    return -1;
  }
  return 0;
}

/* `expect range vector from <s> to <e> step <d>` */
static int parse_range_vector(char *p, expect *ex)
{
  ptest_next_tok(&p); /* range */
  ptest_next_tok(&p); /* vector */
  ptest_next_tok(&p); /* from */
  char *s = ptest_next_tok(&p);
  ptest_next_tok(&p); /* to */
  char *e = ptest_next_tok(&p);
  ptest_next_tok(&p); /* step */
  char *st = ptest_next_tok(&p);
  ex->range_vec = true;
  if (ptest_parse_time(s, &ex->rv_start) || ptest_parse_time(e, &ex->rv_end) ||
      ptest_parse_time(st, &ex->rv_step) || ex->rv_step <= 0)
    return -1;
  return 0;
}

static int parse_expect_string(char *p, expect *ex, lk_arena *a)
{
  while (isspace((unsigned char)*p))
    p++;
  char q = *p;
  char *e = strrchr(p + 1, q);
  if ((q != '"' && q != '`') || !e)
    return -1;
  ex->is_string = true;
  ex->string = lk_arena_strndup(a, p + 1, (size_t)(e - p - 1));
  return 0;
}

static int parse_series_line(char *l, expect *ex, lk_arena *a)
{
  lk_label *ls;
  size_t nls;
  const char *rest = promql_parse_series_labels(l, a, &ls, &nls);
  if (!rest)
    return -1;
  double *vals;
  uint8_t *ok;
  size_t n;
  if (promql_parse_series_values(rest, &vals, &ok, &n, &ex->hist, NULL))
    return -1;
  exp_series *ns = lk_arena_alloc(a, (ex->ns + 1) * sizeof *ns);
  if (ex->ns)
    memcpy(ns, ex->s, ex->ns * sizeof *ns);
  ns[ex->ns] = (exp_series){ls, nls, lk_arena_alloc(a, (n ? n : 1) * sizeof(double)),
                            lk_arena_alloc(a, n ? n : 1), n};
  memcpy(ns[ex->ns].v, vals, n * sizeof *vals);
  memcpy(ns[ex->ns].ok, ok, n);
  free(vals);
  free(ok);
  ex->s = ns;
  ex->ns++;
  return 0;
}

int ptest_parse_body_line(char *l, expect *ex, lk_arena *a, lk_buf *why)
{
  if (!strncmp(l, "expected_fail_message", 21) || !strncmp(l, "expected_fail_regexp", 20)) {
    bool msg = l[15] == 'm';
    ex->has_fail_msg = true;
    return parse_match(&ex->fail_msg, msg ? "msg" : "regex", l + (msg ? 21 : 20), a, why);
  }
  if (!strncmp(l, "expect range vector", 19)) {
    if (parse_range_vector(l + 7, ex)) {
      lk_buf_puts(why, "bad expect range vector line");
      return -1;
    }
    return 0;
  }
  if (!strncmp(l, "expect string", 13)) {
    if (parse_expect_string(l + 13, ex, a)) {
      lk_buf_puts(why, "bad expect string line");
      return -1;
    }
    return 0;
  }
  if (!strncmp(l, "expect ", 7))
    return parse_expect_kind(l + 7, ex, a, why);
  char *end;
  double v = strtod(l, &end);
  if (end != l && !*ptest_trim(end)) {
    ex->is_scalar = true;
    ex->scalar = v;
    return 0;
  }
  if (parse_series_line(l, ex, a)) {
    lk_buf_printf(why, "bad expected series line: %s", l);
    return -1;
  }
  return 0;
}

void ptest_expect_fini(expect *ex)
{
  lk_regex_free(ex->fail_msg.re);
  for (size_t i = 0; i < ex->nwarn; i++)
    lk_regex_free(ex->warn[i].re);
  for (size_t i = 0; i < ex->ninfo; i++)
    lk_regex_free(ex->info[i].re);
}

/*---- Comparing results ----*/

static bool is_stale(double v)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits == TSDB_STALE_NAN_BITS;
}

bool ptest_float_eq(double a, double b)
{
  bool sa = is_stale(a), sb = is_stale(b);
  if (sa || sb)
    return sa && sb;
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b);
  if (a == b)
    return true;
  if (isinf(a) || isinf(b))
    return false;
  return fabs(a - b) / (fabs(a) + fabs(b)) < 1e-6;
}

static void fmt_labels(lk_buf *b, const lk_label *ls, size_t n)
{
  lk_labels_format(b, ls, n);
  if (!n)
    lk_buf_puts(b, "{}");
}

void ptest_describe_result(lk_buf *b, const promql_result *r)
{
  if (r->type == PROMQL_SCALAR) {
    lk_buf_printf(b, "scalar %g", r->scalar);
    return;
  }
  if (r->type == PROMQL_STRING) {
    lk_buf_printf(b, "string \"%s\"", r->string);
    return;
  }
  lk_buf_printf(b, "%s of %zu series", r->type == PROMQL_VECTOR ? "vector" : "matrix", r->nseries);
  for (size_t k = 0; k < r->nseries && k < 6; k++) {
    lk_buf_puts(b, k ? "; " : ": ");
    fmt_labels(b, r->series[k].labels, r->series[k].nlabels);
    for (size_t i = 0; i < r->series[k].n && i < 8; i++)
      lk_buf_printf(b, " %g@%lld", r->series[k].v[i], (long long)r->series[k].t[i]);
    if (r->series[k].n > 8)
      lk_buf_puts(b, " ...");
  }
}

static const promql_series *find_series(const promql_result *r, const exp_series *e, bool *used,
                                        size_t *at)
{
  for (size_t k = 0; k < r->nseries; k++)
    if (!used[k] && lk_labels_equal(r->series[k].labels, r->series[k].nlabels, e->ls, e->nls)) {
      used[k] = true;
      *at = k;
      return &r->series[k];
    }
  return NULL;
}

/* Compare points of a matrix series against expected slots at start+k*step. */
static bool match_points(const promql_series *s, const exp_series *e, int64_t start, int64_t step,
                         size_t nslots, lk_buf *why)
{
  size_t j = 0;
  for (size_t k = 0; k < nslots; k++) {
    int64_t t = start + (int64_t)k * step;
    bool want = k < e->n && e->ok[k];
    bool have = j < s->n && s->t[j] == t;
    if (want != have || (want && !ptest_float_eq(s->v[j], e->v[k]))) {
      fmt_labels(why, e->ls, e->nls);
      lk_buf_printf(why, " at t=%lld expected %s%g, got %s%g; ", (long long)t, want ? "" : "none ",
                    want ? e->v[k] : 0, have ? "" : "none ", have ? s->v[j] : 0);
      return false;
    }
    if (have)
      j++;
  }
  if (j != s->n) {
    lk_buf_printf(why, "unexpected point at t=%lld; ", (long long)s->t[j]);
    return false;
  }
  return true;
}

/* Upstream insists that a matrix is sorted by label set. */
bool ptest_matrix_sorted(const promql_result *r, lk_buf *why)
{
  for (size_t k = 1; k < r->nseries; k++)
    if (lk_labels_cmp(r->series[k - 1].labels, r->series[k - 1].nlabels, r->series[k].labels,
                      r->series[k].nlabels) > 0) {
      lk_buf_printf(why, "matrix not sorted by labels at index %zu; ", k);
      return false;
    }
  return true;
}

static bool compare_scalar_or_string(const expect *ex, const promql_result *r, lk_buf *why)
{
  if (r->type == PROMQL_STRING) {
    const char *want = ex->is_string ? ex->string : "";
    if (!strcmp(r->string, want))
      return true;
    lk_buf_printf(why, "expected string \"%s\"; ", want);
    return false;
  }
  if (!ex->is_scalar) {
    lk_buf_puts(why, "expected vector or matrix result; ");
    return false;
  }
  if (!ptest_float_eq(r->scalar, ex->scalar)) {
    lk_buf_printf(why, "expected scalar %g; ", ex->scalar);
    return false;
  }
  return true;
}

/* One expected series against its result series. */
static bool compare_series(const expect *ex, const promql_result *r, const exp_series *e,
                           const promql_series *s, bool range, int64_t start, int64_t end,
                           int64_t step, lk_buf *why)
{
  if (r->type == PROMQL_MATRIX) {
    int64_t s0 = range ? start : ex->rv_start, s1 = range ? end : ex->rv_end;
    int64_t st = range ? step : ex->rv_step;
    if (!range && !ex->range_vec) {
      lk_buf_puts(why, "matrix result for an instant eval without expect range vector; ");
      return false;
    }
    return match_points(s, e, s0, st, (size_t)((s1 - s0) / st) + 1, why);
  }
  if (e->n != 1 || e->ok[0] != SLOT_FLOAT || !ptest_float_eq(s->v[0], e->v[0])) {
    fmt_labels(why, e->ls, e->nls);
    lk_buf_printf(why, " expected %g; ", e->n ? e->v[0] : 0);
    return false;
  }
  return true;
}

bool ptest_compare(const expect *ex, const promql_result *r, bool range, int64_t start, int64_t end,
                   int64_t step, lk_buf *why)
{
  if (r->type == PROMQL_SCALAR || r->type == PROMQL_STRING)
    return compare_scalar_or_string(ex, r, why);
  if (ex->is_scalar) {
    lk_buf_puts(why, "expected a scalar; ");
    return false;
  }
  if (r->type == PROMQL_MATRIX && ex->ordered) {
    lk_buf_puts(why, "expected ordered result, but query returned a matrix; ");
    return false;
  }
  if (r->type == PROMQL_MATRIX && !ptest_matrix_sorted(r, why))
    return false;
  if (r->nseries != ex->ns) {
    lk_buf_printf(why, "expected %zu series; ", ex->ns);
    return false;
  }
  bool *used = lk_xcalloc(r->nseries ? r->nseries : 1, 1);
  bool ok = true;
  for (size_t i = 0; ok && i < ex->ns; i++) {
    const exp_series *e = &ex->s[i];
    size_t at = 0;
    const promql_series *s = find_series(r, e, used, &at);
    if (!s) {
      lk_buf_puts(why, "missing ");
      fmt_labels(why, e->ls, e->nls);
      lk_buf_puts(why, "; ");
      ok = false;
    } else if (ex->ordered && at != i) {
      lk_buf_printf(why, "wrong order: expected series %zu at %zu; ", i, at);
      ok = false;
    } else {
      ok = compare_series(ex, r, e, s, range, start, end, step, why);
    }
  }
  free(used);
  return ok;
}

/* Upstream: every expect line of the kind matches an annotation, and every
 * annotation of the kind matches an expect line. */
static bool annotations_of_kind_ok(const ptest_match *want, size_t nwant, char **got, size_t ngot,
                                   const char *kind, lk_buf *why)
{
  if (!nwant)
    return true;
  if (!ngot) {
    lk_buf_printf(why, "expected %s annotations but none were found; ", kind);
    return false;
  }
  for (size_t i = 0; i < nwant; i++) {
    bool found = false;
    for (size_t k = 0; k < ngot && !found; k++)
      found = match_anno(&want[i], got[k]);
    if (!found) {
      lk_buf_printf(why, "no %s annotation matching \"%s\", found: %s; ", kind,
                    want[i].exact ? want[i].exact : "(regex)", got[0]);
      return false;
    }
  }
  for (size_t k = 0; k < ngot; k++) {
    bool found = false;
    for (size_t i = 0; i < nwant && !found; i++)
      found = match_anno(&want[i], got[k]);
    if (!found) {
      lk_buf_printf(why, "unexpected %s annotation \"%s\"; ", kind, got[k]);
      return false;
    }
  }
  return true;
}

bool ptest_annotations_ok(const expect *ex, const promql_result *r, lk_buf *why)
{
  if ((ex->warn_any && !r->nwarnings) || (ex->info_any && !r->ninfos)) {
    lk_buf_printf(why, "expected %s annotations but got none; ",
                  ex->warn_any && !r->nwarnings ? "warn" : "info");
    return false;
  }
  if (!annotations_of_kind_ok(ex->warn, ex->nwarn, r->warnings, r->nwarnings, "warn", why) ||
      !annotations_of_kind_ok(ex->info, ex->ninfo, r->infos, r->ninfos, "info", why))
    return false;
  if ((ex->no_warn && r->nwarnings) || (ex->no_info && r->ninfos)) {
    lk_buf_printf(why, "unexpected %s annotation \"%s\"; ", ex->no_warn && r->nwarnings ? "warn" : "info",
                  ex->no_warn && r->nwarnings ? r->warnings[0] : r->infos[0]);
    return false;
  }
  return true;
}

bool ptest_fail_msg_ok(const expect *ex, const char *err, lk_buf *why)
{
  if (!ex->has_fail_msg || match_text(&ex->fail_msg, err))
    return true;
  lk_buf_printf(why, "expected error %s\"%s\", got: %s", ex->fail_msg.re ? "matching " : "",
                ex->fail_msg.exact ? ex->fail_msg.exact : "(regex)", err);
  return false;
}
