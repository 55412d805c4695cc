/* lk_keycache.h — a bounded, thread-safe map from byte strings to uint64
 * values, for caches in front of an expensive resolution (e.g. the raw label
 * bytes of a remote_write series → its tsdb_ref).
 *
 * Lookups compare the stored copy of the key byte for byte, so a hit is
 * exact. Memory is bounded: a shard that outgrows its share of max_bytes is
 * emptied (entries are then simply resolved again). Safe for concurrent use;
 * each shard has its own mutex (a leaf lock).
 */
#ifndef LK_KEYCACHE_H
#define LK_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lk_keycache lk_keycache;

/* max_bytes bounds keys plus table memory (at least 1 MiB is used). */
lk_keycache *lk_keycache_new(size_t max_bytes);
void lk_keycache_free(lk_keycache *c); /* NULL is fine */
/* hash: lk_hash64 of the key (computed once by the caller, outside locks). */
bool lk_keycache_get(lk_keycache *c, const void *key, size_t n, uint64_t hash, uint64_t *val);
/* Many lookups at once, taking each shard's lock once: for each i,
 * found[i] and (if found) vals[i]. Returns how many were found. */
typedef struct lk_keycache_key {
  const void *key;
  size_t len;
  uint64_t hash;
} lk_keycache_key;
size_t lk_keycache_get_many(lk_keycache *c, const lk_keycache_key *k, size_t n, uint64_t *vals,
                            bool *found);
/* Keys of length 0 are not stored. A key already present takes the new value
 * (a value can go stale, e.g. a tsdb ref after head GC). */
void lk_keycache_put(lk_keycache *c, const void *key, size_t n, uint64_t hash, uint64_t val);
size_t lk_keycache_count(lk_keycache *c);

#endif
