/* rw_memo.c — the series of a sender's previous remote_write request.
 *
 * Why: a sender (a Prometheus queue shard) repeats its series in the same
 * order request after request. A memo keeps one request's raw label keys
 * and the refs they resolved to; the next request that starts with the same
 * first series takes it, lk_rw_scan_expect then compares each series' key
 * with the memo's key of its index in one memcmp (no field walk), and a
 * series that matches takes the memo's ref (no hashing, no cache lookup).
 * Series that do not match go through rw_cache as before.
 *
 * Ownership: a request takes a memo out of the table (web__rw_memo_take),
 * so no two requests share one, and hands back the memo that is current
 * after a successful store (web__rw_memo_put); a failed request frees it.
 * The table (memos/nmemos) is guarded by memo_mu, a leaf lock. At most
 * WEB_RW_MEMOS memos of at most WEB_RW_MEMO_BYTES of keys each are kept;
 * the oldest goes first. A ref a memo kept may go stale (head GC): the
 * append then fails with nothing stored and is retried without the memo.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "web/web_int.h"

struct web__rw_memo {
  lk_rw_expected ex; /* keys point into buf */
  uint8_t *buf;
  const uint8_t **keys;
  size_t *lens;
  tsdb_ref *refs;
};

void web__rw_memo_free(web__rw_memo *m)
{
  if (!m)
    return;
  free(m->buf);
  free(m->keys);
  free(m->lens);
  free(m->refs);
  free(m);
}

const lk_rw_expected *web__rw_memo_expected(const web__rw_memo *m) { return &m->ex; }
tsdb_ref web__rw_memo_ref(const web__rw_memo *m, size_t i) { return m->refs[i]; }

/* Does m start with the series key0? */
static bool starts_with(const web__rw_memo *m, const uint8_t *key0, size_t len0)
{
  return m->ex.n && m->lens[0] == len0 && !memcmp(m->keys[0], key0, len0);
}

web__rw_memo *web__rw_memo_take(web_server *w, const uint8_t *key0, size_t len0)
{
  web__rw_memo *m = NULL;
  pthread_mutex_lock(&w->memo_mu);
  for (size_t i = 0; i < w->nmemos && !m; i++) {
    if (!starts_with(w->memos[i], key0, len0))
      continue;
    m = w->memos[i];
    memmove(&w->memos[i], &w->memos[i + 1], (w->nmemos - i - 1) * sizeof *w->memos);
    w->nmemos--;
  }
  pthread_mutex_unlock(&w->memo_mu);
  return m;
}

void web__rw_memo_put(web_server *w, web__rw_memo *m)
{
  web__rw_memo *evicted = NULL;
  pthread_mutex_lock(&w->memo_mu);
  if (w->nmemos == WEB_RW_MEMOS) {
    evicted = w->memos[0];
    memmove(&w->memos[0], &w->memos[1], (WEB_RW_MEMOS - 1) * sizeof *w->memos);
    w->nmemos--;
  }
  w->memos[w->nmemos++] = m;
  pthread_mutex_unlock(&w->memo_mu);
  web__rw_memo_free(evicted);
}

/* A series the memo can expect: a key of its own and a resolved ref. */
static bool memorable(const lk_rw_series *s) { return s->key && s->nsamples; }

web__rw_memo *web__rw_memo_build(const lk_rw_series *rs, size_t n, const tsdb_ref *refs)
{
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++)
    bytes += memorable(&rs[i]) ? rs[i].key_len : 0;
  if (!n || !bytes || bytes > WEB_RW_MEMO_BYTES)
    return NULL;
  web__rw_memo *m = lk_xcalloc(1, sizeof *m);
  m->buf = lk_xmalloc(bytes);
  m->keys = lk_xmalloc(n * sizeof *m->keys);
  m->lens = lk_xmalloc(n * sizeof *m->lens);
  m->refs = lk_xmalloc(n * sizeof *m->refs);
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    bool keep = memorable(&rs[i]);
    m->keys[i] = m->buf + off;
    m->lens[i] = keep ? rs[i].key_len : 0;
    m->refs[i] = keep ? refs[i] : 0;
    if (keep)
      memcpy(m->buf + off, rs[i].key, rs[i].key_len);
    off += m->lens[i];
  }
  m->ex = (lk_rw_expected){m->keys, m->lens, n};
  return m;
}

void web__rw_memo_fini(web_server *w)
{
  for (size_t i = 0; i < w->nmemos; i++)
    web__rw_memo_free(w->memos[i]);
  w->nmemos = 0;
  pthread_mutex_destroy(&w->memo_mu);
}
