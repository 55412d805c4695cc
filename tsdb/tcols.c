/* tcols.c — timestamp columns shared by the series of one select result.
 *
 * Series scraped together have byte-identical encoded timestamp sections
 * (sections are deterministic), so their decoded timestamps are equal too.
 * A select keeps one copy per distinct column instead of one per series:
 * half the fresh memory a large result touches (the kernel zeroes every new
 * page), and an evaluator that computes per-column work (rate windows) sees
 * the same pointer instead of comparing arrays.
 *
 * A column is found by a key that determines its content: for a block
 * member, the encoded timestamp sections it decoded (tsdb__tcols_key_*); for
 * a series read from several blocks, the member columns it concatenates.
 * Entries are never changed once added, so a pointer handed out stays valid
 * until tsdb__tcols_free.
 *
 * Locks: one mutex (a leaf lock) guards the table; the select's readers on
 * two threads look up and add concurrently.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "tsdb/select_int.h"

typedef struct tcol {
  uint64_t h;
  uint8_t *key;
  size_t klen, n;
  int64_t *t;
  struct tcol *next;         /* hash chain */
} tcol;

struct tsdb__tcols {
  pthread_mutex_t mu;
  tcol **b;
  size_t nb, count;
};

tsdb__tcols *tsdb__tcols_new(void)
{
  tsdb__tcols *c = lk_xcalloc(1, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  c->nb = 64;
  c->b = lk_xcalloc(c->nb, sizeof *c->b);
  return c;
}

static void tcol_free(tcol *e)
{
  free(e->key);
  free(e->t);
  free(e);
}

void tsdb__tcols_free(tsdb__tcols *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->nb; i++)
    for (tcol *e = c->b[i], *nx; e; e = nx) {
      nx = e->next;
      tcol_free(e);
    }
  free(c->b);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* The entry with this key, or NULL; caller holds mu. */
static tcol *find_locked(const tsdb__tcols *c, uint64_t h, const uint8_t *key, size_t klen)
{
  for (tcol *e = c->b[h & (c->nb - 1)]; e; e = e->next)
    if (e->h == h && e->klen == klen && !memcmp(e->key, key, klen))
      return e;
  return NULL;
}

static void grow_locked(tsdb__tcols *c)
{
  size_t nb = c->nb * 2;
  tcol **b = lk_xcalloc(nb, sizeof *b);
  for (size_t i = 0; i < c->nb; i++)
    for (tcol *e = c->b[i], *nx; e; e = nx) {
      nx = e->next;
      e->next = b[e->h & (nb - 1)];
      b[e->h & (nb - 1)] = e;
    }
  free(c->b);
  c->b = b;
  c->nb = nb;
}

const int64_t *tsdb__tcols_find(tsdb__tcols *c, const lk_buf *key, size_t *n)
{
  uint64_t h = lk_hash64(key->data, key->len, 0);
  pthread_mutex_lock(&c->mu);
  const tcol *e = find_locked(c, h, key->data, key->len);
  pthread_mutex_unlock(&c->mu);
  if (e)
    *n = e->n;
  return e ? e->t : NULL;
}

const int64_t *tsdb__tcols_add(tsdb__tcols *c, const lk_buf *key, const int64_t *t, size_t n)
{
  uint64_t h = lk_hash64(key->data, key->len, 0);
  tcol *e = lk_xmalloc(sizeof *e);
  *e = (tcol){h, lk_xmalloc(key->len ? key->len : 1), key->len, n, lk_xmalloc((n ? n : 1) * sizeof *t), NULL};
  memcpy(e->key, key->data, key->len);
  memcpy(e->t, t, n * sizeof *t);
  pthread_mutex_lock(&c->mu);
  tcol *old = find_locked(c, h, e->key, e->klen);
  if (!old) {
    if (c->count >= c->nb)
      grow_locked(c);
    e->next = c->b[h & (c->nb - 1)];
    c->b[h & (c->nb - 1)] = e;
    c->count++;
  }
  pthread_mutex_unlock(&c->mu);
  if (!old)
    return e->t;
  tcol_free(e); /* another reader added the same column meanwhile */
  return old->t;
}
