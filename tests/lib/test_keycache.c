/* test_keycache.c — lib/lk_keycache.c: exact hits (colliding hashes are
 * told apart by the key bytes), first value kept, the memory bound (a full
 * shard is emptied, never a wrong answer), batched lookups, and two threads sharing one
 * cache with bounded loops (run under ASan/UBSan; TSan-friendly locking). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "lib/lk_keycache.h"

static uint64_t h_of(const char *k) { return lk_hash64(k, strlen(k), 1); }

static void test_get_put(void **state)
{
  (void)state;
  lk_keycache *c = lk_keycache_new(1 << 20);
  uint64_t v = 0;
  assert_false(lk_keycache_get(c, "a", 1, h_of("a"), &v));
  lk_keycache_put(c, "a", 1, h_of("a"), 7);
  assert_true(lk_keycache_get(c, "a", 1, h_of("a"), &v));
  assert_int_equal(v, 7);
  lk_keycache_put(c, "a", 1, h_of("a"), 9); /* present: replaced */
  assert_true(lk_keycache_get(c, "a", 1, h_of("a"), &v));
  assert_int_equal(v, 9);
  /* same hash, different bytes or length: distinct keys */
  uint64_t h = 0x1234;
  lk_keycache_put(c, "xy", 2, h, 1);
  lk_keycache_put(c, "xz", 2, h, 2);
  lk_keycache_put(c, "xyz", 3, h, 3);
  assert_true(lk_keycache_get(c, "xz", 2, h, &v));
  assert_int_equal(v, 2);
  assert_true(lk_keycache_get(c, "xyz", 3, h, &v));
  assert_int_equal(v, 3);
  assert_true(lk_keycache_get(c, "xy", 2, h, &v));
  assert_int_equal(v, 1);
  assert_false(lk_keycache_get(c, "x", 1, h, &v));
  lk_keycache_put(c, "", 0, 5, 5); /* empty keys are not stored */
  assert_false(lk_keycache_get(c, "", 0, 5, &v));
  assert_int_equal(lk_keycache_count(c), 4);
  lk_keycache_free(c);
  lk_keycache_free(NULL);
}

static void test_bound(void **state)
{
  (void)state;
  lk_keycache *c = lk_keycache_new(1); /* raised to the minimum per shard */
  char k[64];
  for (unsigned i = 0; i < 200000; i++) {
    int n = snprintf(k, sizeof k, "series-%u-with-a-longer-key", i);
    lk_keycache_put(c, k, (size_t)n, lk_hash64(k, (size_t)n, 1), i);
  }
  size_t count = lk_keycache_count(c);
  assert_true(count > 1000);
  assert_true(count < 200000); /* shards were emptied to stay within the bound */
  unsigned hits = 0;
  for (unsigned i = 0; i < 200000; i++) {
    int n = snprintf(k, sizeof k, "series-%u-with-a-longer-key", i);
    uint64_t v;
    if (lk_keycache_get(c, k, (size_t)n, lk_hash64(k, (size_t)n, 1), &v)) {
      assert_int_equal(v, i);
      hits++;
    }
  }
  assert_int_equal(hits, count);
  lk_keycache_free(c);
}

static void test_get_many(void **state)
{
  (void)state;
  lk_keycache *c = lk_keycache_new(1 << 20);
  enum { N = 3000 };
  static char keys[N][16];
  static lk_keycache_key q[N];
  static uint64_t vals[N];
  static bool found[N];
  for (unsigned i = 0; i < N; i++) {
    int n = snprintf(keys[i], sizeof keys[i], "m%u", i);
    q[i] = (lk_keycache_key){keys[i], (size_t)n, lk_hash64(keys[i], (size_t)n, 1)};
    if (i % 3)
      lk_keycache_put(c, keys[i], (size_t)n, q[i].hash, 10u * i);
  }
  q[5].len = 0; /* an empty key is never found */
  assert_int_equal(lk_keycache_get_many(c, q, N, vals, found), N - N / 3 - 1);
  for (unsigned i = 0; i < N; i++) {
    assert_int_equal(found[i], i % 3 != 0 && i != 5);
    if (found[i])
      assert_int_equal(vals[i], 10u * i);
  }
  assert_int_equal(lk_keycache_get_many(c, q, 0, vals, found), 0);
  lk_keycache_free(c);
}

typedef struct worker {
  lk_keycache *c;
  unsigned base;
  unsigned wrong;
} worker;

static void *work(void *p)
{
  worker *w = p;
  char k[32];
  for (unsigned round = 0; round < 4; round++)
    for (unsigned i = 0; i < 20000; i++) {
      unsigned id = (i * 7 + w->base) % 30000; /* half the ids are shared */
      int n = snprintf(k, sizeof k, "k%u", id);
      uint64_t h = lk_hash64(k, (size_t)n, 1), v;
      if (lk_keycache_get(w->c, k, (size_t)n, h, &v))
        w->wrong += v != id;
      else
        lk_keycache_put(w->c, k, (size_t)n, h, id);
    }
  return NULL;
}

static void test_threads(void **state)
{
  (void)state;
  lk_keycache *c = lk_keycache_new(1 << 16); /* small: shards get emptied while in use */
  worker w[2] = {{c, 0, 0}, {c, 10000, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(w[0].wrong + w[1].wrong, 0);
  assert_true(lk_keycache_count(c) > 0);
  lk_keycache_free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_get_put),
    cmocka_unit_test(test_get_many),
    cmocka_unit_test(test_bound),
    cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
