/* lk_err.c — error names from the LK_ERR_MAP table and lk_diag recording. */
#include "lib/lk_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *lk_strerror(int code)
{
  switch (code) {
#define LK__CASE(name, value, text) case value: return text;
    LK_ERR_MAP(LK__CASE)
#undef LK__CASE
  default: return "unknown error";
  }
}

int lk_diag_set(lk_diag *d, int code, long offset, const char *fmt, ...)
{
  if (!d || d->set)
    return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  d->offset = offset;
  d->set = 1;
  return code;
}
