/* batch.c — the series of one collection cycle.
 *
 * Every series of a cycle lives in one arena that is reset at the start of
 * the next cycle, so a cycle allocates nothing from malloc once the arena
 * and the series array have grown to the node's size. A series is
 * __name__ + the container's (or node's) base labels + per-series extras,
 * with exactly one sample at the cycle's time.
 *
 * Invariant: between reset and the sink call, series[0..n) point only into
 * the arena or into strings that outlive the cycle (static names, labels
 * owned by containers that are not freed during a cycle).
 */
#include <stdlib.h>
#include <string.h>

#include "collector/collector_int.h"

void collector__batch_init(collector__batch *b)
{
  memset(b, 0, sizeof *b);
  b->arena = lk_arena_new(256 * 1024);
}

void collector__batch_fini(collector__batch *b)
{
  lk_arena_free(b->arena);
  free(b->series);
  memset(b, 0, sizeof *b);
}

void collector__batch_reset(collector__batch *b, int64_t t)
{
  lk_arena_reset(b->arena);
  b->n = 0;
  b->t = t;
}

void collector__emit(collector__batch *b, const char *name, const lk_label *base, size_t nbase,
                     const lk_label *extra, size_t nextra, double v)
{
  size_t nl = 1 + nbase + nextra;
  /* labels and the sample in one arena allocation */
  size_t lbytes = nl * sizeof(lk_label);
  lbytes = (lbytes + 15) & ~(size_t)15;
  uint8_t *mem = lk_arena_alloc(b->arena, lbytes + sizeof(lk_sample));
  lk_label *ls = (lk_label *)mem;
  lk_sample *s = (lk_sample *)(mem + lbytes);
  ls[0] = (lk_label){"__name__", name};
  if (nbase)
    memcpy(ls + 1, base, nbase * sizeof *ls);
  if (nextra)
    memcpy(ls + 1 + nbase, extra, nextra * sizeof *ls);
  s->t = b->t;
  s->v = v;
  b->series = lk_xgrow(b->series, &b->cap, b->n + 1, sizeof *b->series);
  b->series[b->n++] = (lk_series){ls, nl, s, 1};
}

const char *collector__batch_str(collector__batch *b, const char *s, size_t n)
{
  return lk_arena_strndup(b->arena, s, n);
}

void collector__emit_series(collector__batch *b, const lk_label *ls, size_t n, int64_t t, double v)
{
  lk_sample *s = lk_arena_alloc(b->arena, sizeof *s);
  s->t = t;
  s->v = v;
  b->series = lk_xgrow(b->series, &b->cap, b->n + 1, sizeof *b->series);
  b->series[b->n++] = (lk_series){ls, n, s, 1};
}
