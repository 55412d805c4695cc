/* test_format.c — the tsdb refuses files of a format it does not know.
 *
 * A WAL segment, a checkpoint, a block index or a block chunks file with a
 * bumped version or a wrong magic (what a downgrade after a format change
 * finds) makes tsdb_open fail with LK_ECORRUPT and a message naming the
 * file, and leaves every byte of it as it was, so the newer build can still
 * read it. A WAL file cut short inside its 8-byte header (crash right after
 * creating it) is still repaired. Real files in temporary directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>

#include "tests/helpers/disk_fx.h"
#include "tests/tsdb/tsdb_test_util.h"

#define MIN (60 * 1000LL)
#define START 1699963200000LL
#define NSER 3
#define NSAMPLES 120 /* per series: [START, START + 30 min) every 15 s */

static void load(tsdb *db, int64_t from)
{
  int64_t t[NSAMPLES];
  double v[NSAMPLES];
  for (int k = 0; k < NSAMPLES; k++) {
    t[k] = from + k * 15000;
    v[k] = k;
  }
  for (int i = 0; i < NSER; i++) {
    char id[8];
    snprintf(id, sizeof id, "%d", i);
    const char *kv[] = {"__name__", "m", "id", id, NULL};
    tsdb_append_stats st;
    assert_int_equal(tu_append(db, t, v, NSAMPLES, &st, kv), 0);
  }
}

/* Samples of "m" in [START, START + 2 h]. */
static size_t samples(tsdb *db)
{
  tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "m", START, START + 120 * MIN);
  assert_non_null(r);
  size_t n = 0;
  for (size_t i = 0; i < tsdb_result_count(r); i++)
    n += tsdb_result_get(r, i)->n;
  tsdb_result_free(r);
  return n;
}

/* The one file of dir whose name starts with prefix. */
static char *only_file(const char *d, const char *prefix)
{
  char *found = NULL;
  DIR *h = opendir(d);
  assert_non_null(h);
  struct dirent *e;
  while ((e = readdir(h)))
    if (!strncmp(e->d_name, prefix, strlen(prefix))) {
      assert_null(found);
      assert_true(asprintf(&found, "%s/%s", d, e->d_name) > 0);
    }
  closedir(h);
  assert_non_null(found);
  return found;
}

static char *wal_file(const char *dir, const char *prefix)
{
  char *w = NULL;
  assert_true(asprintf(&w, "%s/wal", dir) > 0);
  char *p = only_file(w, prefix);
  free(w);
  return p;
}

static char *block_file(const char *dir, const char *name)
{
  char *b = only_file(dir, "b-"), *p = NULL;
  assert_true(asprintf(&p, "%s/%s", b, name) > 0);
  free(b);
  return p;
}

/* Overwrite n bytes of path at off, expect tsdb_open to refuse the file by
 * name and the file to keep the overwritten bytes exactly; then put the
 * original bytes back. */
static void expect_refused(const char *dir, const char *path, off_t off, const void *bytes, size_t n)
{
  size_t len = 0;
  uint8_t *orig = dfx_read(path, &len);
  assert_non_null(orig);
  assert_int_equal(dfx_write_at(path, off, bytes, n), 0);
  size_t plen = 0;
  uint8_t *patched = dfx_read(path, &plen);
  tsdb_opts o = {.dir = dir};
  tsdb *db = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &db, &d), LK_ECORRUPT);
  assert_null(db);
  assert_non_null(strstr(d.msg, path));
  assert_non_null(strstr(d.msg, "unknown file format"));
  assert_true(dfx_same(path, patched, plen));
  assert_int_equal(dfx_write_at(path, 0, orig, len), 0);
  free(orig);
  free(patched);
}

static const uint8_t VERSION_2 = 2;
static const char WRONG_MAGIC[4] = {'X', 'Y', 'Z', 'W'};

static void test_wal_segment_unknown_format(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  load(db, START);
  tsdb_close(db);
  char *seg = wal_file(f->dir, "seg-");
  expect_refused(f->dir, seg, 4, &VERSION_2, 1);
  expect_refused(f->dir, seg, 0, WRONG_MAGIC, 4);
  /* the newer build (here: the original bytes) still finds its head */
  db = tu_open(NULL, f->dir);
  assert_non_null(db);
  assert_int_equal(samples(db), NSER * NSAMPLES);
  tsdb_close(db);
  free(seg);
}

static void test_checkpoint_unknown_format(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  load(db, START);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  load(db, START + 60 * MIN);
  tsdb_close(db);
  char *ckpt = wal_file(f->dir, "ckpt-");
  expect_refused(f->dir, ckpt, 4, &VERSION_2, 1);
  expect_refused(f->dir, ckpt, 0, WRONG_MAGIC, 4);
  db = tu_open(NULL, f->dir);
  assert_int_equal(samples(db), 2 * NSER * NSAMPLES);
  tsdb_close(db);
  free(ckpt);
}

static void test_block_unknown_format(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  load(db, START);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_close(db);
  char *idx = block_file(f->dir, "index"), *chk = block_file(f->dir, "chunks");
  expect_refused(f->dir, idx, 4, &VERSION_2, 1);
  expect_refused(f->dir, idx, 0, WRONG_MAGIC, 4);
  expect_refused(f->dir, chk, 4, &VERSION_2, 1);
  expect_refused(f->dir, chk, 0, WRONG_MAGIC, 4);
  db = tu_open(NULL, f->dir);
  assert_int_equal(samples(db), NSER * NSAMPLES);
  tsdb_close(db);
  free(idx);
  free(chk);
}

/* A segment cut inside its header (crash between creating and writing it)
 * is completed; three bytes that are not a header prefix are refused. */
static void test_wal_torn_header(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  load(db, START);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_close(db);
  char *seg = wal_file(f->dir, "seg-");
  size_t len = 0;
  uint8_t *hdr = dfx_read(seg, &len);
  assert_int_equal(len, 8);
  assert_int_equal(truncate(seg, 3), 0);
  db = tu_open(NULL, f->dir);
  assert_non_null(db);
  assert_int_equal(samples(db), NSER * NSAMPLES);
  tsdb_close(db);
  assert_true(dfx_same(seg, hdr, 8));
  assert_int_equal(truncate(seg, 3), 0);
  expect_refused(f->dir, seg, 1, WRONG_MAGIC, 1);
  free(hdr);
  free(seg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_wal_segment_unknown_format, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_checkpoint_unknown_format, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_block_unknown_format, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_wal_torn_header, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
