/* tmpl_funcs.c — the functions an alerting template may call: Prometheus's
 * humanize family, query/first/value/label, Go's built-ins (printf, eq…,
 * and/or/not, len) and the string helpers. Outputs follow Prometheus's
 * template reference and Go's fmt rules for the kinds Lookout has.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/tmpl_int.h"
#include "lib/lk_expo.h"

enum {
  F_HUMANIZE, F_HUMANIZE1024, F_HUMANIZE_DURATION, F_HUMANIZE_PERCENTAGE, F_HUMANIZE_TIMESTAMP,
  F_PRINTF, F_TITLE, F_TO_UPPER, F_TO_LOWER, F_QUERY, F_FIRST, F_VALUE, F_LABEL,
  F_EQ, F_NE, F_LT, F_LE, F_GT, F_GE, F_AND, F_OR, F_NOT, F_LEN,
};

static const alerting__func_info funcs[] = {
  [F_HUMANIZE] = {"humanize", 1, 1},
  [F_HUMANIZE1024] = {"humanize1024", 1, 1},
  [F_HUMANIZE_DURATION] = {"humanizeDuration", 1, 1},
  [F_HUMANIZE_PERCENTAGE] = {"humanizePercentage", 1, 1},
  [F_HUMANIZE_TIMESTAMP] = {"humanizeTimestamp", 1, 1},
  [F_PRINTF] = {"printf", -1, 1},
  [F_TITLE] = {"title", 1, 1},
  [F_TO_UPPER] = {"toUpper", 1, 1},
  [F_TO_LOWER] = {"toLower", 1, 1},
  [F_QUERY] = {"query", 1, 1},
  [F_FIRST] = {"first", 1, 1},
  [F_VALUE] = {"value", 1, 1},
  [F_LABEL] = {"label", 2, 2},
  [F_EQ] = {"eq", -1, 2},
  [F_NE] = {"ne", 2, 2},
  [F_LT] = {"lt", 2, 2},
  [F_LE] = {"le", 2, 2},
  [F_GT] = {"gt", 2, 2},
  [F_GE] = {"ge", 2, 2},
  [F_AND] = {"and", -1, 1},
  [F_OR] = {"or", -1, 1},
  [F_NOT] = {"not", 1, 1},
  [F_LEN] = {"len", 1, 1},
};

#define NFUNCS ((int)(sizeof funcs / sizeof funcs[0]))

int alerting__func_lookup(const char *name, size_t n)
{
  for (int i = 0; i < NFUNCS; i++)
    if (strlen(funcs[i].name) == n && !memcmp(funcs[i].name, name, n))
      return i;
  return -1;
}

const alerting__func_info *alerting__func_get(int idx) { return &funcs[idx]; }

const char *alerting__type_name(int kind)
{
  switch (kind) {
  case ALERTING__V_BOOL: return "bool";
  case ALERTING__V_INT: return "int";
  case ALERTING__V_FLOAT: return "float64";
  case ALERTING__V_STR: return "string";
  case ALERTING__V_SAMPLE: return "*template.sample";
  case ALERTING__V_VEC: return "template.queryResult";
  case ALERTING__V_LABELS: return "map[string]string";
  case ALERTING__V_NIL: return "<nil>";
  default: return "*template.tmplData";
  }
}

static alerting__val arena_str(alerting__exec *x, lk_buf *b)
{
  const char *s = lk_arena_strndup(x->a, b->data ? (const char *)b->data : "", b->len);
  alerting__val v = {.kind = ALERTING__V_STR, .s = s, .slen = b->len};
  lk_buf_fini(b);
  return v;
}

/* Prometheus's convertToFloat: floats, ints and numeric strings. */
static int to_float(alerting__exec *x, const alerting__val *v, double *out)
{
  if (v->kind == ALERTING__V_FLOAT)
    return *out = v->f, 0;
  if (v->kind == ALERTING__V_INT)
    return *out = (double)v->i, 0;
  if (v->kind == ALERTING__V_STR && !lk_parse_go_float(v->s, v->slen, out))
    return 0;
  if (v->kind == ALERTING__V_STR)
    return alerting__exec_err(x, "strconv.ParseFloat: parsing \"%s\": invalid syntax", v->s);
  return alerting__exec_err(x, "can't convert %s to float", alerting__type_name(v->kind));
}

/* Go's %.4g: C's, except for the names of the special values. */
static void put_g4(lk_buf *b, double v)
{
  if (isnan(v))
    lk_buf_puts(b, "NaN");
  else if (isinf(v))
    lk_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else
    lk_buf_printf(b, "%.4g", v);
}

static void humanize(lk_buf *b, double v)
{
  static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
  static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  const char *prefix = "";
  if (v == 0 || isnan(v) || isinf(v)) {
    put_g4(b, v);
    return;
  }
  if (fabs(v) >= 1) {
    for (size_t i = 0; i < 8 && fabs(v) >= 1000; i++) {
      prefix = big[i];
      v /= 1000;
    }
  } else {
    for (size_t i = 0; i < 8 && fabs(v) < 1; i++) {
      prefix = small[i];
      v *= 1000;
    }
  }
  put_g4(b, v);
  lk_buf_puts(b, prefix);
}

static void humanize1024(lk_buf *b, double v)
{
  static const char *const big[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
  const char *prefix = "";
  if (fabs(v) > 1 && !isinf(v)) {
    for (size_t i = 0; i < 8 && fabs(v) >= 1024; i++) {
      prefix = big[i];
      v /= 1024;
    }
  }
  put_g4(b, v);
  lk_buf_puts(b, prefix);
}

static void humanize_duration(lk_buf *b, double v)
{
  if (isnan(v) || isinf(v)) {
    put_g4(b, v);
    return;
  }
  if (v == 0) {
    lk_buf_puts(b, "0s");
    return;
  }
  if (fabs(v) >= 1) {
    const char *sign = v < 0 ? "-" : "";
    v = fabs(v);
    long long t = v >= 9.2e18 ? 9200000000000000000LL : (long long)v;
    long long s = t % 60, m = t / 60 % 60, h = t / 3600 % 24, days = t / 86400;
    if (days)
      lk_buf_printf(b, "%s%lldd %lldh %lldm %llds", sign, days, h, m, s);
    else if (h)
      lk_buf_printf(b, "%s%lldh %lldm %llds", sign, h, m, s);
    else if (m)
      lk_buf_printf(b, "%s%lldm %llds", sign, m, s);
    else
      lk_buf_printf(b, "%s%.4gs", sign, v);
    return;
  }
  static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  const char *prefix = "";
  for (size_t i = 0; i < 8 && fabs(v) < 1; i++) {
    prefix = small[i];
    v *= 1000;
  }
  put_g4(b, v);
  lk_buf_printf(b, "%ss", prefix);
}

/* Go's time.Time.String of the UTC time, at Prometheus's millisecond precision. */
static int humanize_timestamp(alerting__exec *x, lk_buf *b, double v)
{
  if (isnan(v) || isinf(v)) {
    put_g4(b, v);
    return 0;
  }
  if (fabs(v) * 1e9 >= 9.2e18)
    return alerting__exec_err(x, "%g cannot be represented as a nanoseconds timestamp", v);
  long long ms = (long long)(v * 1e9) / 1000000;
  long long sec = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    sec--;
  }
  time_t tt = (time_t)sec;
  struct tm tm;
  gmtime_r(&tt, &tm);
  lk_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac) {
    char digits[8];
    int n = snprintf(digits, sizeof digits, "%03lld", frac);
    while (n > 0 && digits[n - 1] == '0')
      n--;
    lk_buf_printf(b, ".%.*s", n, digits);
  }
  lk_buf_puts(b, " +0000 UTC");
  return 0;
}

static int need_str(alerting__exec *x, const alerting__val *v)
{
  if (v->kind == ALERTING__V_STR)
    return 0;
  return alerting__exec_err(x, "wrong type for value; expected string; got %s", alerting__type_name(v->kind));
}

/* Go's strings.Title over ASCII: a letter after a non-letter, non-digit,
 * non-underscore byte is upper-cased; bytes of other characters are kept. */
static void title(lk_buf *b, const char *s, size_t n)
{
  int prev_sep = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    lk_buf_putc(b, prev_sep && c < 0x80 ? (uint8_t)toupper(c) : c);
    prev_sep = c < 0x80 && !isalnum(c) && c != '_';
  }
}

static int run_query(alerting__exec *x, const alerting__val *arg, alerting__val *out)
{
  if (need_str(x, arg))
    return LK_EEXEC;
  if (!x->data->query)
    return alerting__exec_err(x, "query: no query engine in this context");
  alerting_sample *res = NULL;
  size_t n = 0;
  int rc = x->data->query(x->data->query_ctx, arg->s, &res, &n, x->d);
  if (rc) {
    free(res);
    alerting__exec_err(x, "error executing query %s: %s", arg->s, lk_strerror(rc));
    return rc;
  }
  alerting_sample *copy = n ? lk_arena_alloc(x->a, n * sizeof *copy) : NULL;
  if (n)
    memcpy(copy, res, n * sizeof *copy);
  free(res);
  *out = (alerting__val){.kind = ALERTING__V_VEC, .smp = copy, .n = n};
  return 0;
}

/* eq/lt/…: same basic kind, as Go's template comparisons require. */
static int compare(alerting__exec *x, const alerting__val *a, const alerting__val *b, int *cmp)
{
  int ka = a->kind, kb = b->kind;
  if (ka != kb)
    return alerting__exec_err(x, "incompatible types for comparison");
  switch (ka) {
  case ALERTING__V_INT: *cmp = (a->i > b->i) - (a->i < b->i); return 0;
  case ALERTING__V_FLOAT:
    *cmp = isnan(a->f) || isnan(b->f) ? 2 : (a->f > b->f) - (a->f < b->f);
    return 0;
  case ALERTING__V_STR: {
    size_t n = a->slen < b->slen ? a->slen : b->slen;
    int c = memcmp(a->s, b->s, n);
    *cmp = c ? (c > 0) - (c < 0) : (a->slen > b->slen) - (a->slen < b->slen);
    return 0;
  }
  case ALERTING__V_BOOL: *cmp = a->i == b->i ? 0 : 3; return 0;
  default: return alerting__exec_err(x, "invalid type for comparison");
  }
}

static int relation(alerting__exec *x, int f, const alerting__val *args, size_t n, alerting__val *out)
{
  out->kind = ALERTING__V_BOOL;
  int c = 0, rc;
  if (f == F_EQ) {
    out->i = 0;
    for (size_t i = 1; i < n && !out->i; i++) {
      if ((rc = compare(x, &args[0], &args[i], &c)))
        return rc;
      out->i = c == 0;
    }
    return 0;
  }
  if ((rc = compare(x, &args[0], &args[1], &c)))
    return rc;
  if (f != F_NE && args[0].kind == ALERTING__V_BOOL)
    return alerting__exec_err(x, "invalid type for comparison");
  switch (f) {
  case F_NE: out->i = c != 0; break;
  case F_LT: out->i = c == -1; break;
  case F_LE: out->i = c == -1 || c == 0; break;
  case F_GT: out->i = c == 1; break;
  default: out->i = c == 1 || c == 0; break;
  }
  return 0;
}

/* and: the first false argument or the last; or: the first true one or the
 * last; not: the negated truth. */
static int logic(int f, const alerting__val *args, size_t n, alerting__val *out)
{
  if (f == F_NOT)
    return *out = (alerting__val){.kind = ALERTING__V_BOOL, .i = !alerting__truth(&args[0])}, 0;
  size_t i = 0;
  while (i + 1 < n && alerting__truth(&args[i]) == (f == F_AND))
    i++;
  *out = args[i];
  return 0;
}

int alerting__call(alerting__exec *x, int f, const alerting__val *args, size_t n, alerting__val *out)
{
  lk_buf b = {0};
  double v = 0;
  int rc = 0;
  if (f <= F_HUMANIZE_TIMESTAMP && (rc = to_float(x, &args[0], &v)))
    return rc;
  switch (f) {
  case F_HUMANIZE: humanize(&b, v); break;
  case F_HUMANIZE1024: humanize1024(&b, v); break;
  case F_HUMANIZE_DURATION: humanize_duration(&b, v); break;
  case F_HUMANIZE_PERCENTAGE: put_g4(&b, v * 100), lk_buf_putc(&b, '%'); break;
  case F_HUMANIZE_TIMESTAMP: rc = humanize_timestamp(x, &b, v); break;
  case F_PRINTF:
    if ((rc = need_str(x, &args[0])))
      return rc;
    alerting__printf(&b, args[0].s, args[0].slen, args + 1, n - 1);
    break;
  case F_TITLE:
  case F_TO_UPPER:
  case F_TO_LOWER:
    if ((rc = need_str(x, &args[0])))
      return rc;
    if (f == F_TITLE)
      title(&b, args[0].s, args[0].slen);
    for (size_t i = 0; f != F_TITLE && i < args[0].slen; i++) {
      int c = (unsigned char)args[0].s[i];
      lk_buf_putc(&b, (uint8_t)(c >= 0x80 ? c : f == F_TO_UPPER ? toupper(c) : tolower(c)));
    }
    break;
  case F_QUERY: return run_query(x, &args[0], out);
  case F_FIRST:
    if (args[0].kind != ALERTING__V_VEC)
      return alerting__exec_err(x, "first: expected a query result, got %s", alerting__type_name(args[0].kind));
    if (!args[0].n)
      return alerting__exec_err(x, "first() called on vector with no elements");
    *out = (alerting__val){.kind = ALERTING__V_SAMPLE, .smp = args[0].smp};
    return 0;
  case F_VALUE:
  case F_LABEL: {
    const alerting__val *s = &args[n - 1];
    if (s->kind != ALERTING__V_SAMPLE)
      return alerting__exec_err(x, "%s: expected a sample, got %s", funcs[f].name, alerting__type_name(s->kind));
    if (f == F_VALUE)
      return *out = (alerting__val){.kind = ALERTING__V_FLOAT, .f = s->smp->value}, 0;
    if ((rc = need_str(x, &args[0])))
      return rc;
    const char *lv = lk_labels_get(s->smp->labels, s->smp->nlabels, args[0].s);
    return *out = (alerting__val){.kind = ALERTING__V_STR, .s = lv ? lv : "", .slen = lv ? strlen(lv) : 0}, 0;
  }
  case F_LEN:
    if (args[0].kind == ALERTING__V_STR)
      return *out = (alerting__val){.kind = ALERTING__V_INT, .i = (int64_t)args[0].slen}, 0;
    if (args[0].kind == ALERTING__V_VEC || args[0].kind == ALERTING__V_LABELS)
      return *out = (alerting__val){.kind = ALERTING__V_INT, .i = (int64_t)args[0].n}, 0;
    return alerting__exec_err(x, "len of type %s", alerting__type_name(args[0].kind));
  case F_AND:
  case F_OR:
  case F_NOT: return logic(f, args, n, out);
  default: return relation(x, f, args, n, out);
  }
  if (rc) {
    lk_buf_fini(&b);
    return rc;
  }
  *out = arena_str(x, &b);
  return 0;
}
