/* logql_metric.c — metric LogQL: range functions over log lines and vector
 * aggregations, evaluated on a grid of steps.
 *
 * The scan adds every matching entry in [first step - range, last step] to
 * its output series' per-step counts (and byte sums) as it streams in, in any
 * order: +1 at the first step whose window holds it, -1 past the last (a
 * bare selector's count_over_time/rate reads only the blocks' timestamp
 * columns); a running sum per series then gives each step's value, so a range
 * query costs one scan plus O(steps) per series and stores no entry. Values live in a steps-wide array per series with NaN
 * for "no point" (Loki omits steps without entries). Aggregations reduce
 * those arrays; topk/bottomk keep the k extreme series per step and group.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logstore/logql_eval.h"

typedef struct vec {
  lk_label *labels;
  size_t nlabels;
  double *v; /* nsteps; NaN = absent */
} vec;

typedef struct vecs {
  vec *v;
  size_t n;
} vecs;

typedef struct mctx {
  logstore *s;
  const logstore_query_opts *o;
  int64_t *steps;
  size_t nsteps;
  size_t max_series;
  logstore_result *r;
  lk_diag *d;
} mctx;

/* The steps whose windows (s_k - range, s_k] hold a timestamp, [lo, hi]
 * (none when !any), and the timestamps [from, to] that share them: entries
 * arrive mostly in order, so one span serves a run of them. */
typedef struct span {
  int64_t from, to;
  size_t lo, hi;
  bool any;
} span;

/* The output series of a metric scan; without parsers a stream's entries all
 * go to one series, so the last stream's series is kept at hand. */
typedef struct mgroups {
  lq_groups gs;
  const ls_stream *last_st;
  size_t last_g;
  const mctx *m;
  int64_t range_ns;
  bool want_bytes;
  span sp;
} mgroups;

static bool wants_bytes(const lq_expr *e)
{
  return e->fn == LQ_BYTES_OVER_TIME || e->fn == LQ_BYTES_RATE;
}

static lq_group *new_counts(mgroups *mg, lq_group *g)
{
  if (!g->cnt) {
    g->cnt = lk_xcalloc(mg->m->nsteps + 1, sizeof *g->cnt);
    if (mg->want_bytes)
      g->bytes = lk_xcalloc(mg->m->nsteps + 1, sizeof *g->bytes);
  }
  return g;
}

static lq_group *metric_group(lq_scan *sc, mgroups *mg, const ls_stream *st, const lq_line *ln)
{
  if (!sc->parsers && st == mg->last_st)
    return &mg->gs.v[mg->last_g];
  lk_label tmp[96];
  size_t nl = logstore__lq_out_labels(st, ln, tmp, 96);
  lq_group *g = logstore__lq_group_get(&mg->gs, tmp, nl, sc->res->arena);
  mg->last_st = st;
  mg->last_g = (size_t)(g - mg->gs.v);
  return new_counts(mg, g);
}

static span no_span(int64_t from, int64_t to)
{
  return (span){.from = from, .to = to};
}

/* Steps s_k = s0 + k * step: the first holding ts is the first s_k >= ts,
 * the last is the last s_k <= ts + range - 1 (clamped to the grid). One step
 * (an instant query) is a grid of any step: 1 keeps the arithmetic exact. */
static span step_span(const mctx *m, int64_t range, int64_t ts)
{
  int64_t s0 = m->steps[0], n = (int64_t)m->nsteps;
  int64_t step = n > 1 ? m->steps[1] - s0 : 1, last = ts + range - 1;
  if (last < s0)
    return no_span(INT64_MIN, s0 - range);
  int64_t k_lo = ts <= s0 ? 0 : (ts - s0 + step - 1) / step;
  if (k_lo >= n)
    return no_span(s0 + (n - 1) * step + 1, INT64_MAX);
  int64_t lo_from = k_lo ? s0 + (k_lo - 1) * step + 1 : INT64_MIN, lo_to = s0 + k_lo * step;
  int64_t k_hi = (last - s0) / step, hi_to = s0 + (k_hi + 1) * step - range;
  if (k_hi >= n - 1) {
    k_hi = n - 1;
    hi_to = INT64_MAX;
  }
  int64_t hi_from = s0 + k_hi * step - range + 1;
  span sp = {.from = lo_from > hi_from ? lo_from : hi_from, .to = lo_to < hi_to ? lo_to : hi_to,
             .lo = (size_t)k_lo, .hi = (size_t)k_hi, .any = k_lo <= k_hi};
  return sp;
}

/* Each entry adds itself to the steps whose window holds it, as deltas at
 * the first of them and past the last: no per-entry storage, any order. */
static bool emit_metric(lq_scan *sc, const ls_stream *st, int64_t ts, const lq_line *ln)
{
  mgroups *mg = sc->ctx;
  lq_group *g = metric_group(sc, mg, st, ln);
  if (mg->gs.n > sc->limit) {
    sc->err = LK_ELIMIT;
    return false;
  }
  if (ts < mg->sp.from || ts > mg->sp.to)
    mg->sp = step_span(mg->m, mg->range_ns, ts);
  if (!mg->sp.any)
    return true;
  g->cnt[mg->sp.lo]++;
  g->cnt[mg->sp.hi + 1]--;
  if (mg->want_bytes) {
    g->bytes[mg->sp.lo] += ln->len;
    g->bytes[mg->sp.hi + 1] -= ln->len;
  }
  return true;
}

/* The values of one series: running sums of its deltas, step by step. */
static void sweep(const mctx *m, const lq_expr *e, const lq_group *g, double *out)
{
  int64_t cnt = 0;
  uint64_t bytes = 0;
  double secs = (double)e->range_ns / 1e9;
  for (size_t k = 0; k < m->nsteps; k++) {
    cnt += g->cnt[k];
    if (g->bytes)
      bytes += g->bytes[k];
    if (!cnt) {
      out[k] = NAN;
      continue;
    }
    switch (e->fn) {
    case LQ_COUNT_OVER_TIME: out[k] = (double)cnt; break;
    case LQ_RATE: out[k] = (double)cnt / secs; break;
    case LQ_BYTES_OVER_TIME: out[k] = (double)bytes; break;
    case LQ_BYTES_RATE: out[k] = (double)bytes / secs; break;
    }
  }
}

/* count_over_time and rate of a bare selector count entries: no line needed. */
static bool counts_only(const lq_expr *e)
{
  return !wants_bytes(e) && e->log.nst == 0;
}

static int eval_range(mctx *m, const lq_expr *e, vecs *out)
{
  mgroups mg = {.m = m, .range_ns = e->range_ns, .want_bytes = wants_bytes(e),
                .sp = no_span(INT64_MAX, INT64_MIN)};
  lq_scan sc = {.s = m->s, .lg = &e->log, .start = m->steps[0] - e->range_ns + 1,
                .end = m->steps[m->nsteps - 1], .res = m->r, .emit = emit_metric, .ctx = &mg,
                .limit = m->max_series, .ts_only = counts_only(e)};
  int rc = logstore__lq_scan(&sc);
  if (rc == LK_ELIMIT)
    lk_diag_set(m->d, rc, -1, "query produces more than %zu series", m->max_series);
  lq_groups *gs = &mg.gs;
  if (!rc) {
    out->v = lk_arena_zalloc(m->r->arena, (gs->n ? gs->n : 1) * sizeof *out->v);
    for (size_t i = 0; i < gs->n; i++) {
      vec *v = &out->v[out->n++];
      v->labels = gs->v[i].labels;
      v->nlabels = gs->v[i].nlabels;
      v->v = lk_arena_alloc(m->r->arena, m->nsteps * sizeof *v->v);
      sweep(m, e, &gs->v[i], v->v);
    }
  }
  logstore__lq_groups_fini(gs);
  return rc;
}

static bool in_grouping(const lq_expr *e, const char *name)
{
  for (size_t i = 0; i < e->ngrouping; i++)
    if (!strcmp(e->grouping[i], name))
      return true;
  return false;
}

/* The labels an aggregation keeps for one input series. */
static size_t group_labels(const lq_expr *e, const vec *in, lk_label *out, size_t max)
{
  size_t n = 0;
  for (size_t i = 0; i < in->nlabels && n < max; i++)
    if (in_grouping(e, in->labels[i].name) == !e->without)
      out[n++] = in->labels[i];
  return n;
}

static void combine(enum lq_agg_op op, double *acc, double *cnt, double x)
{
  if (isnan(x))
    return;
  if (*cnt == 0) {
    *acc = op == LQ_COUNT ? 1 : x;
  } else {
    switch (op) {
    case LQ_SUM: case LQ_AVG: *acc += x; break;
    case LQ_MIN: if (x < *acc) *acc = x; break;
    case LQ_MAX: if (x > *acc) *acc = x; break;
    default: *acc += 1; break;
    }
  }
  *cnt += 1;
}

/* The output group of each input series (malloc'd; groups added to gs). */
static uint32_t *group_index(const mctx *m, const lq_expr *e, const vecs *in, lq_groups *gs)
{
  uint32_t *gi = lk_xmalloc((in->n ? in->n : 1) * sizeof *gi);
  for (size_t i = 0; i < in->n; i++) {
    lk_label tmp[96];
    size_t nl = group_labels(e, &in->v[i], tmp, 96);
    gi[i] = (uint32_t)(logstore__lq_group_get(gs, tmp, nl, m->r->arena) - gs->v);
  }
  return gi;
}

static void reduce(const mctx *m, const lq_expr *e, const vecs *in, vecs *out)
{
  lq_groups gs = {0};
  uint32_t *gi = group_index(m, e, in, &gs);
  out->n = gs.n;
  out->v = lk_arena_zalloc(m->r->arena, (gs.n ? gs.n : 1) * sizeof *out->v);
  double *cnt = lk_xcalloc(gs.n * m->nsteps + 1, sizeof *cnt);
  for (size_t g = 0; g < gs.n; g++) {
    out->v[g].labels = gs.v[g].labels;
    out->v[g].nlabels = gs.v[g].nlabels;
    out->v[g].v = lk_arena_alloc(m->r->arena, m->nsteps * sizeof(double));
  }
  for (size_t i = 0; i < in->n; i++)
    for (size_t k = 0; k < m->nsteps; k++)
      combine(e->agg, &out->v[gi[i]].v[k], &cnt[gi[i] * m->nsteps + k], in->v[i].v[k]);
  for (size_t g = 0; g < gs.n; g++)
    for (size_t k = 0; k < m->nsteps; k++) {
      double c = cnt[g * m->nsteps + k];
      double *x = &out->v[g].v[k];
      *x = c == 0 ? NAN : e->agg == LQ_AVG ? *x / c : *x;
    }
  free(cnt);
  free(gi);
  logstore__lq_groups_fini(&gs);
}

/* topk/bottomk: per step and group, keep the k largest/smallest values. */
static void select_k(const mctx *m, const lq_expr *e, vecs *in)
{
  lq_groups gs = {0};
  uint32_t *gi = group_index(m, e, in, &gs);
  bool top = e->agg == LQ_TOPK;
  for (size_t k = 0; k < m->nsteps; k++)
    for (size_t i = 0; i < in->n; i++) {
      double x = in->v[i].v[k];
      if (isnan(x))
        continue;
      long better = 0; /* series of the same group ranked ahead of i */
      for (size_t j = 0; j < in->n; j++) {
        double y = in->v[j].v[k];
        if (j == i || gi[j] != gi[i] || isnan(y))
          continue;
        if (top ? (y > x || (y == x && j < i)) : (y < x || (y == x && j < i)))
          better++;
      }
      if (better >= e->k)
        in->v[i].v[k] = -INFINITY; /* marked; cleared below */
    }
  for (size_t i = 0; i < in->n; i++)
    for (size_t k = 0; k < m->nsteps; k++)
      if (isinf(in->v[i].v[k]) && in->v[i].v[k] < 0)
        in->v[i].v[k] = NAN;
  free(gi);
  logstore__lq_groups_fini(&gs);
}

static int eval(mctx *m, const lq_expr *e, vecs *out)
{
  if (e->kind == LQ_RANGE)
    return eval_range(m, e, out);
  vecs in = {0};
  int rc = eval(m, e->inner, &in);
  if (rc)
    return rc;
  if (e->agg == LQ_TOPK || e->agg == LQ_BOTTOMK) {
    select_k(m, e, &in);
    *out = in;
  } else {
    reduce(m, e, &in, out);
  }
  return 0;
}

static void to_result(const mctx *m, const vecs *v, logstore_result *r)
{
  r->kind = m->o->step_ns ? LOGSTORE_MATRIX : LOGSTORE_VECTOR;
  r->series = lk_arena_zalloc(r->arena, (v->n ? v->n : 1) * sizeof *r->series);
  for (size_t i = 0; i < v->n; i++) {
    size_t pts = 0;
    for (size_t k = 0; k < m->nsteps; k++)
      pts += !isnan(v->v[i].v[k]);
    if (!pts)
      continue;
    logstore_rseries *s = &r->series[r->n++];
    s->labels = v->v[i].labels;
    s->nlabels = v->v[i].nlabels;
    lk_labels_sort(s->labels, s->nlabels);
    s->t_ns = lk_arena_alloc(r->arena, pts * sizeof *s->t_ns);
    s->v = lk_arena_alloc(r->arena, pts * sizeof *s->v);
    for (size_t k = 0; k < m->nsteps; k++)
      if (!isnan(v->v[i].v[k])) {
        s->t_ns[s->n] = m->steps[k];
        s->v[s->n++] = v->v[i].v[k];
      }
  }
}

#define MAX_STEPS 11000

int logstore__lq_metric(logstore *s, const lq_expr *e, const logstore_query_opts *o,
                        logstore_result *r, lk_diag *d)
{
  mctx m = {.s = s, .o = o, .r = r, .d = d, .max_series = o->max_series ? o->max_series : 10000};
  if (o->step_ns > 0) {
    if (o->end_ns < o->start_ns || (o->end_ns - o->start_ns) / o->step_ns >= MAX_STEPS)
      return lk_diag_set(d, LK_ELIMIT, -1, "exceeded maximum resolution of %d points per "
                         "series; use a larger step", MAX_STEPS);
    m.nsteps = (size_t)((o->end_ns - o->start_ns) / o->step_ns) + 1;
  } else {
    m.nsteps = 1;
  }
  m.steps = lk_xmalloc(m.nsteps * sizeof *m.steps);
  for (size_t k = 0; k < m.nsteps; k++)
    m.steps[k] = o->step_ns > 0 ? o->start_ns + (int64_t)k * o->step_ns : o->end_ns;
  vecs v = {0};
  int rc = eval(&m, e, &v);
  if (!rc)
    to_result(&m, &v, r);
  free(m.steps);
  return rc;
}
