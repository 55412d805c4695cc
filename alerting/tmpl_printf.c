/* tmpl_printf.c — the template function printf: Go's fmt.Sprintf for the
 * value kinds a template has (bool, int, float64, string). Verbs %v %s %d
 * %f %F %e %E %g %G %q %t and %% with flags, width and precision; a verb
 * that does not fit its argument prints Go's "%!d(float64=1.5)", a missing
 * argument "%!d(MISSING)", extra ones "%!(EXTRA int=1)".
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/tmpl_int.h"
#include "lib/lk_expo.h"

typedef struct spec {
  char flags[8];
  int width, prec; /* -1: not given */
  char verb;
} spec;

/* The kinds printf formats itself; others print as %v does. */
static int basic_kind(int kind)
{
  return kind == ALERTING__V_BOOL || kind == ALERTING__V_INT || kind == ALERTING__V_FLOAT ||
         kind == ALERTING__V_STR;
}

static void bad_verb(lk_buf *b, char verb, const alerting__val *v)
{
  lk_buf_printf(b, "%%!%c(%s=", verb, alerting__type_name(v->kind));
  alerting__print(v, b);
  lk_buf_putc(b, ')');
}

/* Pads the text written since `start` to the spec's width. */
static void pad(lk_buf *b, size_t start, const spec *sp)
{
  size_t n = b->len - start;
  if (sp->width < 0 || n >= (size_t)sp->width)
    return;
  size_t fill = (size_t)sp->width - n;
  lk_buf_reserve(b, fill);
  if (strchr(sp->flags, '-')) {
    memset(b->data + b->len, ' ', fill);
  } else {
    memmove(b->data + start + fill, b->data + start, n);
    memset(b->data + start, ' ', fill);
  }
  b->len += fill;
  b->data[b->len] = 0;
}

static void quote(lk_buf *b, const char *s, size_t n)
{
  lk_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\t' ? "\\t"
                    : c == '\r' ? "\\r" : NULL;
    if (esc)
      lk_buf_puts(b, esc);
    else if (c < 0x20 || c == 0x7f)
      lk_buf_printf(b, "\\x%02x", c);
    else
      lk_buf_putc(b, c);
  }
  lk_buf_putc(b, '"');
}

/* A C conversion with the spec's flags, width and precision. */
static void c_format(lk_buf *b, const spec *sp, const char *len_mod, char verb, const void *arg)
{
  char f[48];
  int n = snprintf(f, sizeof f, "%%%s", sp->flags);
  if (sp->width >= 0)
    n += snprintf(f + n, sizeof f - (size_t)n, "%d", sp->width);
  if (sp->prec >= 0)
    n += snprintf(f + n, sizeof f - (size_t)n, ".%d", sp->prec);
  snprintf(f + n, sizeof f - (size_t)n, "%s%c", len_mod, verb);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  if (verb == 'd')
    lk_buf_printf(b, f, *(const long long *)arg);
  else if (verb == 's')
    lk_buf_printf(b, f, (const char *)arg);
  else
    lk_buf_printf(b, f, *(const double *)arg);
#pragma GCC diagnostic pop
}

static void format_float(lk_buf *b, const spec *sp, double v)
{
  size_t start = b->len;
  char verb = sp->verb == 'v' ? 'g' : sp->verb;
  if (isnan(v) || isinf(v)) {
    lk_buf_puts(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
  } else if ((verb == 'g' || verb == 'G') && sp->prec < 0) {
    if (strchr(sp->flags, '+') && !signbit(v))
      lk_buf_putc(b, '+');
    size_t s0 = b->len;
    lk_expo_write_value(b, v);
    for (size_t i = s0; verb == 'G' && i < b->len; i++)
      b->data[i] = (uint8_t)toupper(b->data[i]);
  } else {
    c_format(b, sp, "", verb, &v);
    return;
  }
  pad(b, start, sp);
}

static void format_one(lk_buf *b, const spec *sp, const alerting__val *v)
{
  size_t start = b->len;
  char verb = sp->verb;
  int k = v->kind;
  if (k == ALERTING__V_FLOAT && strchr("vfFeEgG", verb)) {
    format_float(b, sp, v->f);
  } else if (k == ALERTING__V_INT && (verb == 'd' || verb == 'v')) {
    long long i = (long long)v->i;
    c_format(b, sp, "ll", 'd', &i);
  } else if (k == ALERTING__V_STR && (verb == 's' || verb == 'v')) {
    char *s = lk_xstrndup(v->s, v->slen);
    c_format(b, sp, "", 's', s);
    free(s);
  } else if (k == ALERTING__V_STR && verb == 'q') {
    quote(b, v->s, v->slen);
    pad(b, start, sp);
  } else if ((k == ALERTING__V_BOOL && (verb == 't' || verb == 'v')) ||
             (verb == 'v' && !basic_kind(k))) {
    alerting__print(v, b);
    pad(b, start, sp);
  } else {
    bad_verb(b, verb, v);
  }
}

/* Reads flags, width, precision and verb after a '%'; returns the bytes read. */
static size_t read_spec(const char *f, size_t n, spec *sp)
{
  size_t i = 0, nf = 0;
  *sp = (spec){.width = -1, .prec = -1};
  while (i < n && strchr("+-# 0", f[i]) && nf < sizeof sp->flags - 1)
    sp->flags[nf++] = f[i++];
  while (i < n && isdigit((unsigned char)f[i]) && sp->width < 10000)
    sp->width = (sp->width < 0 ? 0 : sp->width * 10) + (f[i++] - '0');
  if (i < n && f[i] == '.') {
    sp->prec = 0;
    for (i++; i < n && isdigit((unsigned char)f[i]) && sp->prec < 10000; i++)
      sp->prec = sp->prec * 10 + (f[i] - '0');
  }
  sp->verb = i < n ? f[i++] : 0;
  return i;
}

void alerting__printf(lk_buf *b, const char *fmt, size_t flen, const alerting__val *args, size_t n)
{
  size_t used = 0;
  for (size_t i = 0; i < flen; i++) {
    if (fmt[i] != '%') {
      lk_buf_putc(b, (uint8_t)fmt[i]);
      continue;
    }
    spec sp;
    i += read_spec(fmt + i + 1, flen - i - 1, &sp);
    if (!sp.verb)
      lk_buf_puts(b, "%!(NOVERB)");
    else if (sp.verb == '%')
      lk_buf_putc(b, '%');
    else if (used == n)
      lk_buf_printf(b, "%%!%c(MISSING)", sp.verb);
    else
      format_one(b, &sp, &args[used++]);
  }
  if (used < n) {
    lk_buf_puts(b, "%!(EXTRA ");
    for (size_t i = used; i < n; i++) {
      lk_buf_printf(b, "%s%s=", i > used ? ", " : "", alerting__type_name(args[i].kind));
      alerting__print(&args[i], b);
    }
    lk_buf_putc(b, ')');
  }
}
