/* lk_err.c — error names from the LK_ERR_MAP table and lk_diag recording.
 * A negated errno outside the table (-EACCES from open, -EAGAIN from
 * pthread_create, ...) is named by the C library's static description
 * (strerrordesc_np: thread-safe, never a per-call buffer). */
#include "lib/lk_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lk_strerror(int code)
{
  switch (code) {
#define LK__CASE(name, value, text) case value: return text;
    LK_ERR_MAP(LK__CASE)
#undef LK__CASE
  default: break;
  }
  const char *os = code < 0 && code > -4096 ? strerrordesc_np(-code) : NULL;
  return os ? os : "unknown error";
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
