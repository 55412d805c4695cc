/* lk_err.h — Lookout's one error table and the diagnostic carrier.
 *
 * Every function in the project returns 0 (LK_OK) or a negative LK_E* code.
 * Codes that mirror errno are negated errno values; project codes live at
 * -1000 and below; a function may also return any other negated errno
 * (-EACCES, -EPERM, ...). lk_strerror() names any code. User-facing detail
 * (what was wrong and where) travels in an optional lk_diag, which web/
 * turns into the Prometheus/Loki JSON error body.
 */
#ifndef LK_ERR_H
#define LK_ERR_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* X(name, value, text) */
#define LK_ERR_MAP(X)                                                    \
  X(LK_OK,        0,            "ok")                                    \
  X(LK_ENOMEM,    -ENOMEM,      "out of memory")                         \
  X(LK_EINVAL,    -EINVAL,      "invalid argument")                      \
  X(LK_EIO,       -EIO,         "input/output error")                    \
  X(LK_ENOENT,    -ENOENT,      "no such file or entry")                 \
  X(LK_EEXIST,    -EEXIST,      "already exists")                        \
  X(LK_EAGAIN,    -EAGAIN,      "try again")                             \
  X(LK_EPERM,     -EPERM,       "operation not permitted")               \
  X(LK_ENOSPC,    -ENOSPC,      "no space left")                         \
  X(LK_ECORRUPT,  -1000,        "corrupt data")                          \
  X(LK_EPARSE,    -1001,        "parse error")                           \
  X(LK_ELIMIT,    -1002,        "limit exceeded")                        \
  X(LK_ETOOBIG,   -1003,        "too large")                             \
  X(LK_EOOO,      -1004,        "out of order sample")                   \
  X(LK_ETIMEOUT,  -1005,        "timed out")                             \
  X(LK_ENOTSUP,   -1006,        "not supported")                         \
  X(LK_ECANCELED, -1007,        "canceled")                              \
  X(LK_EEXEC,     -1008,        "execution error")                       \
  X(LK_EUNAVAIL,  -1009,        "not yet available")

enum lk_err {
#define LK__ENUM(name, value, text) name = value,
  LK_ERR_MAP(LK__ENUM)
#undef LK__ENUM
};

/* Static text for a code: the table's, or for any other negated errno the
 * C library's description ("Permission denied"); never NULL ("unknown
 * error" for codes that are neither). Thread-safe. */
const char *lk_strerror(int code);

/* A user-facing message plus the byte offset (or -1) it refers to.
 * Zero-initialise; the first lk_diag_set wins, so the innermost cause is kept. */
typedef struct lk_diag {
  char msg[512];
  long offset;
  int set;
} lk_diag;

/* Record a message if d is non-NULL and nothing was recorded yet. Returns code
 * unchanged, so callers can write `return lk_diag_set(d, LK_EPARSE, off, ...)`. */
int lk_diag_set(lk_diag *d, int code, long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A stored file in a format this build does not read (unknown magic or
 * version, e.g. after a downgrade): records one message naming the file and
 * both formats, returns LK_ECORRUPT. Stores refuse such a file whole and
 * change nothing in it. */
int lk_diag_unknown_format(lk_diag *d, const char *path, uint32_t magic, uint32_t version,
                           uint32_t want_magic, uint32_t want_version);

#endif
