/* util.c — small tsdb-internal containers: sample vectors (gather, sort,
 * dedup) and a string-keyed open-addressing map.
 *
 * Sample vectors are how every read path merges data: runs from blocks and
 * the head are pushed in precedence order, then tsdb__vec_normalize sorts
 * stably (only when the runs are not already in order, the common case) and
 * keeps the first sample of each timestamp, so the earliest pushed source
 * wins a duplicate. The string map keys are borrowed (interned strings).
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/chunk.h"
#include "tsdb/tsdb_int.h"

void tsdb__vec_fini(tsdb__vec *s)
{
  free(s->t);
  free(s->v);
  memset(s, 0, sizeof *s);
}

void tsdb__vec_reserve(tsdb__vec *s, size_t extra)
{
  if (s->n + extra <= s->cap)
    return;
  size_t cap = s->cap ? s->cap : 64;
  while (cap < s->n + extra)
    cap *= 2;
  s->t = lk_xrealloc(s->t, cap * sizeof *s->t);
  s->v = lk_xrealloc(s->v, cap * sizeof *s->v);
  s->cap = cap;
}

void tsdb__vec_push(tsdb__vec *s, int64_t t, double v)
{
  tsdb__vec_reserve(s, 1);
  s->t[s->n] = t;
  s->v[s->n] = v;
  s->n++;
}

int tsdb__vec_push_chunk(tsdb__vec *s, const uint8_t *p, size_t len, int64_t mint, int64_t maxt)
{
  int64_t cnt = tsdb__chunk_count(p, len);
  if (cnt < 0)
    return LK_ECORRUPT;
  tsdb__vec_reserve(s, (size_t)cnt);
  size_t base = s->n;
  int64_t got = tsdb__chunk_decode(p, len, s->t + base, s->v + base);
  if (got < 0 || got != cnt)
    return LK_ECORRUPT;
  size_t w = base;
  for (size_t i = base; i < base + (size_t)got; i++) {
    if (s->t[i] < mint || s->t[i] > maxt)
      continue;
    s->t[w] = s->t[i];
    s->v[w] = s->v[i];
    w++;
  }
  s->n = w;
  return 0;
}

static void merge_sort(int64_t *t, double *v, int64_t *tt, double *tv, size_t n)
{
  if (n < 2)
    return;
  size_t h = n / 2;
  merge_sort(t, v, tt, tv, h);
  merge_sort(t + h, v + h, tt, tv, n - h);
  if (t[h - 1] <= t[h])
    return;
  memcpy(tt, t, n * sizeof *t);
  memcpy(tv, v, n * sizeof *v);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) {
    if (tt[j] < tt[i]) {
      t[k] = tt[j];
      v[k++] = tv[j++];
    } else {
      t[k] = tt[i];
      v[k++] = tv[i++];
    }
  }
  while (i < h) {
    t[k] = tt[i];
    v[k++] = tv[i++];
  }
  while (j < n) {
    t[k] = tt[j];
    v[k++] = tv[j++];
  }
}

void tsdb__vec_normalize(tsdb__vec *s, int64_t mint, int64_t maxt)
{
  bool sorted = true;
  for (size_t i = 1; i < s->n && sorted; i++)
    sorted = s->t[i - 1] < s->t[i];
  if (!sorted) {
    int64_t *tt = lk_xmalloc(s->n * sizeof *tt);
    double *tv = lk_xmalloc(s->n * sizeof *tv);
    merge_sort(s->t, s->v, tt, tv, s->n);
    free(tt);
    free(tv);
  }
  size_t w = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->t[i] < mint || s->t[i] > maxt || (w > 0 && s->t[w - 1] == s->t[i]))
      continue;
    s->t[w] = s->t[i];
    s->v[w++] = s->v[i];
  }
  s->n = w;
}

char *tsdb__path(const char *a, const char *sep, const char *b)
{
  lk_buf buf = {0};
  lk_buf_printf(&buf, "%s%s%s", a, sep, b);
  return (char *)lk_buf_take(&buf, NULL);
}

/*---- String map ----*/

void tsdb__strmap_fini(tsdb__strmap *m)
{
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

static size_t slot_of(const tsdb__strmap *m, const char *key)
{
  size_t mask = m->cap - 1;
  size_t i = (size_t)lk_hash64(key, strlen(key), 7) & mask;
  while (m->keys[i] && strcmp(m->keys[i], key))
    i = (i + 1) & mask;
  return i;
}

uint32_t tsdb__strmap_get(const tsdb__strmap *m, const char *key)
{
  if (!m->cap)
    return UINT32_MAX;
  size_t i = slot_of(m, key);
  return m->keys[i] ? m->vals[i] : UINT32_MAX;
}

static void strmap_grow(tsdb__strmap *m)
{
  tsdb__strmap old = *m;
  m->cap = old.cap ? old.cap * 2 : 16;
  m->keys = lk_xcalloc(m->cap, sizeof *m->keys);
  m->vals = lk_xcalloc(m->cap, sizeof *m->vals);
  for (size_t i = 0; i < old.cap; i++) {
    if (!old.keys[i])
      continue;
    size_t j = slot_of(m, old.keys[i]);
    m->keys[j] = old.keys[i];
    m->vals[j] = old.vals[i];
  }
  free(old.keys);
  free(old.vals);
}

void tsdb__strmap_put(tsdb__strmap *m, const char *key, uint32_t val)
{
  if ((m->n + 1) * 4 > m->cap * 3)
    strmap_grow(m);
  size_t i = slot_of(m, key);
  if (!m->keys[i]) {
    m->keys[i] = key;
    m->n++;
  }
  m->vals[i] = val;
}
