/* test_storage.c — the tsdb's persistence: WAL replay on reopen (including
 * a torn tail, which must be truncated with a warning), flush into blocks
 * and reopen, head cuts + compaction into 2h·3^k windows, retention by
 * time (from the newest sample, not the wall clock) and by size, corrupt
 * block files (clear error, no crash), and concurrent appenders + readers
 * while blocks are being cut. Real files in temporary directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "tests/tsdb/tsdb_test_util.h"

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)
#define START 1699963200000LL /* 2023-11-14T12:00Z: a multiple of 18 h */

/* nser series "s<i>", one sample per step in [from, to), value = f(i, t). */
static double val(int i, int64_t t)
{
  return (double)i * 1000.0 + (double)(t / 1000 % 100000) + 0.25;
}

static void load(tsdb *db, int nser, int64_t from, int64_t to, int64_t step)
{
  char names[64][8];
  for (int64_t t0 = from; t0 < to; t0 += 100 * step) {
    tsdb_series_in in[64];
    lk_label ls[64][2];
    lk_sample *buf = malloc(sizeof(lk_sample) * 100 * (size_t)nser);
    for (int i = 0; i < nser; i++) {
      snprintf(names[i], sizeof names[i], "s%d", i);
      ls[i][0] = (lk_label){"__name__", "m"};
      ls[i][1] = (lk_label){"id", names[i]};
      size_t n = 0;
      for (int64_t t = t0; t < to && t < t0 + 100 * step; t += step)
        buf[i * 100 + n++] = (lk_sample){t, val(i, t)};
      in[i] = (tsdb_series_in){ls[i], 2, buf + i * 100, n};
    }
    tsdb_append_stats st;
    lk_diag d = {0};
    assert_int_equal(tsdb_append(db, in, (size_t)nser, &st, &d), 0);
    assert_int_equal(st.accepted, in[0].nsamples * (size_t)nser);
    free(buf);
  }
}

/* Every series holds exactly the samples of [from, to) at `step`. */
static void verify(tsdb *db, int nser, int64_t from, int64_t to, int64_t step)
{
  tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "m", from - HOUR, to + HOUR);
  assert_non_null(r);
  assert_int_equal(tsdb_result_count(r), nser);
  size_t want = (size_t)((to - from + step - 1) / step);
  for (size_t k = 0; k < (size_t)nser; k++) {
    const tsdb_series *s = tsdb_result_get(r, k);
    int i = atoi(lk_labels_get(s->labels, s->nlabels, "id") + 1);
    assert_int_equal(s->n, want);
    for (size_t j = 0; j < s->n; j++) {
      assert_int_equal(s->t[j], from + (int64_t)j * step);
      assert_true(s->v[j] == val(i, s->t[j]));
    }
  }
  tsdb_result_free(r);
}

static size_t count_entries(const char *dir, const char *prefix)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += !strncmp(e->d_name, prefix, strlen(prefix));
  closedir(d);
  return n;
}

static void test_reopen_replay(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.fsync = TSDB_FSYNC_BATCH};
  tsdb *db = tu_open(&o, f->dir);
  load(db, 5, START, START + HOUR, 15000);
  tsdb_close(db);
  db = tu_open(NULL, f->dir);
  verify(db, 5, START, START + HOUR, 15000);
  /* appends continue after replay, duplicates still detected */
  tsdb_append_stats st;
  int64_t t = START + HOUR - 15000;
  double v = val(0, t);
  assert_int_equal(tu_append(db, &t, &v, 1, &st, (const char *[]){"__name__", "m", "id", "s0", NULL}), 0);
  assert_int_equal(st.duplicates, 1);
  load(db, 5, START + HOUR, START + 2 * HOUR, 15000);
  tsdb_close(db);
  db = tu_open(NULL, f->dir);
  verify(db, 5, START, START + 2 * HOUR, 15000);
  assert_int_equal(count_entries(f->dir, "b-"), 0);
  tsdb_close(db);
}

static char *wal_segment(const char *dir)
{
  char *wd, *found = NULL;
  assert_true(asprintf(&wd, "%s/wal", dir) > 0);
  DIR *d = opendir(wd);
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "seg-", 4)) {
      free(found);
      assert_true(asprintf(&found, "%s/%s", wd, e->d_name) > 0);
    }
  closedir(d);
  free(wd);
  return found;
}

static off_t file_size(const char *p)
{
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  return st.st_size;
}

/* Run tsdb_open with stderr captured into buf. */
static tsdb *open_capture(const char *dir, char *buf, size_t cap)
{
  fflush(stderr);
  int saved = dup(2);
  char path[] = "/tmp/tsdb-stderr-XXXXXX";
  int fd = mkstemp(path);
  dup2(fd, 2);
  tsdb *db = tu_open(NULL, dir);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  ssize_t n = pread(fd, buf, cap - 1, 0);
  buf[n > 0 ? n : 0] = 0;
  close(fd);
  unlink(path);
  return db;
}

static void test_torn_tail(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  load(db, 3, START, START + 30 * MIN, 15000);
  tsdb_close(db);
  char *seg = wal_segment(f->dir);
  off_t good = file_size(seg);
  db = tu_open(NULL, f->dir);
  load(db, 3, START + 30 * MIN, START + 60 * MIN, 15000);
  tsdb_close(db);
  off_t full = file_size(seg);
  assert_true(full > good + 100);
  /* cut the last record in the middle */
  assert_int_equal(truncate(seg, full - 37), 0);
  char log[4096];
  db = open_capture(f->dir, log, sizeof log);
  assert_non_null(db);
  assert_non_null(strstr(log, "level=warn"));
  assert_non_null(strstr(log, "torn"));
  tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "m", START, START + HOUR);
  assert_int_equal(tsdb_result_count(r), 3);
  for (size_t k = 0; k < 3; k++) {
    const tsdb_series *s = tsdb_result_get(r, k);
    assert_true(s->n >= 120 && s->n < 240); /* first half intact, torn part gone */
    for (size_t j = 0; j < s->n; j++)
      assert_int_equal(s->t[j], START + (int64_t)j * 15000);
  }
  tsdb_result_free(r);
  /* the WAL keeps working after the truncation */
  load(db, 3, START + 2 * HOUR, START + 2 * HOUR + 10 * MIN, 15000);
  tsdb_close(db);
  db = open_capture(f->dir, log, sizeof log);
  assert_null(strstr(log, "torn"));
  r = tu_select1(db, TSDB_EQ, "__name__", "m", START + 2 * HOUR, START + 3 * HOUR);
  assert_int_equal(tsdb_result_get(r, 0)->n, 40);
  tsdb_result_free(r);
  tsdb_close(db);
  free(seg);
}

static const tsdb_opts CUT_BY_SPAN = {.head_min_samples = 1};

static void test_flush_blocks_reopen(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(&CUT_BY_SPAN, f->dir);
  load(db, 4, START, START + 5 * HOUR, 30000);
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_true(st->blocks >= 1);                       /* head cut at > 3 h */
  assert_true(st->head_max_t - st->head_min_t <= 3 * HOUR);
  tsdb_status_free(st);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_int_equal(st->head_samples, 0);
  assert_int_equal(st->block_samples, 4 * 600);
  assert_true(st->wal_bytes <= 64);
  tsdb_status_free(st);
  verify(db, 4, START, START + 5 * HOUR, 30000);
  tsdb_close(db);
  /* only blocks, the WAL dir and the lock file remain */
  size_t total = 0;
  DIR *d = opendir(f->dir);
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      total++;
      assert_true(!strncmp(e->d_name, "b-", 2) || !strcmp(e->d_name, "wal") || !strcmp(e->d_name, "lock"));
      assert_null(strstr(e->d_name, ".tmp"));
    }
  closedir(d);
  assert_true(total >= 3);
  db = tu_open(NULL, f->dir);
  verify(db, 4, START, START + 5 * HOUR, 30000);
  /* the series' state survives in the blocks: a re-sent sample is a
   * duplicate, a changed one a conflict, an old one out of order */
  int64_t ts[] = {START + 5 * HOUR - 30000, START + 5 * HOUR - 30000, START};
  double vs[] = {val(1, ts[0]), -1, 0};
  tsdb_append_stats as;
  for (int i = 0; i < 3; i++)
    assert_int_equal(tu_append(db, ts + i, vs + i, 1, &as, (const char *[]){"__name__", "m", "id", "s1", NULL}), 0);
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_int_equal(st->samples_rejected_total[TSDB_REJECT_OUT_OF_ORDER], 1);
  assert_int_equal(st->samples_rejected_total[TSDB_REJECT_CONFLICT], 1);
  assert_int_equal(st->samples_appended_total, 0);
  tsdb_status_free(st);
  /* new data after reopen goes to the head, merged with blocks */
  load(db, 4, START + 5 * HOUR, START + 6 * HOUR, 30000);
  verify(db, 4, START, START + 6 * HOUR, 30000);
  tsdb_close(db);
}

static void test_compaction(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(&CUT_BY_SPAN, f->dir);
  load(db, 6, START, START + 24 * HOUR, 60000);
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  size_t before = st->blocks;
  tsdb_status_free(st);
  assert_true(before >= 3 && before <= 12);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_int_equal(st->blocks, 2); /* [0, 18 h) and [18 h, 24 h) */
  assert_int_equal(st->block_samples, 6 * 24 * 60);
  assert_int_equal(st->min_t, START);
  tsdb_status_free(st);
  assert_int_equal(count_entries(f->dir, "b-"), 2);
  verify(db, 6, START, START + 24 * HOUR, 60000);
  tsdb_close(db);
  db = tu_open(NULL, f->dir);
  verify(db, 6, START, START + 24 * HOUR, 60000);
  /* overlapping data (a re-import of hour 3 for a new series) is merged */
  tsdb_append_stats as;
  int64_t t = START + 3 * HOUR;
  double v = 1;
  assert_int_equal(tu_append(db, &t, &v, 1, &as, (const char *[]){"__name__", "late", NULL}), 0);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_int_equal(st->blocks, 2);
  tsdb_status_free(st);
  verify(db, 6, START, START + 24 * HOUR, 60000);
  tsdb_close(db);
}

/* A bulk import ordered by series (each series' whole day at once): the
 * head waits for head_min_samples before cutting, then everything is
 * merged and exact after flush. */
static void test_series_ordered_import(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.head_min_samples = 10000};
  tsdb *db = tu_open(&o, f->dir);
  for (int i = 0; i < 30; i++) {
    char id[8];
    snprintf(id, sizeof id, "s%d", i);
    int64_t *t = malloc(1440 * sizeof *t);
    double *v = malloc(1440 * sizeof *v);
    for (int k = 0; k < 1440; k++) {
      t[k] = START + k * 60000LL;
      v[k] = val(i, t[k]);
    }
    assert_int_equal(tu_append(db, t, v, 1440, NULL, (const char *[]){"__name__", "m", "id", id, NULL}), 0);
    free(t);
    free(v);
  }
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_int_equal(st->blocks, 2);
  assert_int_equal(st->block_samples, 30 * 1440);
  tsdb_status_free(st);
  verify(db, 30, START, START + 24 * HOUR, 60000);
  tsdb_close(db);
}

/* Append one sample at t to series m{id="sNN"} for each i in [0, n) with
 * pick(i), walking the ids from last to first (so head ids do not follow
 * label order). */
static void load_picked(tsdb *db, int n, int64_t t, bool (*pick)(int))
{
  for (int i = n - 1; i >= 0; i--) {
    if (!pick(i))
      continue;
    char id[8];
    snprintf(id, sizeof id, "s%02d", i);
    double v = i;
    assert_int_equal(tu_append(db, &t, &v, 1, NULL, (const char *[]){"__name__", "m", "id", id, NULL}), 0);
  }
}

static bool even(int i) { return i % 2 == 0; }
static bool third(int i) { return i % 3 == 0; }
static bool fifth_or_seventh(int i) { return i % 5 == 0 || i % 7 == 0; }

/* Candidates from two blocks and the head (each source holding its own
 * subset of the series, head series created in reverse label order) come
 * out as one result in label order, each series once, with the samples of
 * every source. */
static void test_select_merges_sources(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  enum { N = 60 };
  load_picked(db, N, START, even);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  load_picked(db, N, START + 72 * HOUR, third);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  load_picked(db, N, START + 144 * HOUR, fifth_or_seventh);
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 0, &st), 0);
  assert_int_equal(st->blocks, 2);
  tsdb_status_free(st);
  tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "m", START, START + 144 * HOUR);
  assert_non_null(r);
  size_t k = 0;
  for (int i = 0; i < N; i++) {
    size_t want = (size_t)even(i) + third(i) + fifth_or_seventh(i);
    if (!want)
      continue;
    const tsdb_series *se = tsdb_result_get(r, k++);
    assert_non_null(se);
    char id[8];
    snprintf(id, sizeof id, "s%02d", i);
    assert_string_equal(se->labels[1].value, id);
    assert_int_equal(se->n, want);
    for (size_t j = 1; j < se->n; j++)
      assert_true(se->t[j - 1] < se->t[j]);
  }
  assert_int_equal(tsdb_result_count(r), k);
  tsdb_result_free(r);
  tsdb_close(db);
}

static void test_retention_time(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.retention_ms = 8 * HOUR}; /* compaction windows up to 0.8 h: none */
  tsdb *db = tu_open(&o, f->dir);
  /* last year's data: the wall clock must not matter */
  load(db, 2, START, START + 24 * HOUR, 60000);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_true(st->blocks >= 4);
  assert_int_equal(st->max_t, START + 24 * HOUR - 60000);
  /* whole blocks older than newest − 8 h are gone; 2 h blocks → min ≥ 16 h − 2 h */
  assert_true(st->min_t >= START + 14 * HOUR);
  assert_true(st->min_t <= START + 16 * HOUR);
  tsdb_status_free(st);
  tsdb_append_stats as;
  int64_t t = START + HOUR;
  double v = 1;
  assert_int_equal(tu_append(db, &t, &v, 1, &as, (const char *[]){"__name__", "m", "id", "s9", NULL}), 0);
  assert_int_equal(as.rejected[TSDB_REJECT_TOO_OLD], 1);
  assert_int_equal(as.accepted, 0);
  tsdb_close(db);
  db = tu_open(&o, f->dir);
  tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "m", START, START + 24 * HOUR);
  assert_int_equal(tsdb_result_count(r), 2);
  assert_int_equal(tsdb_result_get(r, 0)->t[tsdb_result_get(r, 0)->n - 1], START + 24 * HOUR - 60000);
  tsdb_result_free(r);
  tsdb_close(db);
}

static void test_retention_size(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.retention_ms = 60 * HOUR}; /* windows up to 6 h */
  tsdb *db = tu_open(&o, f->dir);
  load(db, 8, START, START + 24 * HOUR, 30000);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  uint64_t total = st->block_bytes, blocks = st->blocks;
  tsdb_status_free(st);
  assert_true(blocks >= 4);
  tsdb_close(db);
  o.retention_bytes = total / 2;
  db = tu_open(&o, f->dir);
  assert_int_equal(tsdb_status_get(db, 3, &st), 0);
  assert_true(st->block_bytes + st->wal_bytes <= total / 2);
  assert_true(st->blocks >= 1 && st->blocks < blocks);
  assert_int_equal(st->max_t, START + 24 * HOUR - 30000); /* newest kept, oldest dropped */
  assert_true(st->min_t > START);
  tsdb_status_free(st);
  tsdb_close(db);
}

static char *block_file(const char *dir, const char *name)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char *p = NULL;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "b-", 2) && !p)
      assert_true(asprintf(&p, "%s/%s/%s", dir, e->d_name, name) > 0);
  closedir(d);
  return p;
}

static void flip_byte(const char *path, off_t off)
{
  int fd = open(path, O_RDWR);
  uint8_t c;
  assert_int_equal(pread(fd, &c, 1, off), 1);
  c ^= 0x5a;
  assert_int_equal(pwrite(fd, &c, 1, off), 1);
  close(fd);
}

static void expect_open_corrupt(const char *dir, const char *what)
{
  tsdb_opts o = {.dir = dir};
  tsdb *db = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &db, &d), LK_ECORRUPT);
  assert_null(db);
  assert_non_null(strstr(d.msg, what));
}

static void test_corrupt_block(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  load(db, 3, START, START + HOUR, 15000);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_close(db);
  char *idx = block_file(f->dir, "index"), *chk = block_file(f->dir, "chunks");
  off_t isz = file_size(idx), csz = file_size(chk);
  for (off_t off = 0; off < isz; off += isz / 7 + 1) {
    flip_byte(idx, off);
    expect_open_corrupt(f->dir, "index");
    flip_byte(idx, off);
  }
  flip_byte(chk, 2);
  expect_open_corrupt(f->dir, "chunks");
  flip_byte(chk, 2);
  assert_int_equal(truncate(idx, isz - 3), 0);
  expect_open_corrupt(f->dir, "index");
  /* chunk data damage is found when read: an error, not a crash */
  assert_int_equal(truncate(idx, 0), 0);
  expect_open_corrupt(f->dir, "index");
  free(idx);
  free(chk);
  tu_rmdir(f->dir);
  f->dir = tu_tmpdir();
  db = tu_open(NULL, f->dir);
  load(db, 3, START, START + HOUR, 15000);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_close(db);
  chk = block_file(f->dir, "chunks");
  csz = file_size(chk);
  flip_byte(chk, csz / 2);
  db = tu_open(NULL, f->dir);
  assert_non_null(db);
  tsdb_matcher m = {TSDB_EQ, "__name__", "m"};
  tsdb_result *r = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(db, &m, 1, START, START + HOUR, NULL, &r, &d), LK_ECORRUPT);
  assert_null(r);
  assert_true(d.set);
  tsdb_close(db);
  free(chk);
}

static double frame_val(int i, int k) /* poorly compressible */
{
  return (double)(((uint64_t)i * 2654435761u + (uint64_t)k * 40503u) % 1000003) / 7.0;
}

/* Enough series for many chunk frames, with per-group scrape offsets so
 * frames group series by timestamps, read back in label order. */
static void test_many_series_frames(void **state)
{
  tu_fx *f = *state;
  tsdb *db = tu_open(NULL, f->dir);
  enum { NS = 600, NT = 2 * 240 };
  tsdb_ref refs[NS];
  for (int i = 0; i < NS; i++) {
    char id[16], grp[16];
    snprintf(id, sizeof id, "%04d", i);
    snprintf(grp, sizeof grp, "g%d", i % 7);
    lk_label ls[] = {{"__name__", i % 2 ? "odd" : "even"}, {"id", id}, {"grp", grp}};
    assert_int_equal(tsdb_series_ref(db, ls, 3, &refs[i], NULL), 0);
  }
  tsdb_ref_sample *b = malloc(NS * sizeof *b);
  for (int k = 0; k < NT; k++) {
    for (int i = 0; i < NS; i++) {
      int64_t t = START + k * 30000 + (i % 7) * 1000;
      b[i] = (tsdb_ref_sample){refs[i], t, frame_val(i, k)};
    }
    assert_int_equal(tsdb_append_refs(db, b, NS, NULL, NULL), 0);
  }
  free(b);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  for (int round = 0; round < 2; round++) {
    tsdb_result *r = tu_select1(db, TSDB_RE, "__name__", "odd|even", START, START + 5 * HOUR);
    assert_int_equal(tsdb_result_count(r), NS);
    for (size_t j = 0; j < NS; j++) {
      const tsdb_series *s = tsdb_result_get(r, j);
      int i = atoi(lk_labels_get(s->labels, s->nlabels, "id"));
      assert_int_equal(s->n, NT);
      for (int k = 0; k < NT; k++) {
        assert_int_equal(s->t[k], START + k * 30000 + (i % 7) * 1000);
        assert_true(s->v[k] == frame_val(i, k));
      }
    }
    tsdb_result_free(r);
    r = tu_select1(db, TSDB_EQ, "id", "0421", START + HOUR, START + HOUR + 60000);
    assert_int_equal(tsdb_result_count(r), 1);
    assert_int_equal(tsdb_result_get(r, 0)->n, 2);
    tsdb_result_free(r);
    tsdb_close(db);
    db = tu_open(NULL, f->dir);
  }
  tsdb_close(db);
}

typedef struct worker {
  tsdb *db;
  int id;
  int64_t from, to;
  int err;
} worker;

static int resolve_refs(worker *w, tsdb_ref refs[8])
{
  char name[16];
  snprintf(name, sizeof name, "w%d", w->id);
  int err = 0;
  for (int i = 0; i < 8; i++) {
    char id[8];
    snprintf(id, sizeof id, "%d", i);
    lk_label ls[] = {{"__name__", "c"}, {"w", name}, {"i", id}};
    err |= tsdb_series_ref(w->db, ls, 3, &refs[i], NULL);
  }
  return err;
}

/* Appends by ref; an appender that falls more than a block range behind
 * the other sees its idle series dropped by head GC, gets LK_ENOENT (stale
 * refs, nothing stored) and resolves its labels again, as ingest does. */
static void *appender(void *arg)
{
  worker *w = arg;
  tsdb_ref refs[8];
  w->err |= resolve_refs(w, refs);
  tsdb_ref_sample batch[8 * 50];
  for (int64_t t0 = w->from; t0 < w->to; t0 += 50 * 10000) {
    size_t n = 0;
    for (int64_t t = t0; t < t0 + 50 * 10000 && t < w->to; t += 10000)
      for (int i = 0; i < 8; i++)
        batch[n++] = (tsdb_ref_sample){refs[i], t, (double)t};
    tsdb_append_stats st = {0};
    int rc = LK_ENOENT;
    for (int tries = 0; rc == LK_ENOENT && tries < 3; tries++) {
      rc = tsdb_append_refs(w->db, batch, n, &st, NULL);
      if (rc == LK_ENOENT) {
        w->err |= resolve_refs(w, refs);
        for (size_t k = 0; k < n; k++)
          batch[k].ref = refs[k % 8];
      }
    }
    w->err |= rc;
    w->err |= st.accepted != n;
  }
  return NULL;
}

static void *reader(void *arg)
{
  worker *w = arg;
  for (int k = 0; k < 40; k++) {
    tsdb_result *r = tu_select1(w->db, TSDB_EQ, "__name__", "c", w->from, w->to);
    if (!r) {
      w->err = 1;
      return NULL;
    }
    for (size_t i = 0; i < tsdb_result_count(r); i++) {
      const tsdb_series *s = tsdb_result_get(r, i);
      for (size_t j = 1; j < s->n; j++)
        if (s->t[j] != s->t[j - 1] + 10000) /* contiguous prefix, never a hole */
          w->err = 1;
    }
    tsdb_result_free(r);
  }
  return NULL;
}

static void test_concurrency(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.block_range_ms = HOUR, .retention_ms = 30 * 24 * HOUR, .head_min_samples = 1};
  tsdb *db = tu_open(&o, f->dir);
  worker w[3] = {{db, 0, START, START + 8 * HOUR, 0}, {db, 1, START, START + 8 * HOUR, 0},
                 {db, 2, START, START + 8 * HOUR, 0}};
  pthread_t th[3];
  pthread_create(&th[0], NULL, appender, &w[0]);
  pthread_create(&th[1], NULL, appender, &w[1]);
  pthread_create(&th[2], NULL, reader, &w[2]);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 3; i++)
    assert_int_equal(w[i].err, 0);
  for (int round = 0; round < 2; round++) {
    tsdb_result *r = tu_select1(db, TSDB_EQ, "__name__", "c", START, START + 8 * HOUR);
    assert_int_equal(tsdb_result_count(r), 16);
    for (size_t i = 0; i < 16; i++)
      assert_int_equal(tsdb_result_get(r, i)->n, 8 * 360);
    tsdb_result_free(r);
    tsdb_close(db);
    db = tu_open(&o, f->dir);
  }
  tsdb_close(db);
}

/*---- head GC while appends by ref and queries run ----*/

typedef struct gcrun {
  tsdb *db;
  _Atomic int64_t now;     /* newest clock sample */
  _Atomic bool done;
  uint64_t accepted;       /* churn samples stored (churner only) */
  uint64_t stale;          /* appends refused for a stale ref (churner only) */
  int err[3];              /* one per thread */
} gcrun;

/* One series whose samples move time on: head cuts and GC follow. */
static void *gc_clock(void *arg)
{
  gcrun *g = arg;
  for (int i = 0; i < 600; i++) {
    int64_t t = START + i * MIN;
    lk_label ls[] = {{"__name__", "clock"}};
    lk_sample s = {t, i};
    tsdb_series_in in = {ls, 1, &s, 1};
    g->err[0] |= tsdb_append(g->db, &in, 1, NULL, NULL);
    atomic_store(&g->now, t);
  }
  atomic_store(&g->done, true);
  return NULL;
}

static int churn_ref(gcrun *g, int j, tsdb_ref *ref)
{
  char id[16];
  snprintf(id, sizeof id, "%d", j);
  lk_label ls[] = {{"__name__", "churn"}, {"j", id}};
  return tsdb_series_ref(g->db, ls, 2, ref, NULL);
}

/* New series all along, and samples by refs kept from long ago: a ref
 * whose series GC dropped answers LK_ENOENT and is resolved again. */
static void *gc_churner(void *arg)
{
  gcrun *g = arg;
  tsdb_ref refs[400];
  for (int j = 0; j < 400; j++) {
    g->err[1] |= churn_ref(g, j, &refs[j]);
    for (int k = j; k >= 0 && k > j - 100; k -= 33) {
      int64_t t = atomic_load(&g->now) + 1 + j;
      tsdb_ref_sample s = {refs[k], t, (double)k};
      tsdb_append_stats st = {0};
      int rc = tsdb_append_refs(g->db, &s, 1, &st, NULL);
      for (int tries = 0; rc == LK_ENOENT && tries < 3; tries++) {
        g->stale++;
        g->err[1] |= churn_ref(g, k, &refs[k]);
        s.ref = refs[k];
        rc = tsdb_append_refs(g->db, &s, 1, &st, NULL);
      }
      g->err[1] |= rc;
      g->accepted += st.accepted;
    }
  }
  return NULL;
}

static void *gc_reader(void *arg)
{
  gcrun *g = arg;
  for (int i = 0; i < 200 && !atomic_load(&g->done); i++) {
    tsdb_result *r = tu_select1(g->db, TSDB_EQ, "__name__", "churn", START, START + 20 * HOUR);
    g->err[2] |= !r;
    tsdb_result_free(r);
    char **v;
    size_t n;
    g->err[2] |= tsdb_label_values(g->db, "j", NULL, 0, START, START + 20 * HOUR, &v, &n, NULL);
    tsdb_strings_free(v, n);
    tsdb_status *st;
    g->err[2] |= tsdb_status_get(g->db, 5, &st);
    tsdb_status_free(st);
  }
  return NULL;
}

/* Head cuts and GC run (in the clock's thread) while another thread
 * appends by refs and a third queries: no crash, no race (TSan suite), a
 * stale ref is an error the appender recovers from, and every accepted
 * sample reads back. */
static void test_gc_concurrent(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.block_range_ms = HOUR, .head_min_samples = 1, .ooo_window_ms = HOUR};
  gcrun g = {.db = tu_open(&o, f->dir)};
  atomic_store(&g.now, START);
  pthread_t th[3];
  pthread_create(&th[0], NULL, gc_clock, &g);
  pthread_create(&th[1], NULL, gc_churner, &g);
  pthread_create(&th[2], NULL, gc_reader, &g);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 3; i++)
    assert_int_equal(g.err[i], 0);
  tsdb_result *r = tu_select1(g.db, TSDB_EQ, "__name__", "churn", START, START + 20 * HOUR);
  uint64_t n = 0;
  for (size_t i = 0; i < tsdb_result_count(r); i++)
    n += tsdb_result_get(r, i)->n;
  tsdb_result_free(r);
  assert_int_equal(n, g.accepted);
  fprintf(stderr, "gc concurrent: %llu churn samples stored, %llu appends by a stale ref resolved again\n",
          (unsigned long long)g.accepted, (unsigned long long)g.stale);
  tsdb_close(g.db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_reopen_replay, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_torn_tail, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_flush_blocks_reopen, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_compaction, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_series_ordered_import, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_retention_time, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_retention_size, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_block, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_concurrency, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_gc_concurrent, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_many_series_frames, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_select_merges_sources, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
