/* lk_alloc.h — allocation that aborts in one place, and a bump arena.
 *
 * lk_x* never return NULL: running out of memory prints the size and aborts,
 * so callers never carry OOM branches. Sizes that come from input must be
 * checked against limits *before* calling these.
 *
 * lk_arena: scratch memory for one request/query/evaluation. Allocations are
 * freed together by lk_arena_reset (keeps the first block, not zeroed) or
 * lk_arena_free. Not thread-safe: one owner at a time.
 */
#ifndef LK_ALLOC_H
#define LK_ALLOC_H

#include <stddef.h>

void *lk_xmalloc(size_t n);
void *lk_xcalloc(size_t count, size_t size);
void *lk_xrealloc(void *p, size_t n);
char *lk_xstrdup(const char *s);
char *lk_xstrndup(const char *s, size_t n);
/* Grow an array to hold at least `need` elements of `elem` bytes; doubles. */
void *lk_xgrow(void *p, size_t *cap, size_t need, size_t elem);

typedef struct lk_arena lk_arena;

lk_arena *lk_arena_new(size_t block_hint);
void lk_arena_free(lk_arena *a); /* NULL is fine */
void lk_arena_reset(lk_arena *a);
void *lk_arena_alloc(lk_arena *a, size_t n);        /* 16-byte aligned, not zeroed */
void *lk_arena_zalloc(lk_arena *a, size_t n);       /* zeroed */
char *lk_arena_strndup(lk_arena *a, const char *s, size_t n);
size_t lk_arena_bytes(const lk_arena *a);           /* bytes held from the system */

#endif
