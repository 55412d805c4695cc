/* test_changes.c — the data version and its change log (tsdb/changes.c)
 * through the public API: what counts as a change, and what
 * tsdb_changed_since reports after thousands of changes — always every time
 * changed since the version asked about, the latest ones exactly, older ones
 * coarser only in proportion to their age. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "tests/tsdb/tsdb_test_util.h"

#define NCHANGES 3000
#define T0 1700000000000LL

static void append_at(tsdb *db, const char *series, int64_t t, double v, uint64_t accepted)
{
  const char *kv[] = {"__name__", "c", "s", series, NULL};
  tsdb_append_stats st = {0};
  assert_int_equal(tu_append(db, &t, &v, 1, &st, kv), 0);
  assert_int_equal(st.accepted, accepted);
}

/* Stored samples are changes; a duplicate, a rejected sample and a flush
 * (data moved into blocks) are not. */
static void test_what_is_a_change(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  assert_non_null(db);
  int64_t lo, hi;
  uint64_t v0 = tsdb_data_version(db);
  assert_int_equal(tsdb_changed_since(db, v0, &lo, &hi), v0);
  assert_true(lo > hi);
  append_at(db, "a", T0 + 5000, 1, 1);
  append_at(db, "a", T0 + 5000, 1, 0); /* duplicate */
  append_at(db, "a", T0 + 1000, 2, 0); /* out of order, no window */
  uint64_t v1 = tsdb_changed_since(db, v0, &lo, &hi);
  assert_int_equal(v1, v0 + 1);
  assert_int_equal(lo, T0 + 5000);
  assert_int_equal(hi, T0 + 5000);
  lk_diag d = {0};
  assert_int_equal(tsdb_flush(db, &d), 0);
  assert_int_equal(tsdb_data_version(db), v1);
  tsdb_close(db);
}

/* NCHANGES appends, each a new series at time T0 + i s: the span reported
 * since any version covers every later append; since one of the last four,
 * it is exact; and it reaches back no further than the age of what it
 * covers again. */
static void test_span_since_any_version(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  assert_non_null(db);
  uint64_t *ver = malloc((NCHANGES + 1) * sizeof *ver);
  ver[0] = tsdb_data_version(db);
  for (int i = 0; i < NCHANGES; i++) {
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    append_at(db, name, T0 + (int64_t)i * 1000, i, 1);
    ver[i + 1] = tsdb_data_version(db);
    assert_int_equal(ver[i + 1], ver[i] + 1);
  }
  for (int j = 0; j < NCHANGES; j++) { /* since ver[j]: appends j .. NCHANGES-1 */
    int64_t lo, hi;
    assert_int_equal(tsdb_changed_since(db, ver[j], &lo, &hi), ver[NCHANGES]);
    int64_t first = T0 + (int64_t)j * 1000, newer = NCHANGES - j;
    assert_int_equal(hi, T0 + (int64_t)(NCHANGES - 1) * 1000);
    assert_true(lo <= first);
    assert_true(lo >= first - newer * 1000);
    if (newer <= 4)
      assert_int_equal(lo, first);
  }
  free(ver);
  tsdb_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_what_is_a_change, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_span_since_any_version, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
