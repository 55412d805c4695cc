/* bench_wire.c — throughput of the wire formats on a gen_dataset.py file.
 *
 *   bench_wire DATASET [RW_RECORDS]
 *
 * 1. Exposition: the whole file fed to lk_expo in 64 KiB chunks, first with a
 *    callback that only reads the value (pure parse), then with the import
 *    path's work added: a hash-table lookup keyed by the raw series text and
 *    lk_expo_parse_series on a miss. Reports MB/s and M lines/s. Then the
 *    file gzip'ed (level 6, as HTTP clients send it) through lk_gunzip into
 *    the pure parse.
 * 2. remote_write: the samples grouped as a live sender ships them (1000
 *    series per request, 1 sample each, full label sets), encoded with
 *    lk_rw_encode, then decoded with lk_rw_decode (arena reset per request).
 *    Reports M samples/s on one core.
 * 3. Optionally, the records file written by shared/bench/rw_encode.py
 *    (<u32 window><u32 shard><u32 samples><u32 length><body>, little endian)
 *    decoded the same way.
 * Each timing is the best of 3 runs, in thread CPU time (the machine is shared
 * with compilers; wall time would measure them too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "lib/lk_expo.h"
#include "lib/lk_gzip.h"
#include "lib/lk_hash.h"
#include "lib/lk_wire.h"

#define CHUNK (64 * 1024)

static uint64_t cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define SERIES_PER_REQUEST 1000

static uint8_t *read_file(const char *path, size_t *n)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = lk_xmalloc((size_t)sz + 1);
  if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
    perror(path);
    exit(1);
  }
  fclose(f);
  *n = (size_t)sz;
  return buf;
}

/*---- exposition ----*/

typedef struct series_cache {
  char **keys;       /* owned copies of series text */
  size_t *lens;
  size_t cap, n;
  lk_arena *arena;   /* label arrays of cached series (kept, as storage would) */
  uint64_t misses, samples;
  double sum;
} series_cache;

static int sum_values(void *ctx, const lk_expo_sample *s)
{
  series_cache *c = ctx;
  c->sum += s->value;
  c->samples++;
  return 0;
}

static int cache_lookup(void *ctx, const lk_expo_sample *s)
{
  series_cache *c = ctx;
  uint64_t h = lk_hash64(s->series, s->series_len, 0);
  size_t i = h & (c->cap - 1);
  while (c->keys[i]) {
    if (c->lens[i] == s->series_len && !memcmp(c->keys[i], s->series, s->series_len))
      goto hit;
    i = (i + 1) & (c->cap - 1);
  }
  lk_label *ls;
  size_t n;
  lk_diag d = {0};
  if (lk_expo_parse_series(s->series, s->series_len, c->arena, &ls, &n, &d)) {
    fprintf(stderr, "line %llu: %s\n", (unsigned long long)s->line, d.msg);
    return -1;
  }
  if (c->n * 2 >= c->cap) {
    fprintf(stderr, "bench cache full\n");
    return -1;
  }
  c->keys[i] = lk_xstrndup(s->series, s->series_len);
  c->lens[i] = s->series_len;
  c->n++;
  c->misses++;
hit:
  c->sum += s->value;
  c->samples++;
  return 0;
}

static double run_expo(const uint8_t *data, size_t len, lk_expo_cb cb, series_cache *c)
{
  c->samples = 0;
  uint64_t t0 = cpu_ns();
  lk_expo *p = lk_expo_new(cb, c, 0);
  lk_diag d = {0};
  int rc = 0;
  for (size_t off = 0; off < len && !rc; off += CHUNK)
    rc = lk_expo_feed(p, data + off, len - off < CHUNK ? len - off : CHUNK, &d);
  if (!rc)
    rc = lk_expo_finish(p, &d);
  uint64_t lines = lk_expo_lines(p);
  lk_expo_free(p);
  double sec = (double)(cpu_ns() - t0) / 1e9;
  if (rc) {
    fprintf(stderr, "expo: %s\n", d.msg);
    exit(1);
  }
  (void)lines;
  return sec;
}

static void bench_expo(const uint8_t *data, size_t len)
{
  series_cache c = {.cap = 1u << 20};
  c.keys = lk_xcalloc(c.cap, sizeof *c.keys);
  c.lens = lk_xcalloc(c.cap, sizeof *c.lens);
  c.arena = lk_arena_new(1 << 20);
  const struct {
    const char *name;
    lk_expo_cb cb;
  } modes[] = {{"parse only", sum_values}, {"parse + series cache", cache_lookup}};
  for (size_t m = 0; m < 2; m++) {
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
      double s = run_expo(data, len, modes[m].cb, &c);
      best = s < best ? s : best;
    }
    printf("expo %-22s %8.1f MB/s  %6.2f M lines/s  (%llu samples, %.3f s)\n", modes[m].name,
           (double)len / best / 1e6, (double)c.samples / best / 1e6,
           (unsigned long long)c.samples, best);
  }
  printf("expo distinct series: %zu\n", c.n);
  for (size_t i = 0; i < c.cap; i++)
    free(c.keys[i]);
  free(c.keys);
  free(c.lens);
  lk_arena_free(c.arena);
}

/*---- gzip'ed exposition ----*/

static int feed_expo(void *ctx, const uint8_t *p, size_t n)
{
  return lk_expo_feed(ctx, p, n, NULL);
}

static uint8_t *gzip_all(const uint8_t *data, size_t len, size_t *out_len)
{
  z_stream zs = {0};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  size_t cap = deflateBound(&zs, len);
  uint8_t *out = lk_xmalloc(cap);
  zs.next_in = (Bytef *)data;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  deflate(&zs, Z_FINISH);
  *out_len = zs.total_out;
  deflateEnd(&zs);
  return out;
}

static void bench_gzip_expo(const uint8_t *data, size_t len)
{
  size_t zlen;
  uint8_t *z = gzip_all(data, len, &zlen);
  series_cache c = {0};
  double best = 1e9;
  for (int r = 0; r < 3; r++) {
    c.samples = 0;
    uint64_t t0 = cpu_ns();
    lk_expo *p = lk_expo_new(sum_values, &c, 0);
    lk_gunzip *g = lk_gunzip_new(0, feed_expo, p);
    int rc = 0;
    for (size_t off = 0; off < zlen && !rc; off += CHUNK)
      rc = lk_gunzip_feed(g, z + off, zlen - off < CHUNK ? zlen - off : CHUNK, NULL);
    if (rc || lk_gunzip_finish(g, NULL) || lk_expo_finish(p, NULL)) {
      fprintf(stderr, "gzip bench failed\n");
      exit(1);
    }
    lk_gunzip_free(g);
    lk_expo_free(p);
    double s = (double)(cpu_ns() - t0) / 1e9;
    best = s < best ? s : best;
  }
  printf("expo %-22s %8.1f MB/s  %6.2f M lines/s  (%.1f MB gzip, %.3f s)\n", "gunzip + parse",
         (double)len / best / 1e6, (double)c.samples / best / 1e6, (double)zlen / 1e6, best);
  free(z);
}

/*---- remote_write ----*/

typedef struct rw_builder {
  lk_arena *arena;        /* labels and samples of the pending request */
  lk_series series[SERIES_PER_REQUEST];
  size_t n;
  lk_buf *bodies;         /* encoded requests */
  size_t nbodies, cap;
  uint64_t samples;
} rw_builder;

static void flush_request(rw_builder *b)
{
  if (!b->n)
    return;
  b->bodies = lk_xgrow(b->bodies, &b->cap, b->nbodies + 1, sizeof *b->bodies);
  lk_buf *body = &b->bodies[b->nbodies++];
  *body = (lk_buf){0};
  lk_rw_encode(b->series, b->n, body);
  b->n = 0;
  lk_arena_reset(b->arena);
}

static int add_sample(void *ctx, const lk_expo_sample *s)
{
  rw_builder *b = ctx;
  lk_label *ls;
  size_t n;
  if (lk_expo_parse_series(s->series, s->series_len, b->arena, &ls, &n, NULL))
    return -1;
  lk_sample *smp = lk_arena_alloc(b->arena, sizeof *smp);
  smp->t = s->t_ms;
  smp->v = s->value;
  b->series[b->n++] = (lk_series){ls, n, smp, 1};
  b->samples++;
  if (b->n == SERIES_PER_REQUEST)
    flush_request(b);
  return 0;
}

static void decode_bodies(const char *what, const uint8_t *const *bodies, const size_t *lens,
                          size_t nbodies, uint64_t samples)
{
  lk_arena *a = lk_arena_new(1 << 20);
  double best = 1e9;
  size_t raw_total = 0;
  for (int r = 0; r < 3; r++) {
    uint64_t got = 0, t0 = cpu_ns();
    for (size_t i = 0; i < nbodies; i++) {
      lk_series *out;
      size_t n;
      lk_diag d = {0};
      if (lk_rw_decode(bodies[i], lens[i], 64u << 20, a, &out, &n, &d)) {
        fprintf(stderr, "decode: %s\n", d.msg);
        exit(1);
      }
      for (size_t j = 0; j < n; j++)
        got += out[j].nsamples;
      lk_arena_reset(a);
    }
    double s = (double)(cpu_ns() - t0) / 1e9;
    best = s < best ? s : best;
    if (got != samples) {
      fprintf(stderr, "decode: %llu samples, want %llu\n", (unsigned long long)got,
              (unsigned long long)samples);
      exit(1);
    }
  }
  for (size_t i = 0; i < nbodies; i++)
    raw_total += lens[i];
  printf("rw decode %-26s %6.2f M samples/s  (%zu requests, %.1f MB bodies, %.3f s)\n", what,
         (double)samples / best / 1e6, nbodies, (double)raw_total / 1e6, best);
  lk_arena_free(a);
}

static void bench_rw(const uint8_t *data, size_t len)
{
  rw_builder b = {.arena = lk_arena_new(1 << 20)};
  lk_expo *p = lk_expo_new(add_sample, &b, 0);
  if (lk_expo_feed(p, data, len, NULL) || lk_expo_finish(p, NULL)) {
    fprintf(stderr, "rw: dataset does not parse\n");
    exit(1);
  }
  lk_expo_free(p);
  flush_request(&b);
  const uint8_t **bodies = lk_xmalloc(b.nbodies * sizeof *bodies);
  size_t *lens = lk_xmalloc(b.nbodies * sizeof *lens);
  for (size_t i = 0; i < b.nbodies; i++) {
    bodies[i] = b.bodies[i].data;
    lens[i] = b.bodies[i].len;
  }
  decode_bodies("(lk_rw_encode, 1000x1)", bodies, lens, b.nbodies, b.samples);
  for (size_t i = 0; i < b.nbodies; i++)
    lk_buf_fini(&b.bodies[i]);
  free(b.bodies);
  free(bodies);
  free(lens);
  lk_arena_free(b.arena);
}

static uint32_t u32le(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void bench_rw_records(const char *path)
{
  size_t len;
  uint8_t *data = read_file(path, &len);
  const uint8_t **bodies = NULL;
  size_t *lens = NULL, n = 0, cap = 0, cap2 = 0;
  uint64_t samples = 0;
  for (size_t off = 0; off + 16 <= len;) {
    uint32_t ns = u32le(data + off + 8), bl = u32le(data + off + 12);
    if (off + 16 + bl > len)
      break;
    bodies = lk_xgrow(bodies, &cap, n + 1, sizeof *bodies);
    lens = lk_xgrow(lens, &cap2, n + 1, sizeof *lens);
    bodies[n] = data + off + 16;
    lens[n++] = bl;
    samples += ns;
    off += 16 + bl;
  }
  decode_bodies("(rw_encode.py records)", bodies, lens, n, samples);
  free(bodies);
  free(lens);
  free(data);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: bench_wire DATASET [RW_RECORDS]\n");
    return 2;
  }
  size_t len;
  uint8_t *data = read_file(argv[1], &len);
  bench_expo(data, len);
  bench_gzip_expo(data, len);
  bench_rw(data, len);
  if (argc > 2)
    bench_rw_records(argv[2]);
  free(data);
  return 0;
}
