/* lk_expo_write.c — writing exposition text (for /metrics pages and tests).
 *
 * Values are formatted as Prometheus' client libraries do (Go's
 * strconv.FormatFloat(v, 'g', -1, 64)): the shortest digit string that reads
 * back to the same double; %e style (at least two exponent digits) when the
 * decimal exponent is < -4 or ≥ 6 — Go uses 6 for the shortest form — else
 * plain decimal. Zero is written "0" and the specials NaN, +Inf, -Inf.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_expo.h"
#include "lib/lk_expo_int.h"

/* Shortest %.*e rendering that round-trips: OUT digits count and exponent. */
static void shortest_digits(double v, int *nd, int *exp10)
{
  char tmp[40];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec, v);
    if (strtod(tmp, NULL) == v) {
      *nd = prec + 1;
      *exp10 = atoi(strchr(tmp, 'e') + 1);
      return;
    }
  }
  snprintf(tmp, sizeof tmp, "%.16e", v);
  *nd = 17;
  *exp10 = atoi(strchr(tmp, 'e') + 1);
}

void lk_expo_write_value(lk_buf *out, double v)
{
  if (isnan(v)) {
    lk_buf_puts(out, "NaN");
    return;
  }
  if (isinf(v)) {
    lk_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (v == 0) {
    lk_buf_putc(out, '0');
    return;
  }
  int nd, exp10;
  shortest_digits(v, &nd, &exp10);
  if (exp10 < -4 || exp10 >= 6) {
    lk_buf_printf(out, "%.*e", nd - 1, v);
  } else {
    int decimals = nd - 1 - exp10;
    lk_buf_printf(out, "%.*f", decimals > 0 ? decimals : 0, v);
  }
}

static void put_escaped(lk_buf *out, const char *s, int quote)
{
  for (; *s; s++) {
    if (*s == '\\')
      lk_buf_puts(out, "\\\\");
    else if (*s == '\n')
      lk_buf_puts(out, "\\n");
    else if (quote && *s == '"')
      lk_buf_puts(out, "\\\"");
    else
      lk_buf_putc(out, (uint8_t)*s);
  }
}

void lk_expo_write_help(lk_buf *out, const char *name, const char *help)
{
  lk_buf_printf(out, "# HELP %s ", name);
  put_escaped(out, help, 0);
  lk_buf_putc(out, '\n');
}

void lk_expo_write_type(lk_buf *out, const char *name, int type)
{
  lk_buf_printf(out, "# TYPE %s %s\n", name, lk__expo_type_name(type));
}

void lk_expo_write_sample(lk_buf *out, const char *name, const lk_label *ls, size_t n, double v,
                          int64_t t_ms, int has_t)
{
  if (!name)
    name = lk_labels_get(ls, n, "__name__");
  lk_buf_puts(out, name ? name : "");
  int first = 1;
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(ls[i].name, "__name__"))
      continue;
    lk_buf_puts(out, first ? "{" : ",");
    first = 0;
    lk_buf_printf(out, "%s=\"", ls[i].name);
    put_escaped(out, ls[i].value, 1);
    lk_buf_putc(out, '"');
  }
  if (!first)
    lk_buf_putc(out, '}');
  lk_buf_putc(out, ' ');
  lk_expo_write_value(out, v);
  if (has_t)
    lk_buf_printf(out, " %lld", (long long)t_ms);
  lk_buf_putc(out, '\n');
}
