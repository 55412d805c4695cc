/* changes.c — the data version and the log of which sample times changed.
 *
 * A result cache must know whether anything a cached query read has changed
 * since it was computed. Every change to what a query can see — an append
 * batch that stored samples, raw samples removed by retention — takes the
 * next version and is logged with the span of sample times it touched.
 * Moving data without changing it (head cuts, compaction, rollups, which
 * answer exactly as raw samples do) is not a change. Scraping appends only
 * recent times, so a query over an older range stays valid while data is
 * written.
 *
 * The log is bounded like an exponential histogram: records carry a level
 * (2^level changes merged); when a level holds more than PER_LEVEL records,
 * its two oldest merge into one of the next level, their spans united. So
 * the last few changes are exact, older ones coarser in proportion to their
 * age, and nothing is ever forgotten — a merged span is only wider, which
 * can make a cache miss, never a stale hit. 64 levels outlast 2^64 changes.
 *
 * Lock: changes.mu is a leaf lock, held for a push or a scan of ≤ ~260
 * records. A change is logged after its samples are visible to selects, so
 * a reader holding version v has seen every change numbered ≤ v.
 */
#include <string.h>

#include "tsdb/tsdb_int.h"

#define PER_LEVEL TSDB__CHANGES_PER_LEVEL

void tsdb__changes_init(tsdb__changes *c)
{
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
}

void tsdb__changes_fini(tsdb__changes *c) { pthread_mutex_destroy(&c->mu); }

/* Records are oldest first with non-increasing levels, so each level's
 * records are adjacent. Merge the two oldest of a level over PER_LEVEL into
 * the next level, from level 0 up. */
static void merge_full_levels(tsdb__changes *c)
{
  for (uint8_t level = 0;; level++) {
    size_t first = c->n, count = 0;
    for (size_t i = c->n; i-- > 0 && c->rec[i].level <= level;)
      if (c->rec[i].level == level) {
        first = i;
        count++;
      }
    if (count <= PER_LEVEL)
      return;
    tsdb__change *a = &c->rec[first], *b = &c->rec[first + 1];
    a->v_end = b->v_end;
    a->lo = b->lo < a->lo ? b->lo : a->lo;
    a->hi = b->hi > a->hi ? b->hi : a->hi;
    a->level = (uint8_t)(level + 1);
    memmove(b, b + 1, (c->n - first - 2) * sizeof *b);
    c->n--;
  }
}

void tsdb__changes_note(tsdb__changes *c, int64_t lo, int64_t hi)
{
  pthread_mutex_lock(&c->mu);
  c->version++;
  c->rec[c->n++] = (tsdb__change){c->version, lo, hi, 0};
  merge_full_levels(c);
  pthread_mutex_unlock(&c->mu);
}

uint64_t tsdb__changes_since(tsdb__changes *c, uint64_t since, int64_t *lo, int64_t *hi)
{
  int64_t l = INT64_MAX, h = INT64_MIN;
  pthread_mutex_lock(&c->mu);
  uint64_t now = c->version;
  /* record i holds the changes numbered (rec[i-1].v_end, rec[i].v_end] */
  for (size_t i = c->n; i-- > 0 && c->rec[i].v_end > since;) {
    l = c->rec[i].lo < l ? c->rec[i].lo : l;
    h = c->rec[i].hi > h ? c->rec[i].hi : h;
  }
  pthread_mutex_unlock(&c->mu);
  *lo = l;
  *hi = h;
  return now;
}

void tsdb__append_published(tsdb *db, tsdb__hnote *note)
{
  int64_t lo = note->min_t, hi = note->max_t;
  bool stored = note->n > 0;
  tsdb__hnote_commit(&db->head, note);
  if (stored)
    tsdb__changes_note(&db->changes, lo, hi);
}

uint64_t tsdb_data_version(tsdb *db)
{
  int64_t lo, hi;
  return tsdb__changes_since(&db->changes, UINT64_MAX, &lo, &hi);
}

uint64_t tsdb_changed_since(tsdb *db, uint64_t since, int64_t *lo, int64_t *hi)
{
  return tsdb__changes_since(&db->changes, since, lo, hi);
}
