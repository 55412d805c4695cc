/* bench_promql_eval.c — the PromQL evaluator's own cost on the issue-3
 * queries, without storage decoding or HTTP.
 *
 * Loads data shaped like ../shared/bench's dataset (200 containers × 24 h ×
 * 15 s: 204 series per metric over 8 nodes and 10 namespaces) into a
 * promql_mem store — cumulative CPU counters with 9-decimal increments, a
 * few container restarts (a stale marker, then the counter from zero),
 * ±few-ms scrape jitter; working-set byte gauges — and
 * times promql_eval_range of q1 (sum by namespace of rate), q2
 * (max_over_time of a namespace's gauges) and q5 (topk of rate) over 24 h
 * at step 60 s. promql_mem hands the stored arrays over without copying, so
 * the figures are evaluation alone: selector walk, range kernels,
 * aggregation and result assembly.
 *
 * Prints per query the median and best wall ms and the median CPU ms
 * (process CPU time, so a helper thread counts) over N runs, plus a hash of
 * the result (labels, timestamps and value bits) so a change to the engine
 * can be checked to return bit-identical results.
 * Usage: bench_promql_eval [runs [q1|q2|q5|x QUERY]]   (default 21 runs, all
 * queries; x times QUERY, over the same data and range)
 */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_hash.h"
#include "promql/promql.h"
#include "bench/lib/bench_rng.h"

#define NSERIES 204
#define NSAMPLES 5760
#define INTERVAL_MS 15000
#define T0 1699920000000LL
#define NNS 10
#define NNODES 8

static bench_rng rng = {0x9e3779b97f4a7c15ULL};
static uint64_t rnd(void) { return bench_rnd(&rng); }
static double unit(void) { return bench_unit(&rng); }

/* The labels of container k (sorted by promql_mem_add). */
static void container_labels(int k, const char *metric, char buf[8][96], lk_label *ls)
{
  static const char *const apps[] = {"web", "api", "cache", "worker", "db", "scheduler"};
  const char *app = apps[k % 6];
  snprintf(buf[0], 96, "%s", metric);
  snprintf(buf[1], 96, "%s", app);
  snprintf(buf[2], 96, "registry.local/ns-%d/%s:3.%d.%d", k % NNS, app, k % 7, k % 5);
  snprintf(buf[3], 96, "10.0.0.%d:10250", 10 + k % NNODES);
  snprintf(buf[4], 96, "ns-%d", k % NNS);
  snprintf(buf[5], 96, "node-%02d", k % NNODES);
  snprintf(buf[6], 96, "%s-%08x-%05d", app, (unsigned)(k * 2654435761u), k);
  const char *names[] = {"__name__", "container", "image", "instance", "namespace", "node", "pod"};
  for (int i = 0; i < 7; i++)
    ls[i] = (lk_label){names[i], buf[i]};
  ls[7] = (lk_label){"cpu", "total"};
  ls[8] = (lk_label){"job", "kubelet"};
}

static int load(promql_mem *m)
{
  lk_sample *cpu = malloc(NSAMPLES * sizeof *cpu), *mem = malloc(NSAMPLES * sizeof *mem);
  int rc = 0;
  for (int k = 0; k < NSERIES && !rc; k++) {
    double c = 10 + 100 * unit(), load = 0.05 + 2 * unit(), ws = 5e7 + 4e8 * unit();
    int reset_at = k % 40 == 3 ? (int)(rnd() % NSAMPLES) : -1; /* a few restarts */
    int64_t phase = (int64_t)(rnd() % INTERVAL_MS);
    for (int i = 0; i < NSAMPLES; i++) {
      int64_t t = T0 + phase + (int64_t)i * INTERVAL_MS + (int64_t)(rnd() % 9) - 4;
      if (i == reset_at)
        c = 0;
      c += load * 15 * (0.7 + 0.6 * unit());
      cpu[i] = (lk_sample){t, round(c * 1e9) / 1e9};
      if (i + 1 == reset_at) {
        uint64_t stale = TSDB_STALE_NAN_BITS;
        memcpy(&cpu[i].v, &stale, sizeof stale);
      }
      ws += (unit() - 0.5) * 2e6;
      mem[i] = (lk_sample){t, floor(ws / 4096) * 4096};
    }
    char buf[8][96];
    lk_label ls[9];
    container_labels(k, "container_cpu_usage_seconds_total", buf, ls);
    rc = promql_mem_add(m, ls, 9, cpu, NSAMPLES, NULL);
    container_labels(k, "container_memory_working_set_bytes", buf, ls);
    if (!rc)
      rc = promql_mem_add(m, ls, 9, mem, NSAMPLES, NULL);
  }
  free(cpu);
  free(mem);
  return rc;
}

static double now_ms(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static uint64_t result_hash(const promql_result *r, size_t *points)
{
  uint64_t h = 0;
  *points = 0;
  for (size_t k = 0; k < r->nseries; k++) {
    const promql_series *s = &r->series[k];
    h = lk_hash_mix(h, lk_labels_hash(s->labels, s->nlabels));
    h = lk_hash_mix(h, lk_hash64(s->t, s->n * sizeof *s->t, h));
    h = lk_hash_mix(h, lk_hash64(s->v, s->n * sizeof *s->v, h));
    *points += s->n;
  }
  return h;
}

static int run(const promql_queryable *q, const char *only, const char *name, const char *query,
               int runs)
{
  if (only && strcmp(only, name))
    return 0;
  promql_expr *e;
  lk_diag d = {0};
  if (promql_parse(query, &e, &d)) {
    fprintf(stderr, "%s: parse: %s\n", name, d.msg);
    return 1;
  }
  int64_t start = T0 + 60000, step = 60000, end = start + 1439 * step;
  double *wall = malloc((size_t)runs * sizeof *wall), *cpu = malloc((size_t)runs * sizeof *cpu);
  uint64_t h = 0;
  size_t nser = 0, points = 0;
  int rc = 0;
  for (int i = 0; i < runs && !rc; i++) {
    promql_result *r;
    double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    rc = promql_eval_range(q, NULL, e, start, end, step, &r, &d);
    wall[i] = now_ms(CLOCK_MONOTONIC) - w0;
    cpu[i] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (rc) {
      fprintf(stderr, "%s: eval: %s\n", name, d.msg);
      break;
    }
    h = result_hash(r, &points);
    nser = r->nseries;
    promql_result_free(r);
  }
  if (!rc) {
    double best = wall[0];
    for (int i = 1; i < runs; i++)
      best = wall[i] < best ? wall[i] : best;
    qsort(wall, (size_t)runs, sizeof *wall, cmp_d);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_d);
    printf("%-3s median %7.2f ms  best %7.2f ms  cpu %7.2f ms  series %3zu points %6zu  hash %016llx  %s\n",
           name, wall[runs / 2], best, cpu[runs / 2], nser, points, (unsigned long long)h, query);
  }
  free(wall);
  free(cpu);
  promql_expr_free(e);
  return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
  int runs = argc > 1 ? atoi(argv[1]) : 21;
  if (runs < 1 || runs > 10000) {
    fprintf(stderr, "usage: bench_promql_eval [runs 1..10000 [q1|q2|q5]]\n");
    return 2;
  }
  /* malloc tuned as the server tunes it (main/cmd_server.c), so per-query
   * buffers are reused instead of mapped and faulted in every run */
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  promql_mem *m = promql_mem_new();
  if (load(m)) {
    fprintf(stderr, "load failed\n");
    promql_mem_free(m);
    return 1;
  }
  promql_queryable q = promql_mem_queryable(m);
  printf("%d series x %d samples per metric, 24 h at step 60 s (1440 steps), %d runs\n", NSERIES,
         NSAMPLES, runs);
  const char *only = argc > 2 ? argv[2] : NULL;
  if (only && !strcmp(only, "x")) {
    int rc = argc > 3 ? run(&q, only, "x", argv[3], runs) : 2;
    promql_mem_free(m);
    return rc;
  }
  int rc = run(&q, only, "q1", "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))", runs);
  rc |= run(&q, only, "q2", "max_over_time(container_memory_working_set_bytes{namespace=\"ns-1\"}[1h])", runs);
  rc |= run(&q, only, "q5", "topk(10, rate(container_cpu_usage_seconds_total[5m]))", runs);
  promql_mem_free(m);
  return rc;
}
