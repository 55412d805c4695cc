/* lk_alloc.c — the one place that handles out-of-memory (abort), and the
 * bump arena used for per-request scratch memory. */
#include "lib/lk_alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
  fprintf(stderr, "level=fatal msg=\"out of memory allocating %zu bytes\"\n", n);
  abort();
}

void *lk_xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    oom(n);
  return p;
}

void *lk_xcalloc(size_t count, size_t size)
{
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p)
    oom(count * size);
  return p;
}

void *lk_xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q)
    oom(n);
  return q;
}

char *lk_xstrndup(const char *s, size_t n)
{
  char *d = lk_xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *lk_xstrdup(const char *s) { return lk_xstrndup(s, strlen(s)); }

void *lk_xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap : 8;
  while (c < need)
    c *= 2;
  if (elem && c > SIZE_MAX / elem)
    oom(SIZE_MAX);
  *cap = c;
  return lk_xrealloc(p, c * elem);
}

/*---- Arena ----*/

struct lk_block {
  struct lk_block *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

struct lk_arena {
  struct lk_block *head;
  size_t hint, total;
};

lk_arena *lk_arena_new(size_t block_hint)
{
  lk_arena *a = lk_xcalloc(1, sizeof *a);
  a->hint = block_hint < 4096 ? 4096 : block_hint;
  return a;
}

static void free_blocks(struct lk_block *b)
{
  while (b) {
    struct lk_block *n = b->next;
    free(b);
    b = n;
  }
}

void lk_arena_free(lk_arena *a)
{
  if (!a)
    return;
  free_blocks(a->head);
  free(a);
}

void lk_arena_reset(lk_arena *a)
{
  if (!a->head)
    return;
  struct lk_block *last = a->head;
  while (last->next)
    last = last->next;
  /* keep the oldest (first allocated) block */
  struct lk_block *b = a->head;
  while (b != last) {
    struct lk_block *n = b->next;
    free(b);
    b = n;
  }
  last->used = 0;
  a->head = last;
  a->total = last->size;
}

void *lk_arena_alloc(lk_arena *a, size_t n)
{
  n = (n + 15) & ~(size_t)15;
  struct lk_block *b = a->head;
  if (!b || b->size - b->used < n) {
    size_t sz = n > a->hint ? n : a->hint;
    b = lk_xmalloc(sizeof *b + sz);
    b->size = sz;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->total += sz;
  }
  void *p = b->data + b->used;
  b->used += n;
  return p;
}

void *lk_arena_zalloc(lk_arena *a, size_t n)
{
  void *p = lk_arena_alloc(a, n);
  memset(p, 0, n);
  return p;
}

char *lk_arena_strndup(lk_arena *a, const char *s, size_t n)
{
  char *d = lk_arena_alloc(a, n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

size_t lk_arena_bytes(const lk_arena *a) { return a->total; }
