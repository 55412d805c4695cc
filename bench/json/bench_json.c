/* bench_json.c — ns per point of the query-response writer (lib/lk_json.c).
 *
 * Formats series shaped like the issue-3 benchmark queries, the way
 * web/api_query.c writes a matrix series: q3 (a cumulative CPU counter with
 * 9 decimals, "107.158868643", on a 15 s grid), rate() results (16–17
 * significant digits), integral byte gauges, and values of every magnitude
 * (random bit patterns: mostly the exponent layout and the printf route).
 * Each set runs through the per-point call (lk_json_point) and the batched
 * one (lk_json_points); the figure is the best of several timed rounds, so
 * noise from other processes on the 2-core machine only ever inflates it.
 * Usage: bench_json [rounds [set]]   (set 0-3: only that data set)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "bench/lib/bench_rng.h"

#define NPOINTS 5760
#define REPS 40

typedef struct set {
  const char *name;
  int64_t t[NPOINTS];
  double v[NPOINTS];
} set;

static bench_rng rng = {0x2545f4914f6cdd1dULL};
static uint64_t rnd(void) { return bench_rnd(&rng); }
static double unit(void) { return bench_unit(&rng); }

static void fill(set *s, int kind)
{
  static const char *const names[] = {"q3 counter 9 decimals", "rate 16-17 digits",
                                      "integer bytes", "random bit patterns"};
  s->name = names[kind];
  double c = 106.43601512;
  for (int i = 0; i < NPOINTS; i++) {
    s->t[i] = 1699920015000 + 15000 * (int64_t)i;
    switch (kind) {
    case 0:
      c += 0.5 + unit();
      s->v[i] = round(c * 1e9) / 1e9;
      break;
    case 1:
      s->v[i] = (0.5 + unit()) / 15.0;
      break;
    case 2:
      s->v[i] = (double)(100000000 + rnd() % 900000000);
      break;
    default: {
      uint64_t bits = rnd();
      memcpy(&s->v[i], &bits, sizeof bits);
      if (!isfinite(s->v[i]))
        s->v[i] = 1.0;
    }
    }
  }
}

/* The body web/api_query.c writes for one matrix series, point by point. */
static void write_points_single(lk_buf *b, const set *s)
{
  for (int i = 0; i < NPOINTS; i++) {
    if (i)
      lk_buf_putc(b, ',');
    lk_json_point(b, s->t[i], s->v[i]);
  }
}

static void write_points_batch(lk_buf *b, const set *s)
{
  lk_json_points(b, s->t, s->v, NPOINTS);
}

static double best_ns_per_point(const set *s, void (*write)(lk_buf *, const set *), int rounds,
                                size_t *bytes)
{
  lk_buf b = {0};
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    int64_t t0 = lk_mono_ns();
    for (int k = 0; k < REPS; k++) {
      lk_buf_clear(&b);
      write(&b, s);
    }
    double ns = (double)(lk_mono_ns() - t0) / (REPS * (double)NPOINTS);
    if (ns < best)
      best = ns;
  }
  *bytes = b.len;
  lk_buf_fini(&b);
  return best;
}

int main(int argc, char **argv)
{
  int rounds = argc > 1 ? atoi(argv[1]) : 15;
  if (rounds < 1 || rounds > 1000)
    rounds = 15;
  int only = argc > 2 ? atoi(argv[2]) : -1;
  static set sets[4];
  printf("%-24s %12s %12s %10s\n", "data (5760 points)", "point ns/pt", "batch ns/pt", "bytes");
  for (int k = 0; k < 4; k++) {
    if (only >= 0 && k != only)
      continue;
    fill(&sets[k], k);
    size_t b1, b2;
    double single = best_ns_per_point(&sets[k], write_points_single, rounds, &b1);
    double batch = best_ns_per_point(&sets[k], write_points_batch, rounds, &b2);
    printf("%-24s %12.1f %12.1f %10zu\n", sets[k].name, single, batch, b2);
    if (b1 != b2) {
      fprintf(stderr, "batch and per-point output differ in length (%zu vs %zu)\n", b1, b2);
      return 1;
    }
  }
  return 0;
}
