/* gen_longrange.c — a fast generator of the long-range benchmark dataset:
 * the series of ../shared/bench/gen_dataset.py (its own short run is the
 * seed: every series' labels, kind and first value), extended over many
 * days at the same scrape interval in seconds rather than the hours the
 * Python model needs for 87 M samples.
 *
 * Per series, from its seed value: counters grow by a random-walk rate
 * (integer counters by integers, fractional ones — CPU seconds — in
 * nanoseconds, printed with 9 decimals as the kubelet does) and reset to 0
 * about once in 50,000 samples; integer gauges (bytes, processes) drift in
 * page steps, or hold still, around their seed. Output: Prometheus text
 * lines with ms timestamps, one block per scrape, in time order, each
 * series keeping the millisecond offset it had in the seed; and FILE.meta.json
 * as gen_dataset.py writes it (series, samples, time range, probe series).
 *
 * Usage: gen_longrange SEED.prom HOURS INTERVAL_S OUT.prom
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/bench_rng.h"

typedef struct ser {
  char *prefix;              /* metric name and labels */
  char *metric;
  bool counter, frac;        /* frac: printed with 9 decimals (stored as ns) */
  int64_t v;                 /* value (ns for frac) */
  int64_t rate, base;        /* counters: per-scrape increment; gauges: seed value */
  int64_t t0;                /* first timestamp (ms) */
} ser;

static bench_rng rng = {0x2545F4914F6CDD1DULL};
static uint64_t rnd(void) { return bench_rnd(&rng); }
static double unit(void) { return bench_unit(&rng); }

static bool is_counter(char **types, size_t nt, const char *metric)
{
  for (size_t i = 0; i < nt; i++)
    if (!strcmp(types[i], metric))
      return true;
  return false;
}

static ser *find(ser *s, size_t n, const char *prefix)
{
  for (size_t i = n; i-- > 0;)
    if (!strcmp(s[i].prefix, prefix))
      return &s[i];
  return NULL;
}

/* The seed's series (first sample of each). */
static ser *read_seed(const char *path, size_t *out_n)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  char line[4096];
  char *types[64];
  size_t nt = 0, n = 0, cap = 4096;
  ser *s = calloc(cap, sizeof *s);
  while (fgets(line, sizeof line, f)) {
    char name[512];
    if (!strncmp(line, "# TYPE ", 7)) {
      if (sscanf(line + 7, "%511s counter", name) == 1 && strstr(line, " counter") && nt < 64)
        types[nt++] = strdup(name);
      continue;
    }
    if (line[0] == '#' || line[0] == '\n')
      continue;
    char *ts = strrchr(line, ' ');
    *ts = 0;
    char *val = strrchr(line, ' ');
    *val = 0;
    if (find(s, n, line))
      continue;
    if (n == cap)
      s = realloc(s, (cap *= 2) * sizeof *s);
    ser *x = &s[n++];
    memset(x, 0, sizeof *x);
    x->prefix = strdup(line);
    x->metric = strndup(line, strcspn(line, "{"));
    x->counter = is_counter(types, nt, x->metric);
    x->frac = strchr(val + 1, '.') != NULL || strchr(val + 1, 'e') != NULL;
    double v = strtod(val + 1, NULL);
    x->v = x->frac ? (int64_t)llround(v * 1e9) : (int64_t)llround(v);
    x->base = x->v;
    x->t0 = strtoll(ts + 1, NULL, 10);
    x->rate = x->counter ? (int64_t)((x->frac ? 5e8 : 2e5) * unit()) + 1 : 0;
  }
  fclose(f);
  *out_n = n;
  return s;
}

static void step(ser *x)
{
  if (x->counter) {
    x->rate += (int64_t)((unit() - 0.5) * 0.2 * (double)x->rate);
    x->rate = x->rate < 1 ? 1 : x->rate;
    x->v += (int64_t)(unit() * 2 * (double)x->rate);
    if (rnd() % 50000 == 0)
      x->v = 0;
    return;
  }
  if (x->base > 4096 * 16 && unit() < 0.5) {
    x->v += ((int64_t)(rnd() % 33) - 16) * 4096 + (x->base - x->v) / 500 / 4096 * 4096;
    x->v = x->v < 4096 ? 4096 : x->v;
  } else if (x->base <= 4096 * 16 && rnd() % 500 == 0) {
    x->v = x->v + (rnd() % 2 ? 1 : -1);
    x->v = x->v < 1 ? 1 : x->v;
  }
}

int main(int argc, char **argv)
{
  if (argc != 5) {
    fprintf(stderr, "usage: gen_longrange SEED.prom HOURS INTERVAL_S OUT.prom\n");
    return 2;
  }
  size_t n;
  ser *s = read_seed(argv[1], &n);
  int64_t steps = (int64_t)(atof(argv[2]) * 3600 / atoi(argv[3])), iv = atoi(argv[3]) * 1000LL;
  FILE *o = fopen(argv[4], "w");
  if (!o) {
    perror(argv[4]);
    return 1;
  }
  setvbuf(o, NULL, _IOFBF, 1 << 22);
  int64_t tmin = INT64_MAX, tmax = INT64_MIN;
  for (int64_t k = 0; k < steps; k++)
    for (size_t i = 0; i < n; i++) {
      ser *x = &s[i];
      int64_t t = x->t0 + k * iv;
      if (k)
        step(x);
      if (x->frac)
        fprintf(o, "%s %" PRId64 ".%09" PRId64 " %" PRId64 "\n", x->prefix, x->v / 1000000000, x->v % 1000000000, t);
      else
        fprintf(o, "%s %" PRId64 " %" PRId64 "\n", x->prefix, x->v, t);
      tmin = t < tmin ? t : tmin;
      tmax = t > tmax ? t : tmax;
    }
  fclose(o);
  char meta[4096];
  snprintf(meta, sizeof meta, "%s.meta.json", argv[4]);
  FILE *m = fopen(meta, "w");
  fprintf(m, "{\"format\": \"prometheus text exposition, ms timestamps (gen_longrange from %s)\",\n", argv[1]);
  fprintf(m, " \"args\": {\"hours\": %s, \"interval\": %s},\n", argv[2], argv[3]);
  fprintf(m, " \"series\": %zu, \"samples\": %" PRId64 ", \"min_ts_ms\": %" PRId64 ", \"max_ts_ms\": %" PRId64 ",\n",
          n, (int64_t)n * steps, tmin, tmax);
  fprintf(m, " \"probe_series\": \"");
  for (const char *c = s[0].prefix; *c; c++)
    fprintf(m, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
  fprintf(m, "\",\n \"samples_per_metric\": {");
  const char *done[64];
  size_t nd = 0;
  for (size_t i = 0; i < n && nd < 64; i++) {
    bool seen = false;
    for (size_t j = 0; j < nd; j++)
      seen |= !strcmp(done[j], s[i].metric);
    if (seen)
      continue;
    size_t c = 0;
    for (size_t j = 0; j < n; j++)
      c += !strcmp(s[j].metric, s[i].metric);
    fprintf(m, "%s\"%s\": %" PRId64, nd ? ", " : "", s[i].metric, (int64_t)c * steps);
    done[nd++] = s[i].metric;
  }
  fprintf(m, "}}\n");
  fclose(m);
  return 0;
}
