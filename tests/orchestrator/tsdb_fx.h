/* tsdb_fx.h — what the autoscaler's tests share about their real tsdb in a
 * temporary directory: samples every 15 s over the last two minutes of a
 * series, and removing the directory afterwards. Header-only (static
 * functions), included by one test file each. */
#ifndef TESTS_ORCHESTRATOR_TSDB_FX_H
#define TESTS_ORCHESTRATOR_TSDB_FX_H

#include <ftw.h>
#include <stdio.h>

#include "tsdb/tsdb.h"

/* Nine samples at now-120 s … now, every 15 s: v0, v0+step, … */
static void tsdb_fx_add(tsdb *db, int64_t now, const lk_label *ls, size_t n, double v0, double step)
{
  lk_sample s[9];
  for (int i = 0; i < 9; i++)
    s[i] = (lk_sample){now - (8 - i) * 15000, v0 + i * step};
  tsdb_series_in in = {ls, n, s, 9};
  tsdb_append_stats st;
  lk_diag d = {0};
  assert_int_equal(tsdb_append(db, &in, 1, &st, &d), 0);
  assert_int_equal(st.accepted, 9);
}

static int tsdb_fx_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void tsdb_fx_remove_dir(const char *dir)
{
  nftw(dir, tsdb_fx_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
