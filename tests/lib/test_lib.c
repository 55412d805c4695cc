/* test_lib.c — lib/ plumbing: varints and the decode cursor,
 * duration/time parsing, label validation and ordering, the arena and the
 * interner, and CRC32 (the values zlib computes, which every file on disk
 * holds). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_hash.h"
#include "lib/lk_labels.h"
#include "lib/lk_time.h"
#include "lib/lk_varint.h"
#include "tests/lib/rand.h"

static void test_varint_roundtrip(void **state)
{
  (void)state;
  static const int64_t vals[] = {0, 1, -1, 63, -64, 64, 127, 128, 300, -300,
                                 INT64_MAX, INT64_MIN, 1LL << 40, -(1LL << 40)};
  lk_buf b = {0};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    lk_buf_put_varint(&b, vals[i]);
    lk_buf_put_uvarint(&b, (uint64_t)vals[i]);
  }
  lk_dec d;
  lk_dec_init(&d, b.data, b.len);
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    assert_int_equal(lk_dec_varint(&d), vals[i]);
    assert_int_equal(lk_dec_uvarint(&d), (uint64_t)vals[i]);
  }
  assert_int_equal(d.err, 0);
  assert_int_equal(lk_dec_left(&d), 0);
  /* reading past the end is a sticky error, not an over-read */
  assert_int_equal(lk_dec_uvarint(&d), 0);
  assert_int_not_equal(d.err, 0);
  lk_buf_fini(&b);
}

static void test_varint_truncated(void **state)
{
  (void)state;
  uint8_t bad[] = {0x80, 0x80};
  lk_dec d;
  lk_dec_init(&d, bad, sizeof bad);
  lk_dec_uvarint(&d);
  assert_int_not_equal(d.err, 0);
  uint8_t overlong[11];
  memset(overlong, 0xff, sizeof overlong);
  lk_dec_init(&d, overlong, sizeof overlong);
  lk_dec_uvarint(&d);
  assert_int_not_equal(d.err, 0);
}

static void test_duration(void **state)
{
  (void)state;
  int64_t ms;
  assert_int_equal(lk_parse_duration("1h30m", &ms, NULL), 0);
  assert_int_equal(ms, 5400000);
  assert_int_equal(lk_parse_duration("5m1ms", &ms, NULL), 0);
  assert_int_equal(ms, 300001);
  assert_int_equal(lk_parse_duration("0", &ms, NULL), 0);
  assert_int_equal(ms, 0);
  assert_int_equal(lk_parse_duration("1y", &ms, NULL), 0);
  assert_int_equal(ms, 31536000000LL);
  lk_diag d = {0};
  assert_int_equal(lk_parse_duration("5m1h", &ms, &d), LK_EPARSE);
  assert_true(d.set);
  assert_int_equal(lk_parse_duration("", &ms, NULL), LK_EPARSE);
  assert_int_equal(lk_parse_duration("5x", &ms, NULL), LK_EPARSE);
  assert_int_equal(lk_parse_duration("m", &ms, NULL), LK_EPARSE);
}

static void test_time(void **state)
{
  (void)state;
  int64_t ms;
  assert_int_equal(lk_parse_time("1435781451.781", &ms, NULL), 0);
  assert_int_equal(ms, 1435781451781LL);
  assert_int_equal(lk_parse_time("2015-07-01T20:10:51.781Z", &ms, NULL), 0);
  assert_int_equal(ms, 1435781451781LL);
  assert_int_equal(lk_parse_time("2015-07-01T22:10:51+02:00", &ms, NULL), 0);
  assert_int_equal(ms, 1435781451000LL);
  assert_int_equal(lk_parse_time("yesterday", &ms, NULL), LK_EPARSE);
  assert_int_equal(lk_parse_step("15s", &ms, NULL), 0);
  assert_int_equal(ms, 15000);
  assert_int_equal(lk_parse_step("0.5", &ms, NULL), 0);
  assert_int_equal(ms, 500);
}

static void test_labels(void **state)
{
  (void)state;
  lk_label a[] = {{"job", "api"}, {"__name__", "up"}, {"instance", "x"}};
  lk_labels_sort(a, 3);
  assert_string_equal(a[0].name, "__name__");
  assert_string_equal(a[2].name, "job");
  lk_label b[] = {{"__name__", "up"}, {"instance", "x"}, {"job", "api"}};
  assert_true(lk_labels_equal(a, 3, b, 3));
  assert_int_equal(lk_labels_hash(a, 3), lk_labels_hash(b, 3));
  b[2].value = "apj";
  assert_true(lk_labels_cmp(a, 3, b, 3) < 0);
  assert_true(lk_label_name_valid("a_1"));
  assert_false(lk_label_name_valid("1a"));
  assert_false(lk_label_name_valid("a:b"));
  assert_true(lk_metric_name_valid("a:b"));
  assert_false(lk_metric_name_valid(""));
  assert_true(lk_utf8_valid("h\xc3\xa9", 3));
  assert_false(lk_utf8_valid("\xc3", 1));
  assert_false(lk_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
  lk_buf out = {0};
  lk_label c[] = {{"__name__", "m"}, {"a", "q\"\\\n"}};
  lk_labels_format(&out, c, 2);
  assert_string_equal((char *)out.data, "m{a=\"q\\\"\\\\\\n\"}");
  lk_buf_fini(&out);
}

static void test_arena_intern(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(0);
  for (int i = 0; i < 1000; i++) {
    char *p = lk_arena_zalloc(a, (size_t)i + 1);
    assert_int_equal(((uintptr_t)p) & 15, 0);
    assert_int_equal(p[i], 0);
  }
  lk_arena_reset(a);
  assert_non_null(lk_arena_alloc(a, 10));
  lk_arena_free(a);

  lk_intern *in = lk_intern_new();
  char name[32];
  const char *first = lk_intern_str(in, "hello", 5);
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "s%d", i);
    lk_intern_str(in, name, strlen(name));
  }
  assert_ptr_equal(lk_intern_str(in, "hello world", 5), first);
  assert_int_equal(lk_intern_count(in), 5001);
  lk_intern_free(in);
}

/* Deadlines are normalised (tv_nsec < 1e9) and ms ahead, also for waits
 * of several seconds (the copies it replaced handled only < 1 s). */
static void test_deadline(void **state)
{
  (void)state;
  static const int64_t waits[] = {0, 1, 999, 1000, 1500, 2999, 125000};
  for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec d = lk_deadline(CLOCK_MONOTONIC, waits[i]);
    assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    int64_t ahead = ((int64_t)d.tv_sec - now.tv_sec) * 1000 + (d.tv_nsec - now.tv_nsec) / 1000000;
    assert_true(ahead >= waits[i] && ahead <= waits[i] + 50);
  }
}

/* lk_crc32 gives zlib's crc32 for every length, alignment and chained
 * start value, so checksums written by earlier builds still verify. */
static void test_crc32_is_zlibs(void **state)
{
  (void)state;
  assert_int_equal(lk_crc32(0, "123456789", 9), 0xcbf43926u);
  assert_int_equal(lk_crc32(0, "", 0), 0);
  enum { N = 1 << 16 };
  uint8_t *buf = malloc(N);
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < N; i++)
    buf[i] = (uint8_t)test_rand(&rng);
  for (int k = 0; k < 2000; k++) {
    size_t off = test_rand(&rng) % 64, len = k < 300 ? (size_t)k : test_rand(&rng) % (N - 64);
    uint32_t start = k % 2 ? (uint32_t)test_rand(&rng) : 0;
    assert_int_equal(lk_crc32(start, buf + off, len), (uint32_t)crc32(start, buf + off, (uInt)len));
  }
  /* chained over pieces = over the whole */
  assert_int_equal(lk_crc32(lk_crc32(0, buf, 1000), buf + 1000, N - 1000), (uint32_t)crc32(0, buf, N));
  free(buf);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_varint_roundtrip), cmocka_unit_test(test_varint_truncated), cmocka_unit_test(test_duration), cmocka_unit_test(test_time), cmocka_unit_test(test_deadline),
    cmocka_unit_test(test_labels), cmocka_unit_test(test_arena_intern), cmocka_unit_test(test_crc32_is_zlibs),
  };
  return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}
