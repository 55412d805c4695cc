/* test_block_read.c — cold reads of block data (tsdb/block_read.c).
 *
 * Opening a block reads only the header of its chunks file. A query on a fresh
 * process, with the chunks out of the page cache, reads from disk only the
 * frames it needs: selecting one series of
 * a block of a few dozen frames leaves every page outside that series'
 * frame unread (a page fault alone would read the device's whole readahead
 * window around it — 8 MiB on some disks, the whole file here). And a
 * select's series scraped together share one timestamp array. Real files
 * in a temporary directory; the page cache is observed with mincore.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "tests/helpers/skip.h"
#include "tests/tsdb/tsdb_test_util.h"

#define START 1699963200000LL
#define NSER 800
#define NSAMPLES 240 /* per series, every 15 s */
#define FRAME_MAX (96 << 10) /* a frame is about 64 KiB unpacked, one series more at most */

/* Values with random low bits, so the chunks file is large (about 1.2 MiB). */
static double value(uint64_t *rng)
{
  *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*rng >> 20) / 1024.0;
}

static void load(tsdb *db)
{
  int64_t t[NSAMPLES];
  double v[NSAMPLES];
  uint64_t rng = 7;
  for (int i = 0; i < NSER; i++) {
    for (int k = 0; k < NSAMPLES; k++) {
      t[k] = START + k * 15000LL;
      v[k] = value(&rng);
    }
    char id[8];
    snprintf(id, sizeof id, "%03d", i);
    const char *kv[] = {"__name__", "m", "id", id, NULL};
    assert_int_equal(tu_append(db, t, v, NSAMPLES, NULL, kv), 0);
  }
}

static char *chunks_file(const char *dir)
{
  char *found = NULL;
  DIR *h = opendir(dir);
  assert_non_null(h);
  struct dirent *e;
  while ((e = readdir(h)))
    if (!strncmp(e->d_name, "b-", 2)) {
      assert_null(found);
      assert_true(asprintf(&found, "%s/%s/chunks", dir, e->d_name) > 0);
    }
  closedir(h);
  assert_non_null(found);
  return found;
}

/* Pages of the file in the page cache. */
static size_t resident_pages(const char *path, size_t *npages)
{
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  size_t page = (size_t)sysconf(_SC_PAGESIZE), n = ((size_t)st.st_size + page - 1) / page;
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  assert_true(m != MAP_FAILED);
  unsigned char *vec = malloc(n);
  assert_int_equal(mincore(m, (size_t)st.st_size, vec), 0);
  size_t r = 0;
  for (size_t i = 0; i < n; i++)
    r += vec[i] & 1;
  free(vec);
  munmap(m, (size_t)st.st_size);
  close(fd);
  *npages = n;
  return r;
}

static void evict(const char *path)
{
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(fdatasync(fd), 0);
  assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  close(fd);
}

static void test_cold_select_reads_only_its_frame(void **state)
{
  tu_fx *f = *state;
  tsdb_opts off = {.sample_cache_bytes = -1};
  tsdb *db = tu_open(&off, f->dir);
  assert_non_null(db);
  load(db);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_close(db);

  char *chunks = chunks_file(f->dir);
  evict(chunks);
  size_t npages;
  /* a file system whose cache cannot be dropped (tmpfs) cannot show what a
     read costs */
  lk_test_require(resident_pages(chunks, &npages) == 0,
                  "the chunks file's pages cannot be evicted from the page cache here");
  assert_true(npages * (size_t)sysconf(_SC_PAGESIZE) > 8 * (size_t)FRAME_MAX);
  db = tu_open(&off, f->dir);
  assert_non_null(db);
  /* reading its 5-byte header may read the kernel's smallest readahead */
  size_t before = resident_pages(chunks, &npages), header_pages = (16 << 10) / (size_t)sysconf(_SC_PAGESIZE);
  if (before > header_pages)
    fail_msg("opening the block brought %zu of %zu pages of its chunks file in", before, npages);

  tsdb_result *r = tu_select1(db, TSDB_EQ, "id", "200", START, START + NSAMPLES * 15000LL);
  assert_non_null(r);
  assert_int_equal(tsdb_result_count(r), 1);
  assert_int_equal(tsdb_result_get(r, 0)->n, NSAMPLES);
  tsdb_result_free(r);
  size_t after = resident_pages(chunks, &npages);
  size_t frame_pages = FRAME_MAX / (size_t)sysconf(_SC_PAGESIZE) + 2;
  assert_true(after >= 1);
  if (after > before + frame_pages)
    fail_msg("one series' read brought %zu of %zu pages of the chunks file in (at most %zu expected)", after,
             npages, before + frame_pages);
  tsdb_close(db);
  free(chunks);
}

/* Series a, b and c: a and b scraped together (the same jittered
 * timestamps), c one millisecond later; each with values of its own. */
#define SH_N 480 /* every 15 s: 2 h, two blocks of 1 h */
static int64_t sh_t(int which, int k)
{
  int64_t t = START + k * 15000LL + (k * 7919 % 13);
  return which == 2 ? t + 1 : t;
}
static double sh_v(int which, int k) { return which * 1000.0 + k * 0.25; }

static void sh_append(tsdb *db, int which, int from, int to)
{
  const char *id = which == 0 ? "a" : which == 1 ? "b" : "c";
  const char *kv[] = {"__name__", "sh", "id", id, NULL};
  int64_t t[SH_N];
  double v[SH_N];
  for (int k = from; k < to; k++) {
    t[k - from] = sh_t(which, k);
    v[k - from] = sh_v(which, k);
  }
  assert_int_equal(tu_append(db, t, v, (size_t)(to - from), NULL, kv), 0);
}

/* s holds exactly the samples k in [lo, hi) of series `which`, and with
 * late, one more 5 ms after the first (value -1). */
static void sh_check(const tsdb_series *s, int which, int lo, int hi, bool late)
{
  size_t i = 0;
  for (int k = lo; k < hi; k++) {
    assert_true(i < s->n);
    assert_int_equal(s->t[i], sh_t(which, k));
    assert_true(s->v[i] == sh_v(which, k));
    i++;
    if (late && k == lo) {
      assert_true(i < s->n);
      assert_int_equal(s->t[i], sh_t(which, lo) + 5);
      assert_true(s->v[i] == -1.0);
      i++;
    }
  }
  assert_int_equal(s->n, i);
}

static tsdb_result *sh_select(tsdb *db, int lo, int hi)
{
  return tu_select1(db, TSDB_EQ, "__name__", "sh", sh_t(0, lo), sh_t(2, hi - 1));
}

static size_t count_blocks(const char *dir)
{
  size_t n = 0;
  DIR *h = opendir(dir);
  assert_non_null(h);
  for (struct dirent *e; (e = readdir(h));)
    n += !strncmp(e->d_name, "b-", 2);
  closedir(h);
  return n;
}

/* A select keeps one timestamp array for series scraped together (the
 * same encoded timestamps): within a block, across blocks (concatenated),
 * and for a range that cuts chunks; a series that also has head samples
 * gets arrays of its own, sorted without disturbing the others. */
static void test_series_scraped_together_share_timestamps(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.sample_cache_bytes = -1, .block_range_ms = 3600000, .retention_ms = 36000000,
                 .ooo_window_ms = 86400000};
  tsdb *db = tu_open(&o, f->dir);
  assert_non_null(db);
  for (int w = 0; w < 3; w++)
    sh_append(db, w, 0, SH_N);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  assert_int_equal(count_blocks(f->dir), 2);

  int ranges[][2] = {{0, SH_N}, {0, SH_N / 4}, {17, SH_N - 9}};
  for (size_t q = 0; q < sizeof ranges / sizeof *ranges; q++) {
    tsdb_result *r = sh_select(db, ranges[q][0], ranges[q][1]);
    assert_non_null(r);
    assert_int_equal(tsdb_result_count(r), 3);
    for (int w = 0; w < 3; w++)
      sh_check(tsdb_result_get(r, (size_t)w), w, ranges[q][0], ranges[q][1], false);
    assert_ptr_equal(tsdb_result_get(r, 0)->t, tsdb_result_get(r, 1)->t);
    assert_ptr_not_equal(tsdb_result_get(r, 0)->t, tsdb_result_get(r, 2)->t);
    tsdb_result_free(r);
  }

  /* a late sample of a in the head, inside the blocks' range */
  const char *kv[] = {"__name__", "sh", "id", "a", NULL};
  int64_t t = sh_t(0, 0) + 5;
  double v = -1.0;
  assert_int_equal(tu_append(db, &t, &v, 1, NULL, kv), 0);
  tsdb_result *r = sh_select(db, 0, SH_N);
  assert_non_null(r);
  for (int w = 0; w < 3; w++)
    sh_check(tsdb_result_get(r, (size_t)w), w, 0, SH_N, w == 0);
  tsdb_result_free(r);
  tsdb_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cold_select_reads_only_its_frame, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_series_scraped_together_share_timestamps, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
