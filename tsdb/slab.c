/* slab.c — the sample slabs of query results, and a small pool that keeps
 * a few freed ones for the next query.
 *
 * A query over millions of samples needs tens of MiB for them. Fresh
 * anonymous memory costs a page fault and the kernel zeroing every page on
 * first touch — as much time as filling it from the sample cache — so
 * large slabs are mappings (transparent huge pages where the kernel has
 * them) and a freed one goes back to the pool instead of the kernel when it
 * is small enough: dashboards run the same queries again, and reuse costs
 * nothing. The pool holds at most POOL_SLOTS slabs of at most POOL_MAX
 * bytes each; small slabs come from malloc.
 *
 * The pool is shared by the database and every result holding a slab, and
 * freed by whichever lets go last (reference count), so results may outlive
 * tsdb_close. Its mutex is a leaf lock.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "tsdb/tsdb_int.h"

#define MAP_MIN ((size_t)4 << 20)   /* from this size on: mapped */
#define POOL_MAX ((size_t)64 << 20) /* larger slabs are unmapped when freed */
#define POOL_SLOTS 2

struct tsdb__slabpool {
  pthread_mutex_t mu;
  _Atomic uint32_t refs;
  void *p[POOL_SLOTS];
  size_t len[POOL_SLOTS];
};

tsdb__slabpool *tsdb__slabpool_new(void)
{
  tsdb__slabpool *sp = lk_xcalloc(1, sizeof *sp);
  pthread_mutex_init(&sp->mu, NULL);
  atomic_store(&sp->refs, 1);
  return sp;
}

tsdb__slabpool *tsdb__slabpool_ref(tsdb__slabpool *sp)
{
  atomic_fetch_add(&sp->refs, 1);
  return sp;
}

void tsdb__slabpool_unref(tsdb__slabpool *sp)
{
  if (!sp || atomic_fetch_sub(&sp->refs, 1) != 1)
    return;
  for (int i = 0; i < POOL_SLOTS; i++)
    if (sp->p[i])
      munmap(sp->p[i], sp->len[i]);
  pthread_mutex_destroy(&sp->mu);
  free(sp);
}

/* The smallest pooled slab of at least len bytes, taken out of the pool. */
static bool pool_take(tsdb__slabpool *sp, size_t len, tsdb__slab *out)
{
  pthread_mutex_lock(&sp->mu);
  int best = -1;
  for (int i = 0; i < POOL_SLOTS; i++)
    if (sp->p[i] && sp->len[i] >= len && (best < 0 || sp->len[i] < sp->len[best]))
      best = i;
  if (best >= 0) {
    *out = (tsdb__slab){sp->p[best], sp->len[best], true};
    sp->p[best] = NULL;
  }
  pthread_mutex_unlock(&sp->mu);
  return best >= 0;
}

int tsdb__slab_alloc(tsdb__slabpool *sp, size_t len, tsdb__slab *out)
{
  if (len < MAP_MIN) {
    *out = (tsdb__slab){lk_xmalloc(len ? len : 1), len, false};
    return 0;
  }
  if (pool_take(sp, len, out))
    return 0;
  /* whole huge pages, so a pooled slab serves slightly larger requests */
  size_t maplen = (len + MAP_MIN - 1) / MAP_MIN * MAP_MIN;
  void *p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return LK_ENOMEM;
#ifdef MADV_HUGEPAGE
  madvise(p, maplen, MADV_HUGEPAGE);
#endif
  *out = (tsdb__slab){p, maplen, true};
  return 0;
}

/* Where a freed slab of len bytes goes: an empty slot, else the slot of
 * the smallest pooled slab if that is smaller; -1 = not kept. */
static int pool_slot_for(const tsdb__slabpool *sp, size_t len)
{
  int small = 0;
  for (int i = 0; i < POOL_SLOTS; i++) {
    if (!sp->p[i])
      return i;
    if (sp->len[i] < sp->len[small])
      small = i;
  }
  return sp->len[small] < len ? small : -1;
}

void tsdb__slab_free(tsdb__slabpool *sp, tsdb__slab *s)
{
  if (!s->p)
    return;
  if (!s->mapped) {
    free(s->p);
  } else {
    bool kept = false;
    if (s->len <= POOL_MAX) {
      pthread_mutex_lock(&sp->mu);
      int slot = pool_slot_for(sp, s->len);
      void *evict = NULL;
      size_t evict_len = 0;
      if (slot >= 0) {
        evict = sp->p[slot];
        evict_len = sp->len[slot];
        sp->p[slot] = s->p;
        sp->len[slot] = s->len;
        kept = true;
      }
      pthread_mutex_unlock(&sp->mu);
      if (evict)
        munmap(evict, evict_len);
    }
    if (!kept)
      munmap(s->p, s->len);
  }
  *s = (tsdb__slab){0};
}
