/* test_agent_store.c — the local agent's store (main/agent.c) between the
 * collector (fixture cgroup v2 tree) and a real tsdb: labels are resolved
 * on the first cycle only and every later cycle appends by ref; a ref that
 * head GC made stale is resolved again and that cycle's samples are all
 * stored; a series that moves in the batch or first appears later is
 * resolved once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "collector/collector.h"
#include "main/agent.h"
#include "tests/tsdb/tsdb_test_util.h"

#define FIX FIXTURES_DIR "/cgroup"
#define MIN_MS 60000LL
#define T0 1700000000000LL

/* The fixture collector, node metrics off (the real /sys is not fixed). */
static collector *fixture_collector(lookout_agent_store *a)
{
  collector_opts o = {.cgroup_root = FIX "/v2", .proc_root = FIX "/proc", .log_root = FIX "/logs",
                      .node = "store", .no_node = true};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){lookout_agent_store_sink, a}, &c, NULL), 0);
  return c;
}

static size_t samples_of(tsdb *db, const char *name, int64_t mint, int64_t maxt, size_t *nseries)
{
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", name}};
  tsdb_result *r;
  assert_int_equal(tsdb_select(db, m, 1, mint, maxt, NULL, &r, NULL), 0);
  size_t n = 0;
  for (size_t i = 0; i < tsdb_result_count(r); i++)
    n += tsdb_result_get(r, i)->n;
  *nseries = tsdb_result_count(r);
  tsdb_result_free(r);
  return n;
}

static void test_by_ref_and_stale(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.block_range_ms = 60 * MIN_MS, .head_min_samples = 1};
  tsdb *db = tu_open(&o, f->dir);
  assert_non_null(db);
  lookout_agent_store *a = lookout_agent_store_new(db);
  collector *c = fixture_collector(a);
  lookout_agent_store_stats st;

  assert_int_equal(collector_collect(c, T0), 0);
  lookout_agent_store_stats_get(a, &st);
  uint64_t n = st.resolved;
  assert_true(n > 10);
  assert_int_equal(st.appended, n);
  for (int i = 1; i < 6; i++)
    assert_int_equal(collector_collect(c, T0 + i * 1000), 0);
  lookout_agent_store_stats_get(a, &st);
  assert_int_equal(st.resolved, n);          /* no label resolution after the first cycle */
  assert_int_equal(st.appended, 6 * n);
  assert_int_equal(st.stale_batches, 0);

  /* another series moves time on: the next head cut drops the agent's idle series */
  lk_label other[] = {{"__name__", "other"}, {"id", "x"}};
  lk_sample s = {T0 + 200 * MIN_MS, 1};
  tsdb_series_in in = {other, 2, &s, 1};
  assert_int_equal(tsdb_append(db, &in, 1, NULL, NULL), 0);
  tsdb_status *ts;
  assert_int_equal(tsdb_status_get(db, 0, &ts), 0);
  assert_int_equal(ts->head_series, 1);
  tsdb_status_free(ts);

  assert_int_equal(collector_collect(c, T0 + 201 * MIN_MS), 0);
  lookout_agent_store_stats_get(a, &st);
  assert_int_equal(st.stale_batches, 1);
  assert_int_equal(st.resolved, 2 * n);      /* the batch, resolved again */
  assert_int_equal(st.appended, 7 * n);      /* no sample of that cycle lost */
  size_t nseries, got = samples_of(db, "container_cpu_usage_seconds_total", T0, T0 + 300 * MIN_MS, &nseries);
  assert_true(nseries > 0);
  assert_int_equal(got, 7 * nseries);
  assert_int_equal(collector_collect(c, T0 + 201 * MIN_MS + 1000), 0);
  lookout_agent_store_stats_get(a, &st);
  assert_int_equal(st.resolved, 2 * n);
  assert_int_equal(st.appended, 8 * n);
  collector_free(c);
  lookout_agent_store_free(a);
  tsdb_close(db);
}

/* Series that move within the batch, appear or vanish: each new label set
 * is resolved once, every sample stored under its own labels. */
static void test_moving_series(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  assert_non_null(db);
  lookout_agent_store *a = lookout_agent_store_new(db);
  char ids[6][8];
  lk_label ls[6][2];
  for (int i = 0; i < 6; i++) {
    snprintf(ids[i], sizeof ids[i], "s%d", i);
    ls[i][0] = (lk_label){"__name__", "moving"};
    ls[i][1] = (lk_label){"id", ids[i]};
  }
  static const int order[4][4] = {{0, 1, 2, 3}, {1, 0, 2, 3}, {4, 1, 0, 3}, {5, 4, 1, 0}};
  lk_sample smp[4][4];
  lk_series s[4];
  for (int cyc = 0; cyc < 4; cyc++) {
    for (int j = 0; j < 4; j++) {
      int k = order[cyc][j];
      smp[cyc][j] = (lk_sample){T0 + cyc * 1000, 100 * cyc + k};
      s[j] = (lk_series){ls[k], 2, &smp[cyc][j], 1};
    }
    assert_int_equal(lookout_agent_store_sink(a, s, 4), 0);
  }
  lookout_agent_store_stats st;
  lookout_agent_store_stats_get(a, &st);
  assert_int_equal(st.resolved, 6);
  assert_int_equal(st.appended, 16);
  for (int k = 0; k < 6; k++) {
    tsdb_matcher m[] = {{TSDB_EQ, "id", ids[k]}};
    tsdb_result *r;
    assert_int_equal(tsdb_select(db, m, 1, T0, T0 + 10000, NULL, &r, NULL), 0);
    assert_int_equal(tsdb_result_count(r), 1);
    const tsdb_series *ser = tsdb_result_get(r, 0);
    for (size_t i = 0; i < ser->n; i++) /* value 100 * cycle + k: stored under its own labels */
      assert_int_equal((int)ser->v[i] % 100, k);
    tsdb_result_free(r);
  }
  lookout_agent_store_free(a);
  tsdb_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_by_ref_and_stale, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_moving_series, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
