/* codec_bench.c — bytes/sample and speed of the tsdb chunk codec on a data
 * set from /work/shared/bench/gen_dataset.py (Prometheus text, ms timestamps).
 *
 * Samples are grouped per series and cut into chunks of C samples inside 2 h
 * windows (as the head cuts them). For each C it prints bytes/sample of: raw
 * (16 B), the Prometheus XOR chunk (Gorilla baseline), Lookout's chunk codec,
 * and the codec plus tsdb__pack over all chunks of one series in a window and
 * over groups of 64 series (sorted by labels) in a window; then encode and
 * decode speed (single thread) and, for the chosen C, a comparison of block
 * compressors and a per-metric breakdown. Every decode is checked bit-exact.
 *
 * usage: codec_bench FILE [C ...]     (default C: 120)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "bench/codec/gorilla.h"
#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_hash.h"
#include "lib/lk_time.h"
#include "tsdb/chunk.h"

#define WINDOW_MS 7200000LL
#define GROUP 64

typedef struct series {
  char *key;
  int64_t *t;
  double *v;
  size_t n, cap;
} series;

typedef struct dataset {
  series *s;
  size_t n, cap;
  size_t *slot; /* hash table of series indexes + 1 */
  size_t nslot;
  uint64_t samples;
} dataset;

typedef struct chunkref {
  size_t series, start, n;
  int64_t window;
} chunkref;

/*---- loading ----*/

static series *series_get(dataset *d, const char *key, size_t len)
{
  if (d->n * 2 >= d->nslot) {
    size_t ns = d->nslot ? d->nslot * 2 : 4096;
    size_t *slot = lk_xcalloc(ns, sizeof *slot);
    for (size_t i = 0; i < d->n; i++) {
      size_t h = lk_hash64(d->s[i].key, strlen(d->s[i].key), 0) & (ns - 1);
      while (slot[h])
        h = (h + 1) & (ns - 1);
      slot[h] = i + 1;
    }
    free(d->slot);
    d->slot = slot;
    d->nslot = ns;
  }
  size_t h = lk_hash64(key, len, 0) & (d->nslot - 1);
  while (d->slot[h]) {
    series *s = &d->s[d->slot[h] - 1];
    if (strlen(s->key) == len && !memcmp(s->key, key, len))
      return s;
    h = (h + 1) & (d->nslot - 1);
  }
  d->s = lk_xgrow(d->s, &d->cap, d->n + 1, sizeof *d->s);
  series *s = &d->s[d->n];
  memset(s, 0, sizeof *s);
  s->key = lk_xstrndup(key, len);
  d->slot[h] = ++d->n;
  return s;
}

static void load(dataset *d, const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) > 0) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    char *ts = strrchr(line, ' ');
    if (!ts || ts == line)
      continue;
    *ts = 0;
    char *val = strrchr(line, ' ');
    if (!val)
      continue;
    series *s = series_get(d, line, (size_t)(val - line));
    size_t cap = s->cap;
    s->t = lk_xgrow(s->t, &cap, s->n + 1, sizeof *s->t);
    s->v = lk_xgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->t[s->n] = strtoll(ts + 1, NULL, 10);
    s->v[s->n] = strtod(val + 1, NULL);
    s->n++;
    d->samples++;
  }
  free(line);
  fclose(f);
}

static int by_key(const void *a, const void *b)
{
  return strcmp(((const series *)a)->key, ((const series *)b)->key);
}

/*---- chunks ----*/

static chunkref *cut_chunks(const dataset *d, size_t c, size_t *out_n)
{
  chunkref *ch = NULL;
  size_t n = 0, cap = 0;
  for (size_t si = 0; si < d->n; si++) {
    const series *s = &d->s[si];
    for (size_t i = 0; i < s->n;) {
      int64_t w = s->t[i] / WINDOW_MS;
      size_t j = i;
      while (j < s->n && j - i < c && s->t[j] / WINDOW_MS == w)
        j++;
      ch = lk_xgrow(ch, &cap, n + 1, sizeof *ch);
      ch[n++] = (chunkref){si, i, j - i, w};
      i = j;
    }
  }
  *out_n = n;
  return ch;
}

typedef struct encoded {
  lk_buf bytes;
  size_t *off; /* nch + 1 offsets */
} encoded;

static double secs(int64_t ns) { return (double)ns / 1e9; }

/* CPU time of this thread: speeds stay comparable on a busy machine. */
static int64_t cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define REPEAT 3 /* timings: best of REPEAT runs (the machine is shared) */

static encoded encode_once(const dataset *d, const chunkref *ch, size_t nch, bool gorilla, double *sec)
{
  encoded e = {{0}, lk_xmalloc((nch + 1) * sizeof(size_t))};
  int64_t t0 = cpu_ns();
  for (size_t i = 0; i < nch; i++) {
    const series *s = &d->s[ch[i].series];
    e.off[i] = e.bytes.len;
    if (gorilla) {
      lk_buf_reserve(&e.bytes, 32 + 30 * ch[i].n);
      e.bytes.len += gorilla_encode(s->t + ch[i].start, s->v + ch[i].start, ch[i].n, e.bytes.data + e.bytes.len);
    } else {
      tsdb__chunk_encode(s->t + ch[i].start, s->v + ch[i].start, ch[i].n, &e.bytes);
    }
  }
  e.off[nch] = e.bytes.len;
  *sec = secs(cpu_ns() - t0);
  return e;
}

static void encoded_fini(encoded *e)
{
  lk_buf_fini(&e->bytes);
  free(e->off);
}

static encoded encode_all(const dataset *d, const chunkref *ch, size_t nch, bool gorilla, double *sec)
{
  encoded e = encode_once(d, ch, nch, gorilla, sec);
  for (int r = 1; r < REPEAT; r++) {
    double again;
    encoded e2 = encode_once(d, ch, nch, gorilla, &again);
    *sec = again < *sec ? again : *sec;
    encoded_fini(&e2);
  }
  return e;
}

/* Decode every chunk (timed), then verify bit-exactness (untimed). */
static double decode_all(const dataset *d, const chunkref *ch, size_t nch, const encoded *e, bool gorilla)
{
  size_t maxn = 0;
  for (size_t i = 0; i < nch; i++)
    maxn = ch[i].n > maxn ? ch[i].n : maxn;
  int64_t *t = lk_xmalloc(maxn * sizeof *t);
  double *v = lk_xmalloc(maxn * sizeof *v);
  double sum = 0, sec = 1e30;
  for (int r = 0; r < REPEAT; r++) {
    int64_t t0 = cpu_ns();
    for (size_t i = 0; i < nch; i++) {
      const uint8_t *p = e->bytes.data + e->off[i];
      size_t len = e->off[i + 1] - e->off[i];
      int64_t n = gorilla ? (int64_t)gorilla_decode(p, len, t, v) : tsdb__chunk_decode(p, len, t, v);
      sum += v[n - 1];
    }
    double one = secs(cpu_ns() - t0);
    sec = one < sec ? one : sec;
  }
  for (size_t i = 0; i < nch; i++) {
    const series *s = &d->s[ch[i].series];
    const uint8_t *p = e->bytes.data + e->off[i];
    size_t len = e->off[i + 1] - e->off[i];
    int64_t n = gorilla ? (int64_t)gorilla_decode(p, len, t, v) : tsdb__chunk_decode(p, len, t, v);
    if (n != (int64_t)ch[i].n || memcmp(t, s->t + ch[i].start, ch[i].n * 8) ||
        memcmp(v, s->v + ch[i].start, ch[i].n * 8)) {
      fprintf(stderr, "MISMATCH %s chunk %zu of %s\n", gorilla ? "gorilla" : "lookout", i, s->key);
      exit(1);
    }
  }
  free(t);
  free(v);
  return sum == 12345.678 ? 0 : sec; /* keep the decode loop live */
}

/*---- block compression ----*/

/* Blobs: concatenated chunks of each (series, window) or (group, window). */
typedef struct blobs {
  lk_buf *b;
  size_t n;
} blobs;

static blobs make_blobs(const chunkref *ch, size_t nch, const encoded *e, size_t group, const size_t *rank)
{
  blobs out = {NULL, 0};
  /* chunks are ordered by series then time; windows per group collected in order */
  int64_t wmin = INT64_MAX, wmax = INT64_MIN;
  size_t nser = 0;
  for (size_t i = 0; i < nch; i++) {
    wmin = ch[i].window < wmin ? ch[i].window : wmin;
    wmax = ch[i].window > wmax ? ch[i].window : wmax;
    nser = ch[i].series + 1 > nser ? ch[i].series + 1 : nser;
  }
  size_t nw = (size_t)(wmax - wmin + 1), ng = (nser + group - 1) / group;
  out.n = ng * nw;
  out.b = lk_xcalloc(out.n, sizeof *out.b);
  for (size_t i = 0; i < nch; i++) {
    size_t k = (rank ? rank[ch[i].series] : ch[i].series) / group * nw + (size_t)(ch[i].window - wmin);
    lk_buf_append(&out.b[k], e->bytes.data + e->off[i], e->off[i + 1] - e->off[i]);
  }
  return out;
}

static void blobs_fini(blobs *b)
{
  for (size_t i = 0; i < b->n; i++)
    lk_buf_fini(&b->b[i]);
  free(b->b);
}

typedef struct comp_result {
  size_t bytes;
  double csec, dsec;
} comp_result;

/* codec: 0 = tsdb__pack, 1 = zstd level, 2 = zlib level */
static comp_result compress_blobs(const blobs *b, int codec, int level)
{
  comp_result r = {0, 0, 0};
  lk_buf out = {0}, back = {0};
  for (size_t i = 0; i < b->n; i++) {
    const lk_buf *in = &b->b[i];
    if (!in->len)
      continue;
    lk_buf_clear(&out);
    lk_buf_clear(&back);
    int64_t t0 = cpu_ns();
    if (codec == 0) {
      if (tsdb__pack(in->data, in->len, &out))
        abort();
    } else if (codec == 1) {
      lk_buf_reserve(&out, ZSTD_compressBound(in->len));
      out.len = ZSTD_compress(out.data, ZSTD_compressBound(in->len), in->data, in->len, level);
    } else {
      uLongf zl = compressBound(in->len);
      lk_buf_reserve(&out, zl);
      compress2(out.data, &zl, in->data, in->len, level);
      out.len = zl;
    }
    int64_t t1 = cpu_ns();
    if (codec == 0) {
      if (tsdb__unpack(out.data, out.len, &back))
        abort();
    } else if (codec == 1) {
      lk_buf_reserve(&back, in->len);
      back.len = ZSTD_decompress(back.data, in->len, out.data, out.len);
    } else {
      uLongf bl = in->len;
      lk_buf_reserve(&back, in->len);
      uncompress(back.data, &bl, out.data, out.len);
      back.len = bl;
    }
    int64_t t2 = cpu_ns();
    if (back.len != in->len || memcmp(back.data, in->data, in->len)) {
      fprintf(stderr, "compressor %d/%d round trip failed\n", codec, level);
      exit(1);
    }
    r.bytes += out.len;
    r.csec += secs(t1 - t0);
    r.dsec += secs(t2 - t1);
  }
  lk_buf_fini(&out);
  lk_buf_fini(&back);
  return r;
}

static void compare_compressors(const blobs *b, const char *what, uint64_t samples)
{
  static const struct { const char *name; int codec, level; } cs[] = {
    {"tsdb__pack", 0, 0}, {"zstd -1", 1, 1}, {"zstd -3", 1, 3}, {"zstd -6", 1, 6},
    {"zstd -9", 1, 9}, {"zstd -15", 1, 15}, {"zstd -19", 1, 19}, {"zlib -6", 2, 6}, {"zlib -9", 2, 9},
  };
  size_t raw = 0;
  for (size_t i = 0; i < b->n; i++)
    raw += b->b[i].len;
  printf("\nblock compressors over %s (%.1f MB of encoded chunks):\n", what, (double)raw / 1e6);
  printf("  %-12s %10s %8s %12s %12s\n", "compressor", "B/sample", "ratio", "comp MB/s", "decomp MB/s");
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    comp_result r = compress_blobs(b, cs[i].codec, cs[i].level);
    printf("  %-12s %10.4f %8.3f %12.1f %12.1f\n", cs[i].name, (double)r.bytes / (double)samples,
           (double)raw / (double)r.bytes, (double)raw / 1e6 / r.csec, (double)raw / 1e6 / r.dsec);
  }
}

/*---- per metric ----*/

static void metric_breakdown(const dataset *d, const chunkref *ch, size_t nch, const encoded *lk,
                             const encoded *go)
{
  enum { MAXM = 32 };
  char names[MAXM][96];
  uint64_t samples[MAXM] = {0}, blk[MAXM] = {0}, bgo[MAXM] = {0}, bts[MAXM] = {0};
  size_t nm = 0;
  lk_buf tmp = {0};
  double *zeros = lk_xcalloc(TSDB__CHUNK_MAX_SAMPLES, sizeof *zeros);
  for (size_t i = 0; i < nch; i++) {
    const series *s = &d->s[ch[i].series];
    size_t nl = strcspn(s->key, "{");
    size_t m = 0;
    while (m < nm && (strlen(names[m]) != nl || strncmp(names[m], s->key, nl)))
      m++;
    if (m == nm) {
      if (nm == MAXM)
        continue;
      snprintf(names[nm++], sizeof names[0], "%.*s", (int)nl, s->key);
    }
    samples[m] += ch[i].n;
    blk[m] += lk->off[i + 1] - lk->off[i];
    bgo[m] += go->off[i + 1] - go->off[i];
    lk_buf_clear(&tmp);
    tsdb__chunk_encode(s->t + ch[i].start, zeros, ch[i].n, &tmp);
    bts[m] += tmp.len;
  }
  printf("\nper metric, bytes/sample (timestamps = chunk with constant values):\n");
  printf("  %-42s %9s %9s %9s %9s\n", "metric", "gorilla", "lookout", "ts part", "val part");
  for (size_t m = 0; m < nm; m++)
    printf("  %-42s %9.3f %9.3f %9.3f %9.3f\n", names[m], (double)bgo[m] / (double)samples[m],
           (double)blk[m] / (double)samples[m], (double)bts[m] / (double)samples[m],
           (double)(blk[m] - bts[m]) / (double)samples[m]);
  lk_buf_fini(&tmp);
  free(zeros);
}

/*---- grouping by scrape target ----*/

static const char *instance_of(const char *key, size_t *len)
{
  const char *p = strstr(key, "instance=\"");
  if (!p) {
    *len = 0;
    return "";
  }
  p += 10;
  *len = strcspn(p, "\"");
  return p;
}

static int by_instance(const void *a, const void *b, void *ctx)
{
  const dataset *d = ctx;
  const series *x = &d->s[*(const size_t *)a], *y = &d->s[*(const size_t *)b];
  size_t lx, ly;
  const char *ix = instance_of(x->key, &lx), *iy = instance_of(y->key, &ly);
  int c = memcmp(ix, iy, lx < ly ? lx : ly);
  if (c || lx != ly)
    return c ? c : (lx < ly ? -1 : 1);
  return strcmp(x->key, y->key);
}

/* rank[series] = position when series are ordered by (instance, labels). */
static size_t *instance_rank(const dataset *d)
{
  size_t *order = lk_xmalloc(d->n * sizeof *order), *rank = lk_xmalloc(d->n * sizeof *rank);
  for (size_t i = 0; i < d->n; i++)
    order[i] = i;
  qsort_r(order, d->n, sizeof *order, by_instance, (void *)d);
  for (size_t i = 0; i < d->n; i++)
    rank[order[i]] = i;
  free(order);
  return rank;
}

/*---- synthetic shapes the data set lacks ----*/

/* Encode/decode speed and size for series of binary floats (the XOR path,
 * e.g. computed ratios) and of short decimals with a stale marker. */
static void synthetic(void)
{
  enum { N = 120, CHUNKS = 20000 };
  int64_t t[N], t2[N];
  double v[N], v2[N];
  uint64_t s = 1;
  for (int shape = 0; shape < 2; shape++) {
    lk_buf b = {0};
    double enc = 0, dec = 0;
    for (int c = 0; c < CHUNKS; c++) {
      for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        t[i] = 1700000000000LL + (int64_t)i * 15000 + (int64_t)(s >> 61);
        v[i] = shape == 0 ? (double)(s >> 11) / 9007199254740992.0 : (double)(c + i) / 100.0;
      }
      if (shape == 1)
        v[N - 1] = __builtin_nan("");
      lk_buf_clear(&b);
      int64_t c0 = cpu_ns();
      tsdb__chunk_encode(t, v, N, &b);
      int64_t c1 = cpu_ns();
      if (tsdb__chunk_decode(b.data, b.len, t2, v2) != N || memcmp(t, t2, sizeof t) ||
          memcmp(v, v2, sizeof v))
        abort();
      enc += secs(c1 - c0);
      dec += secs(cpu_ns() - c1);
    }
    printf("  synthetic %-24s %9.3f B/sample %8.1f enc Msamp/s %8.1f dec Msamp/s\n",
           shape == 0 ? "binary floats (xor)" : "decimals + NaN", (double)b.len / N,
           CHUNKS * N / enc / 1e6, CHUNKS * N / dec / 1e6);
    lk_buf_fini(&b);
  }
}

/*---- main ----*/

static void run(const dataset *d, size_t c, bool detail)
{
  size_t nch;
  chunkref *ch = cut_chunks(d, c, &nch);
  double s = (double)d->samples, gse, lse;
  encoded go = encode_all(d, ch, nch, true, &gse);
  encoded lk = encode_all(d, ch, nch, false, &lse);
  double gsd = decode_all(d, ch, nch, &go, true);
  double lsd = decode_all(d, ch, nch, &lk, false);
  size_t *rank = instance_rank(d);
  blobs per_series = make_blobs(ch, nch, &lk, 1, NULL), per_group = make_blobs(ch, nch, &lk, GROUP, NULL);
  blobs per_inst = make_blobs(ch, nch, &lk, GROUP, rank);
  comp_result ps = compress_blobs(&per_series, 0, 0), pg = compress_blobs(&per_group, 0, 0);
  comp_result pi = compress_blobs(&per_inst, 0, 0);
  blobs go_group = make_blobs(ch, nch, &go, GROUP, NULL);
  comp_result gg = compress_blobs(&go_group, 0, 0);
  printf("\nchunk size %zu: %zu chunks, %.1f samples/chunk\n", c, nch, s / (double)nch);
  printf("  %-34s %9s %12s %12s\n", "scheme", "B/sample", "enc Msamp/s", "dec Msamp/s");
  printf("  %-34s %9.3f\n", "raw (t int64, v float64)", 16.0);
  printf("  %-34s %9.3f %12.1f %12.1f\n", "gorilla (prometheus xor chunk)", (double)go.bytes.len / s,
         s / gse / 1e6, s / gsd / 1e6);
  printf("  %-34s %9.3f\n", "gorilla + pack per 64-series group", (double)gg.bytes / s);
  printf("  %-34s %9.3f %12.1f %12.1f\n", "lookout chunk", (double)lk.bytes.len / s, s / lse / 1e6,
         s / lsd / 1e6);
  printf("  %-34s %9.3f %12.1f %12.1f\n", "lookout + pack per series/2h", (double)ps.bytes / s,
         s / (lse + ps.csec) / 1e6, s / (lsd + ps.dsec) / 1e6);
  printf("  %-34s %9.3f %12.1f %12.1f\n", "lookout + pack per 64-series/2h", (double)pg.bytes / s,
         s / (lse + pg.csec) / 1e6, s / (lsd + pg.dsec) / 1e6);
  printf("  %-34s %9.3f %12.1f %12.1f\n", "lookout + pack 64 by instance/2h", (double)pi.bytes / s,
         s / (lse + pi.csec) / 1e6, s / (lsd + pi.dsec) / 1e6);
  if (detail) {
    compare_compressors(&per_series, "one series x 2 h", d->samples);
    compare_compressors(&per_group, "64 series x 2 h", d->samples);
    metric_breakdown(d, ch, nch, &lk, &go);
  }
  blobs_fini(&per_series);
  blobs_fini(&per_group);
  blobs_fini(&per_inst);
  free(rank);
  blobs_fini(&go_group);
  encoded_fini(&go);
  encoded_fini(&lk);
  free(ch);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET [CHUNK_SIZE ...]\n", argv[0]);
    return 2;
  }
  dataset d = {0};
  int64_t t0 = lk_mono_ns();
  load(&d, argv[1]);
  qsort(d.s, d.n, sizeof *d.s, by_key);
  printf("%s: %zu series, %llu samples (loaded in %.1f s)\n", argv[1], d.n,
         (unsigned long long)d.samples, secs(lk_mono_ns() - t0));
  synthetic();
  if (argc == 2) {
    run(&d, 120, true);
  } else {
    for (int i = 2; i < argc; i++) {
      long c = strtol(argv[i], NULL, 10);
      if (c < 1 || c > TSDB__CHUNK_MAX_SAMPLES) {
        fprintf(stderr, "bad chunk size %s\n", argv[i]);
        return 2;
      }
      run(&d, (size_t)c, i == 2);
    }
  }
  for (size_t i = 0; i < d.n; i++) {
    free(d.s[i].key);
    free(d.s[i].t);
    free(d.s[i].v);
  }
  free(d.s);
  free(d.slot);
  return 0;
}
