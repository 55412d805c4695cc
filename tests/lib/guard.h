/* guard.h — guard-page buffers for parser tests: the bytes end exactly where
 * a PROT_NONE page begins, so any read past the input faults under test.
 * Also the deterministic mutator the parsers' fuzz tests share. */
#ifndef LK_TEST_GUARD_H
#define LK_TEST_GUARD_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/lk_buf.h"
#include "tests/lib/rand.h"

typedef struct guard_buf {
  uint8_t *map;   /* whole mapping */
  size_t maplen;
  uint8_t *data;  /* copy of the input, ending at the guard page */
} guard_buf;

/* Copy p[0..n) so that it ends right before an inaccessible page. */
static inline int guard_init(guard_buf *g, const void *p, size_t n)
{
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  *g = (guard_buf){0};
  size_t body = (n + page - 1) / page * page;
  g->maplen = body + page;
  g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->map == MAP_FAILED)
    return -1;
  if (mprotect(g->map + body, page, PROT_NONE))
    return -1;
  g->data = g->map + body - n;
  if (n)
    memcpy(g->data, p, n);
  return 0;
}

static inline void guard_fini(guard_buf *g) { munmap(g->map, g->maplen); }


/* Replace mut with src[0..n) changed by 1–4 random edits: a flipped bit,
 * a random byte, or truncation. */
static inline void test_mutate(lk_buf *mut, const uint8_t *src, size_t n, uint64_t *seed)
{
  lk_buf_clear(mut);
  lk_buf_append(mut, src, n);
  int edits = 1 + (int)(test_rand(seed) % 4);
  for (int e = 0; e < edits && mut->len; e++) {
    size_t pos = test_rand(seed) % mut->len;
    switch (test_rand(seed) % 3) {
    case 0: mut->data[pos] ^= (uint8_t)(1u << (test_rand(seed) % 8)); break;
    case 1: mut->data[pos] = (uint8_t)test_rand(seed); break;
    default: mut->len = pos; break;
    }
  }
}

#endif
