/* lk_list.h — an intrusive doubly linked list, as the caches' LRU order.
 *
 * A cache entry embeds an lk_lnode and sits in one lk_list; unlinking and
 * moving to the front are O(1) with no allocation, which is what an LRU
 * needs on every hit. The list owns nothing: entries are freed by their
 * cache. lk_list_entry turns a node back into its entry. Not thread-safe:
 * the cache's own lock guards its list.
 */
#ifndef LK_LIST_H
#define LK_LIST_H

#include <stddef.h>

typedef struct lk_lnode {
  struct lk_lnode *prev, *next;
} lk_lnode;

typedef struct lk_list {
  lk_lnode *head, *tail; /* head = front (most recently used) */
} lk_list;

/* The struct of type `type` whose member `member` is the node p. */
#define lk_list_entry(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

static inline void lk_list_unlink(lk_list *l, lk_lnode *n)
{
  if (n->prev)
    n->prev->next = n->next;
  else
    l->head = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    l->tail = n->prev;
  n->prev = n->next = NULL;
}

static inline void lk_list_push_front(lk_list *l, lk_lnode *n)
{
  n->prev = NULL;
  n->next = l->head;
  if (l->head)
    l->head->prev = n;
  l->head = n;
  if (!l->tail)
    l->tail = n;
}

/* Move a node already in l to the front. */
static inline void lk_list_to_front(lk_list *l, lk_lnode *n)
{
  lk_list_unlink(l, n);
  lk_list_push_front(l, n);
}

#endif
