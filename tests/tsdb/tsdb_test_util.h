/* tsdb_test_util.h — shared helpers for the storage tests: temporary data
 * directories (removed afterwards), label/sample builders, and a select
 * wrapper. Header-only (static) so each test executable stands alone. */
#ifndef TSDB_TEST_UTIL_H
#define TSDB_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsdb/tsdb.h"

static inline int tu_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

/* Fresh empty directory under $TMPDIR (or /tmp); caller frees + tu_rmdir. */
static inline char *tu_tmpdir(void)
{
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char *p = NULL;
  if (asprintf(&p, "%s/tsdbtest.XXXXXX", base) < 0 || !mkdtemp(p))
    abort();
  return p;
}

static inline void tu_rmdir(char *p)
{
  nftw(p, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  free(p);
}

/* cmocka fixture: a fresh data directory per test, removed afterwards. */
typedef struct tu_fx {
  char *dir;
} tu_fx;

static inline int tu_setup(void **state)
{
  tu_fx *f = calloc(1, sizeof *f);
  f->dir = tu_tmpdir();
  *state = f;
  return 0;
}

static inline int tu_teardown(void **state)
{
  tu_fx *f = *state;
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static inline tsdb *tu_open(const tsdb_opts *base, const char *dir)
{
  tsdb_opts o = base ? *base : (tsdb_opts){0};
  o.dir = dir;
  tsdb *db = NULL;
  lk_diag d = {0};
  int rc = tsdb_open(&o, &db, &d);
  if (rc) {
    fprintf(stderr, "tsdb_open: %s (%s)\n", lk_strerror(rc), d.msg);
    return NULL;
  }
  return db;
}

/* Append n samples t0, t0+step, ... with values f(i) to one series given
 * as "k1", "v1", "k2", "v2", ..., NULL. */
static inline int tu_append(tsdb *db, const int64_t *t, const double *v, size_t n,
                     tsdb_append_stats *st, const char *const *kv)
{
  lk_label ls[16];
  size_t nl = 0;
  for (; kv[nl * 2]; nl++)
    ls[nl] = (lk_label){kv[nl * 2], kv[nl * 2 + 1]};
  lk_sample *s = malloc((n ? n : 1) * sizeof *s);
  for (size_t i = 0; i < n; i++)
    s[i] = (lk_sample){t[i], v[i]};
  tsdb_series_in in = {ls, nl, s, n};
  tsdb_append_stats tmp;
  int rc = tsdb_append(db, &in, 1, st ? st : &tmp, NULL);
  free(s);
  return rc;
}

static inline tsdb_result *tu_select1(tsdb *db, enum tsdb_match type, const char *name, const char *value,
                               int64_t mint, int64_t maxt)
{
  tsdb_matcher m = {type, name, value};
  tsdb_result *r = NULL;
  lk_diag d = {0};
  int rc = tsdb_select(db, &m, 1, mint, maxt, NULL, &r, &d);
  if (rc)
    fprintf(stderr, "tsdb_select: %s (%s)\n", lk_strerror(rc), d.msg);
  return r;
}

static inline uint64_t tu_bits(double v)
{
  uint64_t b;
  memcpy(&b, &v, 8);
  return b;
}

static inline double tu_from_bits(uint64_t b)
{
  double v;
  memcpy(&v, &b, 8);
  return v;
}

#endif
