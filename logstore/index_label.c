/* index_label.c — the label index: (name, value) → stream ids (postings).
 *
 * An open-addressing table keyed by the hash of name and value; each slot
 * owns a sorted id array (ids are appended in creation order, so sorted for
 * free). Keys are borrowed from the first stream carrying the pair; streams
 * live as long as the store, so the borrow is safe.
 * Called with store->lock held for writing (add) or reading (get).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "logstore/logstore_int.h"

static uint64_t pair_hash(const char *name, const char *value)
{
  return lk_hash64(value, strlen(value), lk_hash64(name, strlen(name), 0x9a1));
}

static ls_posting *slot_for(ls_posting *tab, size_t cap, const char *name, const char *value,
                            uint64_t h)
{
  size_t mask = cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    ls_posting *p = &tab[i];
    if (!p->name || (p->hash == h && !strcmp(p->name, name) && !strcmp(p->value, value)))
      return p;
  }
}

static void grow(logstore *s)
{
  size_t cap = s->post_cap ? s->post_cap * 2 : 256;
  ls_posting *tab = lk_xcalloc(cap, sizeof *tab);
  for (size_t i = 0; i < s->post_cap; i++) {
    ls_posting *o = &s->post[i];
    if (o->name)
      *slot_for(tab, cap, o->name, o->value, o->hash) = *o;
  }
  free(s->post);
  s->post = tab;
  s->post_cap = cap;
}

void logstore__postings_add(logstore *s, const ls_stream *st)
{
  for (size_t i = 0; i < st->nlabels; i++) {
    if ((s->npost + 1) * 2 > s->post_cap)
      grow(s);
    const char *n = st->labels[i].name, *v = st->labels[i].value;
    uint64_t h = pair_hash(n, v);
    ls_posting *p = slot_for(s->post, s->post_cap, n, v, h);
    if (!p->name) {
      p->name = n;
      p->value = v;
      p->hash = h;
      s->npost++;
    }
    p->ids = lk_xgrow(p->ids, &p->cap, p->n + 1, sizeof *p->ids);
    p->ids[p->n++] = st->id;
  }
}

const ls_posting *logstore__postings_get(const logstore *s, const char *name, const char *value)
{
  if (!s->post_cap)
    return NULL;
  const ls_posting *p = slot_for(s->post, s->post_cap, name, value, pair_hash(name, value));
  return p->name ? p : NULL;
}

void logstore__postings_free(logstore *s)
{
  for (size_t i = 0; i < s->post_cap; i++)
    free(s->post[i].ids);
  free(s->post);
  s->post = NULL;
  s->post_cap = s->npost = 0;
}
