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

int lk_diag_unknown_format(lk_diag *d, const char *path, uint32_t magic, uint32_t version,
                           uint32_t want_magic, uint32_t want_version)
{
  return lk_diag_set(d, LK_ECORRUPT, 0,
                     "%s: unknown file format (magic 0x%08x version %u; this build reads magic 0x%08x "
                     "version %u): refusing to open it, the file is left unchanged",
                     path, magic, version, want_magic, want_version);
}
