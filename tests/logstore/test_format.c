/* test_format.c — the log store refuses files of a format it does not know.
 *
 * The WAL or a segment with a bumped version or a wrong magic (what a
 * downgrade after a format change finds) makes logstore_open fail with
 * LK_ECORRUPT and a message naming the file, and leaves every byte of it as
 * it was. A segment cut short inside its header (crash right after creating
 * it) is still repaired, and a block whose data was damaged after it was
 * written fails its query with LK_ECORRUPT. Real files in a temporary
 * directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "lib/lk_alloc.h"
#include "logstore/logstore.h"
#include "tests/helpers/disk_fx.h"

#define SEC 1000000000LL
#define NLINES 50

static int setup(void **state)
{
  char tmpl[] = "/tmp/lk-logformat-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  *state = lk_xstrdup(tmpl);
  return 0;
}

static int teardown(void **state)
{
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
  assert_int_equal(system(cmd), 0);
  free(*state);
  return 0;
}

static logstore *open_store(const char *dir)
{
  logstore_opts o = {.dir = dir};
  logstore *s = NULL;
  lk_diag d = {0};
  assert_int_equal(logstore_open(&o, &s, &d), 0);
  return s;
}

/* A store holding NLINES lines of {app="a"}; sealed into a segment when seal. */
static void fill(const char *dir, bool seal)
{
  logstore *s = open_store(dir);
  lk_label ls[] = {{"app", "a"}};
  for (int i = 0; i < NLINES; i++) {
    char line[64];
    snprintf(line, sizeof line, "line %d of the format test", i);
    logstore_entry e = {(i + 1) * SEC, line, strlen(line)};
    lk_diag d = {0};
    assert_int_equal(logstore_push(s, ls, 1, &e, 1, &d), 0);
  }
  if (seal)
    assert_int_equal(logstore_flush(s), 0);
  logstore_close(s);
}

static int query(logstore *s, size_t *n)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = 1000};
  logstore_result *r = NULL;
  lk_diag d = {0};
  int rc = logstore_query(s, "{app=\"a\"}", &o, &r, &d);
  *n = 0;
  for (size_t i = 0; !rc && i < r->n; i++)
    *n += r->streams[i].n;
  logstore_result_free(r);
  return rc;
}

static size_t lines(const char *dir)
{
  logstore *s = open_store(dir);
  size_t n;
  assert_int_equal(query(s, &n), 0);
  logstore_close(s);
  return n;
}

static char *path_in(const char *dir, const char *name)
{
  char *p = NULL;
  assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
  return p;
}

/* Overwrite n bytes of path at off, expect logstore_open to refuse the file
 * by name and leave the overwritten bytes exactly; then restore them. */
static void expect_refused(const char *dir, const char *path, off_t off, const void *bytes, size_t n)
{
  size_t len = 0, plen = 0;
  uint8_t *orig = dfx_read(path, &len);
  assert_non_null(orig);
  assert_int_equal(dfx_write_at(path, off, bytes, n), 0);
  uint8_t *patched = dfx_read(path, &plen);
  logstore_opts o = {.dir = dir};
  logstore *s = NULL;
  lk_diag d = {0};
  assert_int_equal(logstore_open(&o, &s, &d), LK_ECORRUPT);
  assert_null(s);
  assert_non_null(strstr(d.msg, path));
  assert_non_null(strstr(d.msg, "unknown file format"));
  assert_true(dfx_same(path, patched, plen));
  assert_int_equal(dfx_write_at(path, 0, orig, len), 0);
  free(orig);
  free(patched);
}

static const uint8_t VERSION_2[4] = {2, 0, 0, 0};
static const char WRONG_MAGIC[4] = {'X', 'Y', 'Z', 'W'};

static void test_wal_unknown_format(void **state)
{
  const char *dir = *state;
  fill(dir, false);
  char *wal = path_in(dir, "wal.log");
  expect_refused(dir, wal, 4, VERSION_2, 4);
  expect_refused(dir, wal, 0, WRONG_MAGIC, 4);
  assert_int_equal(lines(dir), NLINES); /* nothing was cut away */
  free(wal);
}

static void test_segment_unknown_format(void **state)
{
  const char *dir = *state;
  fill(dir, true);
  char *seg = path_in(dir, "seg-00000001.lks");
  expect_refused(dir, seg, 4, VERSION_2, 4);
  expect_refused(dir, seg, 0, WRONG_MAGIC, 4);
  assert_int_equal(lines(dir), NLINES);
  free(seg);
}

/* Created, then cut short before its header was whole: completed at open. */
static void test_segment_torn_header(void **state)
{
  const char *dir = *state;
  fill(dir, true);
  char *seg = path_in(dir, "seg-00000001.lks");
  size_t len = 0;
  uint8_t *orig = dfx_read(seg, &len);
  assert_int_equal(truncate(seg, 3), 0);
  assert_int_equal(lines(dir), 0);
  assert_true(dfx_same(seg, orig, 8));
  free(orig);
  free(seg);
}

/* A body byte flipped after sealing: the store opens (only headers, metas
 * and blooms are read), the query that reads the block fails. */
static void test_damaged_block_data(void **state)
{
  const char *dir = *state;
  fill(dir, true);
  char *seg = path_in(dir, "seg-00000001.lks");
  size_t len = 0;
  free(dfx_read(seg, &len));
  assert_int_equal(dfx_flip(seg, (off_t)len - 5), 0);
  logstore *s = open_store(dir);
  size_t n;
  assert_int_equal(query(s, &n), LK_ECORRUPT);
  logstore_close(s);
  free(seg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_wal_unknown_format, setup, teardown),
    cmocka_unit_test_setup_teardown(test_segment_unknown_format, setup, teardown),
    cmocka_unit_test_setup_teardown(test_segment_torn_header, setup, teardown),
    cmocka_unit_test_setup_teardown(test_damaged_block_data, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
