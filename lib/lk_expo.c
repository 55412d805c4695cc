/* lk_expo.c — streaming text exposition parser: line splitting, sample lines,
 * and # HELP / TYPE / UNIT / EOF lines. Series text is validated elsewhere
 * (lk_expo_series.c, by the caller on a cache miss).
 *
 * Why it is built this way: bulk import parses GBs in one request, so complete
 * lines are parsed in place in the caller's chunk (only a line that spans two
 * chunks is copied into `carry`), and a sample line is split from its END:
 * the value and optional timestamp are the last one or two blank-separated
 * tokens, so the (long) series text is never scanned here at all.
 *
 * Why splitting from the end is exact: a valid series text never ends in a
 * blank, and is either one blank-free token (a bare name) or ends with '}'.
 * With X the last token and P the trimmed text before it:
 *   - P ends with '}'          → series P, value X (X as a timestamp would make
 *                                 the value end with '}', never a float);
 *   - P has no blank           → series P, value X (no room for a value);
 *   - otherwise                → value = last token Y of P, timestamp X, series
 *                                 = P before Y (series P would contain a blank
 *                                 but not end with '}', so it cannot be valid).
 * Exactly one split can be valid, so validating value and timestamp here and
 * the series text with lk_expo_parse_series validates the whole line.
 * OpenMetrics exemplars (` # {...} v [ts]`) break that, so OpenMetrics mode
 * finds the series end from the front, quote-aware (slower, same result).
 *
 * Invariants: `line` counts completed lines; `carry` holds the bytes of the
 * current unfinished line (≤ max_line; a line's length counts a '\r' but not
 * the '\n'); after an error `err` is sticky.
 */
#include "lib/lk_expo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_buf.h"
#include "lib/lk_expo_int.h"

#define DEFAULT_MAX_LINE (1u << 20)

struct lk_expo {
  lk_expo_cb cb;
  void *ctx;
  size_t max_line;
  int om;          /* OpenMetrics mode: float-second timestamps, exemplars, # EOF */
  int eof;         /* saw # EOF (OpenMetrics mode) */
  int err;         /* sticky error code, 0 if none */
  lk_diag errd;    /* its message, replayed on later calls */
  uint64_t line;   /* completed lines */
  uint64_t off;    /* stream offset of the current line's first byte */
  lk_buf carry;    /* unfinished line spanning chunks */
  lk_buf family;   /* metric name of the latest # TYPE */
  int family_type; /* its LK_EXPO_* */
};

typedef struct span {
  const char *p, *e;
} span;

static int is_blank(char c) { return c == ' ' || c == '\t'; }

lk_expo *lk_expo_new(lk_expo_cb cb, void *ctx, size_t max_line)
{
  lk_expo *p = lk_xcalloc(1, sizeof *p);
  p->cb = cb;
  p->ctx = ctx;
  p->max_line = max_line ? max_line : DEFAULT_MAX_LINE;
  return p;
}

void lk_expo_set_openmetrics(lk_expo *p, int on) { p->om = on != 0; }
uint64_t lk_expo_lines(const lk_expo *p) { return p->line; }

void lk_expo_free(lk_expo *p)
{
  if (!p)
    return;
  lk_buf_fini(&p->carry);
  lk_buf_fini(&p->family);
  free(p);
}

/* Record a line error: sticky, copied into the caller's diag. */
static int fail(lk_expo *p, int code, const char *what)
{
  p->err = code;
  lk_diag_set(&p->errd, code, (long)p->off, "line %llu: %s", (unsigned long long)p->line + 1,
              what);
  return code;
}

static int replay(const lk_expo *p, lk_diag *d)
{
  if (d && !d->set)
    *d = p->errd;
  return p->err;
}

/*---- tokens ----*/

static span trim(span s)
{
  while (s.p < s.e && is_blank(*s.p))
    s.p++;
  while (s.e > s.p && is_blank(s.e[-1]))
    s.e--;
  return s;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* 0x80 in each byte of x that is zero, exactly (no borrow between bytes). */
static inline uint64_t zero_bytes(uint64_t x)
{
  uint64_t y = (x & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full;
  return ~(y | x | 0x7f7f7f7f7f7f7f7full);
}
#endif

/* Just past the last blank in [p, e), or p if there is none: 8 bytes a
 * step (a sample line ends with two tokens of ~13 bytes). */
static const char *after_last_blank(const char *p, const char *e)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; e - p >= 8; e -= 8) {
    uint64_t w;
    memcpy(&w, e - 8, 8);
    uint64_t m = zero_bytes(w ^ 0x2020202020202020ull) | zero_bytes(w ^ 0x0909090909090909ull);
    if (m) /* the highest flagged byte is the last blank */
      return e - 8 + (63 - __builtin_clzll(m)) / 8 + 1;
  }
#endif
  while (e > p && !is_blank(e[-1]))
    e--;
  return e;
}

/* Split the last blank-separated token off a trimmed, non-empty span. */
static span last_token(span s, span *rest)
{
  const char *q = after_last_blank(s.p, s.e);
  *rest = trim((span){s.p, q});
  return (span){q, s.e};
}

static int has_blank(span s)
{
  for (const char *q = s.p; q < s.e; q++)
    if (is_blank(*q))
      return 1;
  return 0;
}

static int parse_int64(span s, int64_t *out)
{
  const char *q = s.p;
  int neg = 0;
  if (q < s.e && (*q == '+' || *q == '-'))
    neg = *q++ == '-';
  if (q == s.e)
    return LK_EPARSE;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  /* up to 18 digits cannot pass lim: no overflow check (timestamps have 13) */
  const char *fast_end = s.e - q > 18 ? q + 18 : s.e;
  for (uint64_t eight; fast_end - q >= 8 && lk__eight_digits(q, &eight); q += 8)
    v = v * 100000000 + eight;
  for (; q < fast_end; q++) {
    unsigned dgt = (unsigned)(*q - '0');
    if (dgt > 9)
      return LK_EPARSE;
    v = v * 10 + dgt;
  }
  for (; q < s.e; q++) {
    unsigned dgt = (unsigned)(*q - '0');
    if (dgt > 9 || v > (lim - dgt) / 10)
      return LK_EPARSE;
    v = v * 10 + dgt;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

/* Timestamp token: int64 ms, or (OpenMetrics) float seconds → ms. */
static int parse_ts(const lk_expo *p, span s, int64_t *out)
{
  if (!p->om)
    return parse_int64(s, out);
  double sec;
  if (lk_parse_go_float(s.p, (size_t)(s.e - s.p), &sec) || !isfinite(sec))
    return LK_EPARSE;
  double ms = nearbyint(sec * 1000.0);
  if (!(ms >= -9.2e18 && ms <= 9.2e18))
    return LK_EPARSE;
  *out = (int64_t)ms;
  return 0;
}

/*---- # lines ----*/

static const char *const type_names[] = {
  [LK_EXPO_UNTYPED] = "untyped",     [LK_EXPO_COUNTER] = "counter",
  [LK_EXPO_GAUGE] = "gauge",         [LK_EXPO_HISTOGRAM] = "histogram",
  [LK_EXPO_SUMMARY] = "summary",     [LK_EXPO_GAUGEHISTOGRAM] = "gaugehistogram",
  [LK_EXPO_INFO] = "info",           [LK_EXPO_STATESET] = "stateset",
};

const char *lk__expo_type_name(int type)
{
  if (type < 0 || type >= (int)(sizeof type_names / sizeof *type_names))
    return "untyped";
  return type_names[type];
}

static int type_code(span s)
{
  size_t n = (size_t)(s.e - s.p);
  if (n == 7 && !memcmp(s.p, "unknown", 7))
    return LK_EXPO_UNTYPED;
  for (int t = 0; t < (int)(sizeof type_names / sizeof *type_names); t++)
    if (strlen(type_names[t]) == n && !memcmp(s.p, type_names[t], n))
      return t;
  return -1;
}

static int metric_name_ok(span s)
{
  if (s.p == s.e)
    return 0;
  for (const char *q = s.p; q < s.e; q++) {
    char c = *q;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
             (q != s.p && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

/* HELP text: valid UTF-8; escapes \\ and \n (others kept, as Prometheus does). */
static int help_ok(span s) { return lk_utf8_valid(s.p, (size_t)(s.e - s.p)); }

/* `# KEYWORD name rest`: KEYWORD already consumed, s = the remainder. */
static int meta_line(lk_expo *p, const char *kw, span s)
{
  s = trim(s);
  const char *q = s.p;
  while (q < s.e && !is_blank(*q))
    q++;
  span name = {s.p, q}, rest = trim((span){q, s.e});
  if (name.p == name.e)
    return fail(p, LK_EPARSE, "missing metric name after # HELP/# TYPE/# UNIT");
  if (!metric_name_ok(name))
    return fail(p, LK_EPARSE, "invalid metric name in # HELP/# TYPE/# UNIT");
  if (kw[0] == 'H')
    return help_ok(rest) ? 0 : fail(p, LK_EPARSE, "invalid UTF-8 in # HELP text");
  if (kw[0] == 'U')
    return has_blank(rest) ? fail(p, LK_EPARSE, "invalid unit in # UNIT") : 0;
  int t = type_code(rest);
  if (t < 0)
    return fail(p, LK_EPARSE, "invalid metric type in # TYPE");
  lk_buf_clear(&p->family);
  lk_buf_append(&p->family, name.p, (size_t)(name.e - name.p));
  p->family_type = t;
  return 0;
}

/* A line starting with '#' (s starts after it). */
static int hash_line(lk_expo *p, span s)
{
  static const char *const kws[] = {"HELP", "TYPE", "UNIT"};
  s = trim(s);
  size_t n = (size_t)(s.e - s.p);
  for (size_t i = 0; i < 3; i++)
    if (n >= 4 && !memcmp(s.p, kws[i], 4) && (n == 4 || is_blank(s.p[4])))
      return meta_line(p, kws[i], (span){s.p + 4, s.e});
  if (p->om && n == 3 && !memcmp(s.p, "EOF", 3))
    p->eof = 1;
  return 0; /* a comment */
}

/*---- sample lines ----*/

/* Family type of a sample whose series text starts with the metric name. */
static int sample_type(const lk_expo *p, span series)
{
  size_t fl = p->family.len;
  if (!fl || (size_t)(series.e - series.p) < fl || memcmp(series.p, p->family.data, fl))
    return LK_EXPO_UNTYPED;
  static const char *const suffixes[] = {"",       "_total",  "_created", "_bucket", "_sum",
                                         "_count", "_gcount", "_gsum",    "_info"};
  const char *q = series.p + fl;
  size_t n = 0;
  while (q + n < series.e && q[n] != '{' && !is_blank(q[n]))
    n++;
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
    if (strlen(suffixes[i]) == n && !memcmp(q, suffixes[i], n))
      return p->family_type;
  return LK_EXPO_UNTYPED;
}

/* Past a quoted string starting at q (on the opening quote); NULL if unterminated. */
static const char *skip_quoted(const char *q, const char *e)
{
  for (q++; q < e; q++) {
    if (*q == '\\')
      q++;
    else if (*q == '"')
      return q + 1;
  }
  return NULL;
}

/* Past a `{...}` group starting at q (on '{'), quote-aware; NULL if unclosed. */
static const char *skip_braces(const char *q, const char *e)
{
  for (q++; q < e;) {
    if (*q == '"') {
      if (!(q = skip_quoted(q, e)))
        return NULL;
    } else if (*q++ == '}') {
      return q;
    }
  }
  return NULL;
}

/* Front-to-back split (OpenMetrics): series, then the rest of the line. */
static int split_forward(lk_expo *p, span s, span *series, span *rest)
{
  const char *q = s.p;
  while (q < s.e && *q != '{' && !is_blank(*q))
    q++;
  const char *r = q;
  while (r < s.e && is_blank(*r))
    r++;
  if (r < s.e && *r == '{' && !(q = skip_braces(r, s.e)))
    return fail(p, LK_EPARSE, "unterminated label set");
  if (q < s.e && !is_blank(*q))
    return fail(p, LK_EPARSE, "missing value");
  *series = (span){s.p, q};
  *rest = trim((span){q, s.e});
  return 0;
}

/* OpenMetrics exemplar after the sample: `# {labels} value [ts]`. */
static int exemplar_ok(const lk_expo *p, span s)
{
  s = trim((span){s.p + 1, s.e});
  const char *q = s.p < s.e && *s.p == '{' ? skip_braces(s.p, s.e) : NULL;
  if (!q || q == s.e || !is_blank(*q))
    return 0;
  span rest = trim((span){q, s.e}), x, y;
  x = last_token(rest, &y);
  double v;
  int64_t t;
  if (y.p == y.e)
    return lk_parse_go_float(x.p, (size_t)(x.e - x.p), &v) == 0;
  return !has_blank(y) && lk_parse_go_float(y.p, (size_t)(y.e - y.p), &v) == 0 &&
         parse_ts(p, x, &t) == 0;
}

/* OpenMetrics: value [ts] [# exemplar] from the text after the series. */
static int om_tokens(lk_expo *p, span rest, span *val, span *ts)
{
  const char *q = rest.p;
  while (q < rest.e && !is_blank(*q))
    q++;
  *val = (span){rest.p, q};
  span after = trim((span){q, rest.e});
  *ts = (span){NULL, NULL};
  if (after.p < after.e && *after.p != '#') {
    q = after.p;
    while (q < after.e && !is_blank(*q))
      q++;
    *ts = (span){after.p, q};
    after = trim((span){q, after.e});
  }
  if (after.p < after.e && (*after.p != '#' || !exemplar_ok(p, after)))
    return fail(p, LK_EPARSE, "unexpected text after the sample");
  return 0;
}

/* Text format: value [ts] split from the end (see the file comment). */
static int split_backward(lk_expo *p, span s, span *series, span *val, span *ts)
{
  span before, before2;
  span x = last_token(s, &before);
  if (before.p == before.e)
    return fail(p, LK_EPARSE, "missing value");
  span y = before.e[-1] == '}' ? before : last_token(before, &before2);
  if (y.p == before.p) { /* P ends with '}', or is one token */
    *series = before;
    *val = x;
    *ts = (span){NULL, NULL};
    return 0;
  }
  *series = before2;
  *val = y;
  *ts = x;
  return 0;
}

static int sample_line(lk_expo *p, span s)
{
  span series, val, ts;
  int rc;
  if (p->om) {
    span rest;
    if ((rc = split_forward(p, s, &series, &rest)))
      return rc;
    if (rest.p == rest.e)
      return fail(p, LK_EPARSE, "missing value");
    if ((rc = om_tokens(p, rest, &val, &ts)))
      return rc;
  } else if ((rc = split_backward(p, s, &series, &val, &ts))) {
    return rc;
  }
  lk_expo_sample smp = {.series = series.p, .series_len = (size_t)(series.e - series.p),
                        .line = p->line + 1};
  if (lk_parse_go_float(val.p, (size_t)(val.e - val.p), &smp.value))
    return fail(p, LK_EPARSE, "invalid value");
  if (ts.p) {
    if (parse_ts(p, ts, &smp.t_ms))
      return fail(p, LK_EPARSE, "invalid timestamp");
    smp.has_t = 1;
  }
  smp.type = sample_type(p, series);
  rc = p->cb(p->ctx, &smp);
  if (rc) {
    p->err = rc < 0 ? rc : LK_ECANCELED;
    lk_diag_set(&p->errd, p->err, (long)p->off, "line %llu: stopped by the consumer",
                (unsigned long long)p->line + 1);
    return p->err;
  }
  return 0;
}

/* One line without its '\n'. */
static int parse_line(lk_expo *p, const char *b, const char *e)
{
  if (e > b && e[-1] == '\r')
    e--;
  span s = trim((span){b, e});
  if (s.p == s.e)
    return 0;
  if (p->eof)
    return fail(p, LK_EPARSE, "data after # EOF");
  if (*s.p == '#')
    return hash_line(p, (span){s.p + 1, s.e});
  return sample_line(p, s);
}

static int line_too_long(lk_expo *p)
{
  char what[64];
  snprintf(what, sizeof what, "longer than %zu bytes", p->max_line);
  return fail(p, LK_ELIMIT, what);
}

/* Finish a complete line [b, e) that ends one byte before the next line. */
static int complete_line(lk_expo *p, const char *b, const char *e)
{
  if ((size_t)(e - b) > p->max_line)
    return line_too_long(p);
  int rc = parse_line(p, b, e);
  if (rc)
    return rc;
  p->line++;
  p->off += (uint64_t)(e - b) + 1;
  return 0;
}

/* Bytes of a line that continues in a later chunk. */
static int carry_more(lk_expo *p, const uint8_t *data, size_t n)
{
  if (p->carry.len + n > p->max_line)
    return line_too_long(p);
  lk_buf_append(&p->carry, data, n);
  return 0;
}

int lk_expo_feed(lk_expo *p, const uint8_t *data, size_t n, lk_diag *d)
{
  if (p->err)
    return replay(p, d);
  const uint8_t *q = data, *end = data + n;
  int rc = 0;
  if (p->carry.len && n) {
    const uint8_t *nl = memchr(q, '\n', n);
    if (!nl)
      rc = carry_more(p, q, n);
    else if (!(rc = carry_more(p, q, (size_t)(nl - q)))) {
      const char *b = (const char *)p->carry.data;
      rc = complete_line(p, b, b + p->carry.len);
      lk_buf_clear(&p->carry);
      q = nl + 1;
    }
    if (rc || !nl)
      return rc ? replay(p, d) : 0;
  }
  while (q < end) {
    const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
    if (!nl) {
      rc = carry_more(p, q, (size_t)(end - q));
      break;
    }
    if ((rc = complete_line(p, (const char *)q, (const char *)nl)))
      break;
    q = nl + 1;
  }
  return rc ? replay(p, d) : 0;
}

int lk_expo_finish(lk_expo *p, lk_diag *d)
{
  if (p->err)
    return replay(p, d);
  if (!p->carry.len)
    return 0;
  const char *b = (const char *)p->carry.data;
  int rc = complete_line(p, b, b + p->carry.len);
  lk_buf_clear(&p->carry);
  return rc ? replay(p, d) : 0;
}
