/* rollup.c — answers a range-function call from storage rollups (bucket
 * summaries, tsdb_select_rollup) instead of raw samples, when that gives
 * the same result bit for bit; otherwise the caller evaluates it raw.
 *
 * Served: rate, increase, max/min/count/last_over_time, and sum/avg_over_time
 * where every value in the window is an integer and the sums stay within
 * 2^53 (then Prometheus's compensated sum is exact, as is any order of
 * adding bucket sums; elsewhere the two round differently, so those windows
 * are read raw). The selector must be a plain range selector (no @, no
 * anchored/smoothed, constant range and offset) whose windows
 * (t − range, t] are runs of whole 1 h buckets: range, step and every
 * window end multiples of 1 h (max_over_time(x[1h]) reads one bucket per
 * step) — or, for rate/increase/count/last_over_time, a 5 m range at an
 * hourly step: each window is then the last 5 minutes of one bucket, its
 * tail (rate(x[5m]) at a 1 h step). rate/increase re-add the value before every
 * counter drop — inside buckets (kept in the record) and between them — in
 * time order, and extrapolate with the window's first/last sample, as
 * funcs_range.c does over the points.
 */
#include <string.h>

#include "lib/lk_pair.h"
#include "promql/promql_int.h"

#define EXACT_LIMIT 9007199254740992.0 /* 2^53 */

enum rkind { R_NONE, R_RATE, R_INCREASE, R_MAX, R_MIN, R_COUNT, R_LAST, R_SUM, R_AVG };

static enum rkind kind_of(const char *name)
{
  static const struct { const char *name; enum rkind k; } map[] = {
    {"rate", R_RATE}, {"increase", R_INCREASE}, {"max_over_time", R_MAX}, {"min_over_time", R_MIN},
    {"count_over_time", R_COUNT}, {"last_over_time", R_LAST}, {"sum_over_time", R_SUM},
    {"avg_over_time", R_AVG},
  };
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp(map[i].name, name))
      return map[i].k;
  return R_NONE;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
  int64_t m = a % b;
  return m < 0 ? m + b : m;
}

static double mag(double v) { return v < 0 ? -v : v; }

/* The value of one window r[0..n) (n ≥ 1); false: no point (rate of one
 * sample) — *exact false: the rollups cannot give the raw result here. */
static bool window_value(enum rkind k, const tsdb_rollup_rec *r, size_t n, const double *resets,
                         int64_t eff, int64_t range, double *out, bool *exact)
{
  double acc = 0, bound = 0;
  uint64_t count = 0;
  bool integral = true;
  for (size_t i = 0; i < n; i++) {
    count += r[i].count;
    integral &= r[i].integral;
    bound += (mag(r[i].min) > mag(r[i].max) ? mag(r[i].min) : mag(r[i].max)) * r[i].count;
  }
  switch (k) {
  case R_MAX:
  case R_MIN:
    acc = k == R_MAX ? r[0].max : r[0].min;
    for (size_t i = 1; i < n; i++) {
      double v = k == R_MAX ? r[i].max : r[i].min;
      acc = (k == R_MAX ? v > acc : v < acc) || acc != acc ? v : acc;
    }
    *out = acc;
    return true;
  case R_COUNT:
    *out = (double)count;
    return true;
  case R_LAST:
    *out = r[n - 1].last_v;
    return true;
  case R_SUM:
  case R_AVG:
    if (!integral || bound > EXACT_LIMIT) {
      *exact = false;
      return false;
    }
    for (size_t i = 0; i < n; i++)
      acc += r[i].sum;
    /* pq_k_sum / pq_k_avg with a compensation of exactly 0 */
    *out = k == R_SUM ? acc + 0.0 : acc / (double)count + 0.0 / (double)count;
    return true;
  default:
    break;
  }
  if (count < 2)
    return false;
  double result = r[n - 1].last_v - r[0].first_v;
  for (size_t i = 0; i < n; i++) {
    if (r[i].nresets == TSDB_ROLLUP_MANY_RESETS) {
      *exact = false;
      return false;
    }
    if (i && r[i].first_v < r[i - 1].last_v)
      result += r[i - 1].last_v;
    for (uint32_t j = 0; j < r[i].nresets; j++)
      result += resets[r[i].reset_off + j];
  }
  *out = promql__counter_rate(r[0].first_t, r[n - 1].last_t, count, r[0].first_v, result, eff, range,
                              k == R_RATE);
  return true;
}

/* The window (end − TSDB_ROLLUP_TAIL, end] of bucket r, as window_value. */
static bool tail_value(enum rkind k, const tsdb_rollup_rec *r, const double *resets, double *out, bool *exact)
{
  if (!r->tail_count)
    return false;
  if (k == R_COUNT || k == R_LAST) {
    *out = k == R_COUNT ? (double)r->tail_count : r->last_v;
    return true;
  }
  if (r->tail_count < 2)
    return false;
  if (r->tail_nresets && r->nresets == TSDB_ROLLUP_MANY_RESETS) {
    *exact = false;
    return false;
  }
  double result = r->last_v - r->tail_first_v;
  for (uint32_t j = r->nresets - r->tail_nresets; j < r->nresets; j++)
    result += resets[r->reset_off + j];
  *out = promql__counter_rate(r->tail_first_t, r->last_t, r->tail_count, r->tail_first_v, result, r->end,
                              TSDB_ROLLUP_TAIL, k == R_RATE);
  return true;
}

/* Every step of one series into s; false with *exact false when a window
 * cannot be served. tail: each window is the tail of the bucket ending there. */
static bool series_steps(const pq_ctx *c, enum rkind k, const tsdb_rollup_series *in, int64_t first,
                         int64_t range, bool tail, pq_series *s, bool *exact)
{
  size_t lo = 0, hi = 0;
  bool any = false;
  for (size_t i = 0; i < c->nsteps && *exact; i++) {
    int64_t eff = first + (int64_t)i * c->step;
    while (hi < in->n && in->r[hi].end <= eff)
      hi++;
    while (lo < hi && in->r[lo].end <= eff - (tail ? TSDB_ROLLUP_1H : range))
      lo++;
    bool got = hi > lo && (tail ? tail_value(k, &in->r[lo], in->resets, &s->v[i], exact)
                                : window_value(k, in->r + lo, hi - lo, in->resets, eff, range, &s->v[i], exact));
    s->ok[i] = got;
    any |= got;
  }
  return any;
}

static lk_label *copy_labels(pq_ctx *c, const lk_label *ls, size_t n)
{
  lk_label *o = lk_arena_alloc(c->a, (n ? n : 1) * sizeof *o);
  for (size_t i = 0; i < n; i++)
    o[i] = (lk_label){lk_arena_strndup(c->a, ls[i].name, strlen(ls[i].name)),
                      lk_arena_strndup(c->a, ls[i].value, strlen(ls[i].value))};
  return o;
}

/* One thread's share of a set's series [j0, j1): it reads them through
 * its own slot, writes only their o[] entries, kept[] and labels[], and
 * its own rc, diag and exact. */
typedef struct rshare {
  const pq_ctx *c;
  enum rkind k;
  void *set;
  unsigned slot;
  size_t j0, j1;
  int64_t first, range;
  bool tail, exact;
  pq_series *o;
  bool *kept;
  tsdb_rollup_series *in;  /* labels of each series (valid until release) */
  int rc;
  lk_diag d;
} rshare;

static void *eval_share(void *arg)
{
  rshare *w = arg;
  for (size_t j = w->j0; j < w->j1 && w->exact && !w->rc; j++) {
    if ((w->rc = w->c->q->rollups->get(w->set, j, w->slot, &w->in[j], &w->d)))
      break;
    w->kept[j] = series_steps(w->c, w->k, &w->in[j], w->first, w->range, w->tail, &w->o[j], &w->exact);
  }
  return NULL;
}

/* Sets of at least this many series and steps are shared with a second thread. */
#define PARALLEL_MIN_STEPS 8192

/* The values of every series, or *exact false. Large sets are read and
 * evaluated in two halves on two threads (storage decodes records per
 * series, promql__counter_rate runs per step); the helper thread takes no
 * locks and allocates nothing, and is joined before anything is read. */
static int eval_set(pq_ctx *c, enum rkind k, void *set, int64_t first, int64_t range, bool tail, pq_val *out,
                    bool *exact)
{
  size_t n = c->q->rollups->count(set);
  int rc = promql__check_limits(c, (uint64_t)n * c->nsteps);
  if (rc)
    return rc;
  pq_series *o = promql__new_series(c, n);
  for (size_t j = 0; j < n; j++)
    promql__alloc_slots(c, &o[j]);
  bool *kept = lk_arena_zalloc(c->a, n ? n : 1);
  tsdb_rollup_series *in = lk_arena_alloc(c->a, (n ? n : 1) * sizeof *in);
  size_t split = n >= 2 && (uint64_t)n * c->nsteps >= PARALLEL_MIN_STEPS ? n / 2 : n;
  _Static_assert(PROMQL_ROLLUP_SLOTS >= 2, "a slot per share");
  rshare w[2];
  for (unsigned i = 0; i < 2; i++)
    w[i] = (rshare){.c = c, .k = k, .set = set, .slot = i, .j0 = i ? split : 0, .j1 = i ? n : split, .first = first,
                    .range = range, .tail = tail, .exact = true, .o = o, .kept = kept, .in = in};
  if (split < n)
    lk_run_pair(eval_share, &w[0], &w[1]);
  else
    eval_share(&w[0]); /* w[1] has no series */
  for (unsigned i = 0; i < 2 && !rc; i++) {
    if ((rc = w[i].rc) && w[i].d.set)
      lk_diag_set(c->d, rc, w[i].d.offset, "%s", w[i].d.msg);
    *exact &= w[i].exact;
  }
  size_t m = 0;
  for (size_t j = 0; j < n && !rc && *exact; j++) {
    if (!kept[j])
      continue;
    o[m] = o[j];
    o[m].ls = copy_labels(c, in[j].labels, in[j].nlabels);
    o[m].nls = in[j].nlabels;
    o[m].drop_name = k != R_LAST;
    m++;
  }
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = m};
  return rc;
}

/* Whether 1 h buckets (or, *tail, their last 5 minutes) tile every window. */
static bool aligned(const pq_ctx *c, enum rkind k, int64_t first, int64_t range, bool *tail)
{
  int64_t h = TSDB_ROLLUP_1H;
  *tail = range == TSDB_ROLLUP_TAIL && (k == R_RATE || k == R_INCREASE || k == R_COUNT || k == R_LAST);
  return (range % h == 0 || *tail) && (c->nsteps == 1 || c->step % h == 0) && floor_mod(first, h) == 0;
}

int promql__rollup_call(pq_ctx *c, const pq_expr *call, pq_val *out, bool *served)
{
  *served = false;
  enum rkind k = kind_of(call->u.call.f->name);
  const pq_expr *sel = call->u.call.nargs == 1 ? call->u.call.args[0] : NULL;
  while (sel && sel->kind == N_PAREN)
    sel = sel->u.inner;
  if (!c->q->rollups || k == R_NONE || !sel || sel->kind != N_SEL || sel->u.sel.ext != EXT_NONE ||
      sel->u.sel.at != AT_NONE || sel->u.sel.range_x || sel->u.sel.offset_x || !c->nsteps ||
      sel->u.sel.range <= 0)
    return 0;
  int64_t range = sel->u.sel.range, first = c->start - sel->u.sel.offset;
  int64_t last = first + (int64_t)(c->nsteps - 1) * c->step;
  bool tail;
  if (!aligned(c, k, first, range, &tail))
    return 0;
  void *set = NULL;
  lk_diag sd = {0};
  int64_t from = first - (tail ? TSDB_ROLLUP_1H : range) + 1;
  int rc = c->q->rollups->select(c->q->ctx, sel->u.sel.m, sel->u.sel.nm, from, last, TSDB_ROLLUP_1H,
                                 c->max_series, &set, &sd);
  if (rc == LK_ENOENT)
    return 0;
  if (rc)
    return sd.set ? lk_diag_set(c->d, rc, sd.offset, "%s", sd.msg) : rc;
  bool exact = true;
  uint64_t charged = c->samples;
  rc = eval_set(c, k, set, first, range, tail, out, &exact);
  c->q->rollups->release(set);
  *served = !rc && exact;
  if (!rc && !exact)
    c->samples = charged; /* evaluated raw: charged there */
  return rc;
}
