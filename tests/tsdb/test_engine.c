/* test_engine.c — the tsdb engine through its public API (tsdb/tsdb.h):
 * append/select round trips (special floats bit-exact), matcher semantics,
 * OOO window accounting, limits (nothing stored from a failing batch),
 * refs fast path, label listing and status. Each test uses its own
 * temporary data directory and frees everything (ASan leak check).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>

#include "tests/tsdb/tsdb_test_util.h"

#define MIN (60 * 1000LL)
#define T0 1700000000000LL

typedef struct fx {
  char *dir;
  tsdb *db;
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof *f);
  f->dir = tu_tmpdir();
  tsdb_opts o = {.ooo_window_ms = 10 * MIN};
  f->db = tu_open(&o, f->dir);
  *state = f;
  return f->db ? 0 : -1;
}

static int teardown(void **state)
{
  fx *f = *state;
  tsdb_close(f->db);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static void test_roundtrip_special_floats(void **state)
{
  fx *f = *state;
  const uint64_t bits[] = {TSDB_STALE_NAN_BITS, 0x7ff8000000000001ULL, 0x7ff0000000000000ULL,
                           0xfff0000000000000ULL, 0x8000000000000000ULL, 1, 0x7ff4000000000123ULL,
                           0x3ff0000000000000ULL};
  size_t n = sizeof bits / sizeof bits[0];
  int64_t t[8];
  double v[8];
  for (size_t i = 0; i < n; i++) {
    t[i] = T0 + (int64_t)i * 15000;
    v[i] = tu_from_bits(bits[i]);
  }
  tsdb_append_stats st;
  assert_int_equal(tu_append(f->db, t, v, n, &st, (const char *[]){"__name__", "up", "job", "a", NULL}), 0);
  assert_int_equal(st.accepted, n);
  for (int round = 0; round < 2; round++) {
    tsdb_result *r = tu_select1(f->db, TSDB_EQ, "__name__", "up", T0, T0 + 10 * MIN);
    assert_non_null(r);
    assert_int_equal(tsdb_result_count(r), 1);
    const tsdb_series *s = tsdb_result_get(r, 0);
    assert_int_equal(s->n, n);
    assert_int_equal(s->nlabels, 2);
    assert_string_equal(s->labels[0].name, "__name__");
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(s->t[i], t[i]);
      assert_int_equal(tu_bits(s->v[i]), bits[i]);
    }
    tsdb_result_free(r);
    assert_int_equal(tsdb_flush(f->db, NULL), 0); /* second round reads the block */
  }
}

static void add_series(tsdb *db, const char *name, const char *job, const char *inst, int nsamp)
{
  int64_t t[64];
  double v[64];
  for (int i = 0; i < nsamp; i++) {
    t[i] = T0 + i * 15000;
    v[i] = i;
  }
  const char *kv[] = {"__name__", name, "job", job, inst ? "instance" : NULL, inst, NULL};
  assert_int_equal(tu_append(db, t, v, (size_t)nsamp, NULL, kv), 0);
}

static size_t count_sel(tsdb *db, const tsdb_matcher *m, size_t nm, int *rc_out)
{
  tsdb_result *r = NULL;
  lk_diag d = {0};
  int rc = tsdb_select(db, m, nm, T0, T0 + 60 * MIN, NULL, &r, &d);
  if (rc_out)
    *rc_out = rc;
  size_t n = rc ? 0 : tsdb_result_count(r);
  tsdb_result_free(r);
  return n;
}

static void check_matchers(tsdb *db)
{
  int rc;
  tsdb_matcher m1[] = {{TSDB_EQ, "__name__", "cpu"}};
  assert_int_equal(count_sel(db, m1, 1, NULL), 3);
  tsdb_matcher m2[] = {{TSDB_EQ, "__name__", "cpu"}, {TSDB_NE, "job", "api"}};
  assert_int_equal(count_sel(db, m2, 2, NULL), 1);
  tsdb_matcher m3[] = {{TSDB_RE, "job", "ap.*"}};
  assert_int_equal(count_sel(db, m3, 1, NULL), 3);
  tsdb_matcher m4[] = {{TSDB_RE, "job", "api|db"}};
  assert_int_equal(count_sel(db, m4, 1, NULL), 4);
  tsdb_matcher m5[] = {{TSDB_RE, "job", "ap"}}; /* anchored: no partial match */
  assert_int_equal(count_sel(db, m5, 1, NULL), 0);
  /* matches empty → also series lacking the label */
  tsdb_matcher m6[] = {{TSDB_EQ, "__name__", "cpu"}, {TSDB_EQ, "instance", ""}};
  assert_int_equal(count_sel(db, m6, 2, NULL), 1);
  tsdb_matcher m7[] = {{TSDB_EQ, "__name__", "cpu"}, {TSDB_RE, "instance", "a|"}};
  assert_int_equal(count_sel(db, m7, 2, NULL), 2);
  tsdb_matcher m8[] = {{TSDB_EQ, "__name__", "cpu"}, {TSDB_NRE, "instance", "a.*"}};
  assert_int_equal(count_sel(db, m8, 2, NULL), 2);
  tsdb_matcher m9[] = {{TSDB_NE, "instance", "x"}};
  assert_int_equal(count_sel(db, m9, 1, &rc), 0);
  assert_int_equal(rc, LK_EINVAL);
  tsdb_matcher m10[] = {{TSDB_RE, "job", ".*"}};
  assert_int_equal(count_sel(db, m10, 1, &rc), 0);
  assert_int_equal(rc, LK_EINVAL);
  tsdb_matcher m11[] = {{TSDB_RE, "job", "a("}};
  count_sel(db, m11, 1, &rc);
  assert_int_equal(rc, LK_EPARSE);
  tsdb_matcher m12[] = {{TSDB_RE, "job", ".+"}};
  assert_int_equal(count_sel(db, m12, 1, NULL), 5);
  tsdb_matcher m14[] = {{TSDB_EQ, "__name__", "cpu"}, {TSDB_RE, "instance", "(?:a|b)"}};
  assert_int_equal(count_sel(db, m14, 2, NULL), 2);
  tsdb_matcher m15[] = {{TSDB_RE, "job", "\\w+"}, {TSDB_NRE, "job", "a\\D\\D"}};
  assert_int_equal(count_sel(db, m15, 2, NULL), 2);
  tsdb_matcher m13[] = {{TSDB_EQ, "nosuch", "x"}};
  assert_int_equal(count_sel(db, m13, 1, NULL), 0);
}

static void test_matchers(void **state)
{
  fx *f = *state;
  add_series(f->db, "cpu", "api", "a", 4);
  add_series(f->db, "cpu", "api", "b", 4);
  add_series(f->db, "cpu", "db", NULL, 4);
  add_series(f->db, "mem", "api", "a", 4);
  add_series(f->db, "mem", "web", "a", 4);
  check_matchers(f->db); /* head */
  assert_int_equal(tsdb_flush(f->db, NULL), 0);
  check_matchers(f->db); /* blocks */
  /* sorted by label set */
  tsdb_result *r = tu_select1(f->db, TSDB_RE, "job", ".+", T0, T0 + MIN);
  assert_int_equal(tsdb_result_count(r), 5);
  for (size_t i = 1; i < 5; i++) {
    const tsdb_series *a = tsdb_result_get(r, i - 1), *b = tsdb_result_get(r, i);
    assert_true(lk_labels_cmp(a->labels, a->nlabels, b->labels, b->nlabels) < 0);
  }
  tsdb_result_free(r);
}

static void test_head_block_merge_dedup(void **state)
{
  fx *f = *state;
  const char *kv[] = {"__name__", "m", NULL};
  int64_t t[20];
  double v[20];
  for (int i = 0; i < 10; i++) {
    t[i] = T0 + i * 1000;
    v[i] = i;
  }
  assert_int_equal(tu_append(f->db, t, v, 10, NULL, kv), 0);
  assert_int_equal(tsdb_flush(f->db, NULL), 0);
  /* same series: duplicates of block data (new process state keeps max_t, so
   * duplicates are detected) and newer samples into the head */
  tsdb_append_stats st;
  assert_int_equal(tu_append(f->db, t + 9, v + 9, 1, &st, kv), 0);
  assert_int_equal(st.duplicates, 1);
  for (int i = 10; i < 20; i++) {
    t[i] = T0 + i * 1000;
    v[i] = i;
  }
  assert_int_equal(tu_append(f->db, t + 10, v + 10, 10, &st, kv), 0);
  assert_int_equal(st.accepted, 10);
  tsdb_result *r = tu_select1(f->db, TSDB_EQ, "__name__", "m", T0 + 5000, T0 + 14000);
  assert_int_equal(tsdb_result_count(r), 1);
  const tsdb_series *s = tsdb_result_get(r, 0);
  assert_int_equal(s->n, 10);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal(s->t[i], T0 + (int64_t)(i + 5) * 1000);
    assert_true(s->v[i] == (double)(i + 5));
  }
  tsdb_result_free(r);
  /* labels_only sees the series only where it has data */
  tsdb_select_opts lo = {.labels_only = true};
  tsdb_matcher m = {TSDB_EQ, "__name__", "m"};
  assert_int_equal(tsdb_select(f->db, &m, 1, T0 + 19000, T0 + 99000, &lo, &r, NULL), 0);
  assert_int_equal(tsdb_result_count(r), 1);
  assert_int_equal(tsdb_result_get(r, 0)->n, 0);
  tsdb_result_free(r);
  assert_int_equal(tsdb_select(f->db, &m, 1, T0 + 19500, T0 + 99000, &lo, &r, NULL), 0);
  assert_int_equal(tsdb_result_count(r), 0);
  tsdb_result_free(r);
}

static void test_ooo_window(void **state)
{
  fx *f = *state; /* window 10 min */
  const char *kv[] = {"__name__", "o", NULL};
  int64_t t[] = {T0 + 30 * MIN, T0 + 25 * MIN, T0 + 5 * MIN, T0 + 30 * MIN, T0 + 30 * MIN,
                 T0 + 25 * MIN, T0 + 21 * MIN};
  double v[] = {1, 2, 3, 1, 9, 2, 4};
  tsdb_append_stats st;
  assert_int_equal(tu_append(f->db, t, v, 7, &st, kv), 0);
  assert_int_equal(st.accepted, 3);      /* 30, 25 (ooo ok), 21 (ooo ok) */
  assert_int_equal(st.rejected[TSDB_REJECT_OUT_OF_ORDER], 1);  /* 5 min: beyond the window */
  assert_int_equal(st.duplicates, 2);    /* 30 again, 25 again */
  assert_int_equal(st.rejected[TSDB_REJECT_CONFLICT], 1);     /* 30 with another value */
  for (int round = 0; round < 2; round++) {
    tsdb_result *r = tu_select1(f->db, TSDB_EQ, "__name__", "o", T0, T0 + 60 * MIN);
    const tsdb_series *s = tsdb_result_get(r, 0);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->t[0], T0 + 21 * MIN);
    assert_true(s->v[0] == 4);
    assert_int_equal(s->t[1], T0 + 25 * MIN);
    assert_int_equal(s->t[2], T0 + 30 * MIN);
    assert_true(s->v[2] == 1);
    tsdb_result_free(r);
    assert_int_equal(tsdb_flush(f->db, NULL), 0);
  }
  tsdb_status *stt;
  assert_int_equal(tsdb_status_get(f->db, 5, &stt), 0);
  assert_int_equal(stt->samples_rejected_total[TSDB_REJECT_OUT_OF_ORDER], 1);
  assert_int_equal(stt->samples_rejected_total[TSDB_REJECT_CONFLICT], 1);
  tsdb_status_free(stt);
}

static size_t total_series(tsdb *db)
{
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  size_t n = st->head_series;
  tsdb_status_free(st);
  return n;
}

static void expect_reject(tsdb *db, const lk_label *bad, size_t nbad, int code)
{
  lk_label ok[] = {{"__name__", "fine"}};
  lk_sample s[] = {{T0, 1}};
  tsdb_series_in in[] = {{ok, 1, s, 1}, {bad, nbad, s, 1}};
  size_t before = total_series(db);
  tsdb_append_stats st = {.accepted = 77};
  lk_diag d = {0};
  assert_int_equal(tsdb_append(db, in, 2, &st, &d), code);
  assert_int_equal(st.accepted, 77); /* out-param untouched */
  assert_true(d.set && strlen(d.msg) > 0);
  assert_int_equal(total_series(db), before);
  tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "fine", T0, T0);
  assert_int_equal(tsdb_result_count(r), 0);
  tsdb_result_free(r);
}

static void test_limits(void **state)
{
  fx *f = *state;
  tsdb_close(f->db);
  tsdb_opts o = {.max_labels = 3, .max_name_len = 8, .max_value_len = 10, .max_series = 4};
  f->db = tu_open(&o, f->dir);
  char longv[32];
  memset(longv, 'x', 20);
  longv[20] = 0;
  expect_reject(f->db, (lk_label[]){{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}}, 4, LK_ELIMIT);
  expect_reject(f->db, (lk_label[]){{"averylongname", "1"}}, 1, LK_ELIMIT);
  expect_reject(f->db, (lk_label[]){{"a", longv}}, 1, LK_ELIMIT);
  expect_reject(f->db, (lk_label[]){{"a", ""}}, 1, LK_EINVAL);
  expect_reject(f->db, (lk_label[]){{"1a", "x"}}, 1, LK_EINVAL);
  expect_reject(f->db, (lk_label[]){{"a", "x"}, {"a", "y"}}, 2, LK_EINVAL);
  expect_reject(f->db, (lk_label[]){{"a", "\xff\xfe"}}, 1, LK_EINVAL);
  expect_reject(f->db, NULL, 0, LK_EINVAL);
  /* cardinality: 4 allowed; a batch creating 5 fails whole */
  lk_sample s[] = {{T0, 1}};
  lk_label ls[5][1] = {{{"__name__", "s1"}}, {{"__name__", "s2"}}, {{"__name__", "s3"}},
                       {{"__name__", "s4"}}, {{"__name__", "s5"}}};
  tsdb_series_in in[5];
  for (int i = 0; i < 5; i++)
    in[i] = (tsdb_series_in){ls[i], 1, s, 1};
  lk_diag d = {0};
  assert_int_equal(tsdb_append(f->db, in, 5, NULL, &d), LK_ELIMIT);
  assert_non_null(strstr(d.msg, "max_series"));
  assert_int_equal(total_series(f->db), 0);
  tsdb_series_in dup[] = {in[0], in[0], in[1], in[2], in[3]}; /* 4 distinct: fits */
  assert_int_equal(tsdb_append(f->db, dup, 5, NULL, NULL), 0);
  assert_int_equal(total_series(f->db), 4);
  tsdb_ref ref;
  assert_int_equal(tsdb_series_ref(f->db, ls[4], 1, &ref, NULL), LK_ELIMIT);
  assert_int_equal(tsdb_series_ref(f->db, ls[3], 1, &ref, NULL), 0);
}

static void test_refs(void **state)
{
  fx *f = *state;
  lk_label a[] = {{"job", "x"}, {"__name__", "r"}}, b[] = {{"__name__", "r"}, {"job", "y"}};
  tsdb_ref ra, rb, ra2;
  assert_int_equal(tsdb_series_ref(f->db, a, 2, &ra, NULL), 0);
  assert_int_equal(tsdb_series_ref(f->db, b, 2, &rb, NULL), 0);
  lk_label a2[] = {{"__name__", "r"}, {"job", "x"}};
  assert_int_equal(tsdb_series_ref(f->db, a2, 2, &ra2, NULL), 0);
  assert_int_equal(ra, ra2);
  assert_true(ra != rb);
  tsdb_ref_sample s[300];
  for (int i = 0; i < 300; i++)
    s[i] = (tsdb_ref_sample){i % 2 ? rb : ra, T0 + (i / 2) * 1000, i};
  tsdb_append_stats st;
  assert_int_equal(tsdb_append_refs(f->db, s, 300, &st, NULL), 0);
  assert_int_equal(st.accepted, 300);
  assert_int_equal(tsdb_append_refs(f->db, s, 2, &st, NULL), 0);
  assert_int_equal(st.duplicates, 2);
  tsdb_ref_sample bad[] = {{ra, T0 + 999999, 1}, {123456, T0, 1}};
  assert_int_equal(tsdb_append_refs(f->db, bad, 2, &st, NULL), LK_EINVAL);
  tsdb_result *r = tu_select1(f->db, TSDB_EQ, "__name__", "r", T0, T0 + 999999);
  assert_int_equal(tsdb_result_count(r), 2);
  assert_int_equal(tsdb_result_get(r, 0)->n, 150);
  assert_int_equal(tsdb_result_get(r, 1)->n, 150);
  assert_true(tsdb_result_get(r, 1)->v[149] == 299);
  tsdb_result_free(r);
}

static void test_select_limits_and_labels(void **state)
{
  fx *f = *state;
  add_series(f->db, "cpu", "api", "a", 10);
  add_series(f->db, "cpu", "db", "b", 10);
  add_series(f->db, "mem", "db", "b", 10);
  tsdb_matcher m = {TSDB_EQ, "__name__", "cpu"};
  tsdb_result *r = NULL;
  lk_diag d = {0};
  tsdb_select_opts o1 = {.max_series = 1};
  assert_int_equal(tsdb_select(f->db, &m, 1, T0, T0 + MIN, &o1, &r, &d), LK_ELIMIT);
  assert_null(r);
  assert_non_null(strstr(d.msg, "series"));
  tsdb_select_opts o2 = {.max_samples = 15};
  memset(&d, 0, sizeof d);
  assert_int_equal(tsdb_select(f->db, &m, 1, T0, T0 + 10 * MIN, &o2, &r, &d), LK_ELIMIT);
  assert_non_null(strstr(d.msg, "samples"));
  for (int round = 0; round < 2; round++) {
    char **v;
    size_t n;
    assert_int_equal(tsdb_label_names(f->db, NULL, 0, T0, T0 + MIN, &v, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "__name__");
    assert_string_equal(v[1], "instance");
    assert_string_equal(v[2], "job");
    tsdb_strings_free(v, n);
    assert_int_equal(tsdb_label_values(f->db, "job", &m, 1, T0, T0 + MIN, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "api");
    assert_string_equal(v[1], "db");
    tsdb_strings_free(v, n);
    assert_int_equal(tsdb_label_values(f->db, "__name__", NULL, 0, T0, T0 + MIN, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    tsdb_strings_free(v, n);
    tsdb_matcher mm = {TSDB_EQ, "job", "db"};
    assert_int_equal(tsdb_label_names(f->db, &mm, 1, T0, T0 + MIN, &v, &n, NULL), 0);
    assert_int_equal(n, 3);
    tsdb_strings_free(v, n);
    assert_int_equal(tsdb_flush(f->db, NULL), 0);
  }
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(f->db, 10, &st), 0);
  assert_int_equal(st->head_series, 3);
  assert_int_equal(st->block_samples, 30);
  assert_int_equal(st->n_series_by_metric, 2);
  assert_string_equal(st->series_by_metric[0].name, "cpu");
  assert_int_equal(st->series_by_metric[0].count, 2);
  assert_true(st->n_series_by_pair >= 5);
  tsdb_status_free(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_roundtrip_special_floats, setup, teardown),
    cmocka_unit_test_setup_teardown(test_matchers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_head_block_merge_dedup, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ooo_window, setup, teardown),
    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_select_limits_and_labels, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
