/* funcs.c — the function table and the instant-vector functions: math and
 * trigonometry, round/clamp, time and date, vector/scalar/timestamp,
 * absent/absent_over_time, and the call dispatcher. Sorting, label
 * manipulation and histogram_quantile live in funcs_label.c.
 *
 * Element-wise functions run over the dense per-step arrays in place (the
 * argument value is owned by this call) and mark __name__ for removal.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "promql/promql_int.h"

typedef double (*mathfn)(double);

static double f_sgn(double v) { return v > 0 ? 1 : v < 0 ? -1 : v; }
static double f_deg(double v) { return v * 180 / M_PI; }
static double f_rad(double v) { return v * M_PI / 180; }

static const struct { const char *name; mathfn f; } mathfns[] = {
  {"abs", fabs}, {"ceil", ceil}, {"floor", floor}, {"exp", exp}, {"ln", log}, {"log2", log2},
  {"log10", log10}, {"sqrt", sqrt}, {"sgn", f_sgn}, {"acos", acos}, {"acosh", acosh},
  {"asin", asin}, {"asinh", asinh}, {"atan", atan}, {"atanh", atanh}, {"cos", cos},
  {"cosh", cosh}, {"sin", sin}, {"sinh", sinh}, {"tan", tan}, {"tanh", tanh},
  {"deg", f_deg}, {"rad", f_rad},
};

static void map_values(pq_ctx *c, pq_val *v, mathfn f)
{
  for (size_t k = 0; k < v->n; k++) {
    pq_series *s = &v->ser[k];
    for (size_t i = 0; i < c->nsteps; i++)
      if (s->ok[i])
        s->v[i] = f(s->v[i]);
    s->drop_name = true;
  }
}

static int fn_math(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  for (size_t i = 0; i < sizeof mathfns / sizeof mathfns[0]; i++)
    if (!strcmp(mathfns[i].name, call->u.call.f->name))
      map_values(c, &a[0], mathfns[i].f);
  *out = a[0];
  return 0;
}

static int fn_round(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  for (size_t k = 0; k < a[0].n; k++) {
    pq_series *s = &a[0].ser[k];
    for (size_t i = 0; i < c->nsteps; i++) {
      double inv = 1 / (call->u.call.nargs > 1 ? a[1].s[i] : 1);
      if (s->ok[i])
        s->v[i] = floor(s->v[i] * inv + 0.5) / inv;
    }
    s->drop_name = true;
  }
  *out = a[0];
  return 0;
}

static int fn_clamp(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  const char *name = call->u.call.f->name;
  bool has_min = strcmp(name, "clamp_max") != 0, has_max = strcmp(name, "clamp_min") != 0;
  const double *mn = has_min ? a[1].s : NULL, *mx = has_max ? a[has_min ? 2 : 1].s : NULL;
  for (size_t k = 0; k < a[0].n; k++) {
    pq_series *s = &a[0].ser[k];
    for (size_t i = 0; i < c->nsteps; i++) {
      if (!s->ok[i])
        continue;
      if (mn && mx && mx[i] < mn[i]) {
        s->ok[i] = 0;
        continue;
      }
      double v = s->v[i];
      if (mx)
        v = fmin(mx[i], v);
      if (mn)
        v = fmax(mn[i], v);
      if (isnan(s->v[i]) || (mn && isnan(mn[i])) || (mx && isnan(mx[i])))
        v = NAN;
      s->v[i] = v;
    }
    s->drop_name = true;
  }
  *out = a[0];
  return 0;
}

static int fn_time(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  double *s = promql__scalar_arr(c, 0);
  for (size_t i = 0; i < c->nsteps; i++)
    s[i] = (double)pq_ts(c, i) / 1000;
  *out = (pq_val){.type = V_SCALAR, .s = s};
  return 0;
}

/* start(), end(), range(), step(): the query's bounds, in seconds. */
static int fn_query_param(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  const char *n = call->u.call.f->name;
  int64_t v = !strcmp(n, "start") ? c->qstart : !strcmp(n, "end") ? c->qend
              : !strcmp(n, "range") ? c->qend - c->qstart : c->qstep;
  *out = (pq_val){.type = V_SCALAR, .s = promql__scalar_arr(c, (double)v / 1000)};
  return 0;
}

/* min_of(a, b) / max_of(a, b) on scalars; NaN if either is NaN. */
static int fn_min_max_of(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  bool is_min = !strcmp(call->u.call.f->name, "min_of");
  double *s = promql__scalar_arr(c, 0);
  for (size_t i = 0; i < c->nsteps; i++) {
    double x = a[0].s[i], y = a[1].s[i];
    s[i] = isnan(x) || isnan(y) ? NAN : is_min ? fmin(x, y) : fmax(x, y);
  }
  *out = (pq_val){.type = V_SCALAR, .s = s};
  return 0;
}

static int fn_pi(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  *out = (pq_val){.type = V_SCALAR, .s = promql__scalar_arr(c, M_PI)};
  return 0;
}

static int fn_vector(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  pq_series *s = promql__new_series(c, 1);
  promql__alloc_slots(c, s);
  for (size_t i = 0; i < c->nsteps; i++) {
    s->v[i] = a[0].s[i];
    s->ok[i] = 1;
  }
  *out = (pq_val){.type = V_VECTOR, .ser = s, .n = 1};
  return 0;
}

static int fn_scalar(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  double *s = promql__scalar_arr(c, NAN);
  for (size_t i = 0; i < c->nsteps; i++) {
    size_t cnt = 0;
    double v = NAN;
    for (size_t k = 0; k < a[0].n; k++)
      if (a[0].ser[k].ok[i]) {
        cnt++;
        v = a[0].ser[k].v[i];
      }
    s[i] = cnt == 1 ? v : NAN;
  }
  *out = (pq_val){.type = V_SCALAR, .s = s};
  return 0;
}

static int fn_timestamp(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  for (size_t k = 0; k < a[0].n; k++) {
    pq_series *s = &a[0].ser[k];
    for (size_t i = 0; i < c->nsteps; i++)
      if (s->ok[i])
        s->v[i] = (double)pq_ts(c, i) / 1000;
    s->drop_name = true;
  }
  *out = a[0];
  return 0;
}

/* Labels absent() reports: the selector's equality matchers (a name with
 * several matchers is left out), __name__ excluded. */
static void absent_labels(pq_ctx *c, const pq_expr *arg, pq_series *s)
{
  while (arg->kind == N_PAREN)
    arg = arg->u.inner;
  s->ls = lk_arena_alloc(c->a, sizeof(lk_label));
  s->nls = 0;
  if (arg->kind != N_SEL)
    return;
  const char *seen[64];
  size_t nseen = 0;
  for (size_t i = 0; i < arg->u.sel.nm; i++) {
    const tsdb_matcher *m = &arg->u.sel.m[i];
    if (!strcmp(m->name, "__name__"))
      continue;
    if (m->type == TSDB_EQ && !promql__in_list(m->name, seen, nseen)) {
      s->ls = promql__labels_set(c, s->ls, s->nls, m->name, m->value, &s->nls);
      if (nseen < 64)
        seen[nseen++] = m->name;
    } else {
      s->ls = promql__labels_set(c, s->ls, s->nls, m->name, "", &s->nls);
    }
  }
}

static int fn_absent(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  pq_series *s = promql__new_series(c, 1);
  promql__alloc_slots(c, s);
  bool any = false;
  for (size_t i = 0; i < c->nsteps; i++) {
    bool present = false;
    if (a[0].type == V_VECTOR) {
      for (size_t k = 0; k < a[0].n && !present; k++)
        present = a[0].ser[k].ok[i];
    } else {
      for (size_t k = 0; k < a[0].nrs && !present; k++) {
        pq_rseries *r = &a[0].rs[k];
        for (size_t j = 0; j < r->n && !present; j++)
          present = r->t[j] > a[0].eff[i] - a[0].range && r->t[j] <= a[0].eff[i];
      }
    }
    s->ok[i] = !present;
    s->v[i] = 1;
    any |= !present;
  }
  absent_labels(c, call->u.call.args[0], s);
  *out = (pq_val){.type = V_VECTOR, .ser = s, .n = any ? 1 : 0};
  return 0;
}

static const struct { const char *name; int which; } datefns[] = {
  {"day_of_month", 0}, {"day_of_week", 1}, {"day_of_year", 2}, {"days_in_month", 3},
  {"hour", 4}, {"minute", 5}, {"month", 6}, {"year", 7},
};

static double date_part(double secs, int which)
{
  /* beyond what time_t holds, or a year gmtime cannot express: no date */
  if (!(secs >= -0x1p63 && secs < 0x1p63))
    return NAN;
  time_t t = (time_t)secs;
  struct tm tm;
  if (!gmtime_r(&t, &tm))
    return NAN;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = tm.tm_year + 1900;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  switch (which) {
  case 0: return tm.tm_mday;
  case 1: return tm.tm_wday;
  case 2: return tm.tm_yday + 1;
  case 3: return mdays[tm.tm_mon] + (tm.tm_mon == 1 && leap);
  case 4: return tm.tm_hour;
  case 5: return tm.tm_min;
  case 6: return tm.tm_mon + 1;
  default: return y;
  }
}

static int fn_date(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  int which = 0;
  for (size_t i = 0; i < sizeof datefns / sizeof datefns[0]; i++)
    if (!strcmp(datefns[i].name, call->u.call.f->name))
      which = datefns[i].which;
  if (!call->u.call.nargs) {
    pq_val t;
    fn_time(c, call, a, &t);
    double *s = t.s;
    for (size_t i = 0; i < c->nsteps; i++)
      s[i] = date_part(s[i], which);
    pq_val sv = {.type = V_SCALAR, .s = s};
    return fn_vector(c, call, &sv, out);
  }
  for (size_t k = 0; k < a[0].n; k++) {
    pq_series *s = &a[0].ser[k];
    for (size_t i = 0; i < c->nsteps; i++)
      if (s->ok[i])
        s->v[i] = date_part(s->v[i], which);
    s->drop_name = true;
  }
  *out = a[0];
  return 0;
}

/* Native-histogram functions: float series carry no histograms, so the
 * result is always empty. */
static int fn_empty(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  *out = (pq_val){.type = V_VECTOR};
  return 0;
}

#define S ARG_SCALAR
#define V ARG_VECTOR
#define M ARG_MATRIX
#define STR ARG_STRING
#define VEC PROMQL_VECTOR
#define SCA PROMQL_SCALAR
#define RF promql__eval_range_func


static const pq_func funcs[] = {
  {"abs", {V}, 1, 0, VEC, fn_math}, {"ceil", {V}, 1, 0, VEC, fn_math},
  {"floor", {V}, 1, 0, VEC, fn_math}, {"exp", {V}, 1, 0, VEC, fn_math},
  {"ln", {V}, 1, 0, VEC, fn_math}, {"log2", {V}, 1, 0, VEC, fn_math},
  {"log10", {V}, 1, 0, VEC, fn_math}, {"sqrt", {V}, 1, 0, VEC, fn_math},
  {"sgn", {V}, 1, 0, VEC, fn_math}, {"acos", {V}, 1, 0, VEC, fn_math},
  {"acosh", {V}, 1, 0, VEC, fn_math}, {"asin", {V}, 1, 0, VEC, fn_math},
  {"asinh", {V}, 1, 0, VEC, fn_math}, {"atan", {V}, 1, 0, VEC, fn_math},
  {"atanh", {V}, 1, 0, VEC, fn_math}, {"cos", {V}, 1, 0, VEC, fn_math},
  {"cosh", {V}, 1, 0, VEC, fn_math}, {"sin", {V}, 1, 0, VEC, fn_math},
  {"sinh", {V}, 1, 0, VEC, fn_math}, {"tan", {V}, 1, 0, VEC, fn_math},
  {"tanh", {V}, 1, 0, VEC, fn_math}, {"deg", {V}, 1, 0, VEC, fn_math},
  {"rad", {V}, 1, 0, VEC, fn_math},
  {"round", {V, S}, 1, 1, VEC, fn_round},
  {"clamp", {V, S, S}, 3, 0, VEC, fn_clamp}, {"clamp_min", {V, S}, 2, 0, VEC, fn_clamp},
  {"clamp_max", {V, S}, 2, 0, VEC, fn_clamp},
  {"time", {0}, 0, 0, SCA, fn_time}, {"pi", {0}, 0, 0, SCA, fn_pi},
  {"start", {0}, 0, 0, SCA, fn_query_param}, {"end", {0}, 0, 0, SCA, fn_query_param},
  {"range", {0}, 0, 0, SCA, fn_query_param}, {"step", {0}, 0, 0, SCA, fn_query_param},
  {"min_of", {S, S}, 2, 0, SCA, fn_min_max_of}, {"max_of", {S, S}, 2, 0, SCA, fn_min_max_of},
  {"vector", {S}, 1, 0, VEC, fn_vector}, {"scalar", {V}, 1, 0, SCA, fn_scalar},
  {"timestamp", {V}, 1, 0, VEC, fn_timestamp},
  {"absent", {V}, 1, 0, VEC, fn_absent}, {"absent_over_time", {M}, 1, 0, VEC, fn_absent},
  {"day_of_month", {V}, 0, 1, VEC, fn_date}, {"day_of_week", {V}, 0, 1, VEC, fn_date},
  {"day_of_year", {V}, 0, 1, VEC, fn_date}, {"days_in_month", {V}, 0, 1, VEC, fn_date},
  {"hour", {V}, 0, 1, VEC, fn_date}, {"minute", {V}, 0, 1, VEC, fn_date},
  {"month", {V}, 0, 1, VEC, fn_date}, {"year", {V}, 0, 1, VEC, fn_date},
  {"sort", {V}, 1, 0, VEC, promql__fn_sort}, {"sort_desc", {V}, 1, 0, VEC, promql__fn_sort},
  {"sort_by_label", {V, STR, STR, STR, STR, STR}, 1, -1, VEC, promql__fn_sort_by_label},
  {"sort_by_label_desc", {V, STR, STR, STR, STR, STR}, 1, -1, VEC, promql__fn_sort_by_label},
  {"label_replace", {V, STR, STR, STR, STR}, 5, 0, VEC, promql__fn_label_replace},
  {"label_join", {V, STR, STR, STR, STR, STR}, 3, -1, VEC, promql__fn_label_join},
  {"histogram_quantile", {S, V}, 2, 0, VEC, promql__fn_histogram_quantile},
  {"histogram_count", {V}, 1, 0, VEC, fn_empty}, {"histogram_sum", {V}, 1, 0, VEC, fn_empty},
  {"histogram_avg", {V}, 1, 0, VEC, fn_empty}, {"histogram_stddev", {V}, 1, 0, VEC, fn_empty},
  {"histogram_stdvar", {V}, 1, 0, VEC, fn_empty},
  {"histogram_fraction", {S, S, V}, 3, 0, VEC, promql__fn_histogram_fraction},
  {"histogram_quantiles", {V, STR, S, S, S, S}, 3, -1, VEC, promql__fn_histogram_quantiles},
  {"rate", {M}, 1, 0, VEC, RF}, {"increase", {M}, 1, 0, VEC, RF}, {"delta", {M}, 1, 0, VEC, RF},
  {"irate", {M}, 1, 0, VEC, RF}, {"idelta", {M}, 1, 0, VEC, RF}, {"deriv", {M}, 1, 0, VEC, RF},
  {"predict_linear", {M, S}, 2, 0, VEC, RF}, {"resets", {M}, 1, 0, VEC, RF},
  {"changes", {M}, 1, 0, VEC, RF}, {"sum_over_time", {M}, 1, 0, VEC, RF},
  {"avg_over_time", {M}, 1, 0, VEC, RF}, {"min_over_time", {M}, 1, 0, VEC, RF},
  {"max_over_time", {M}, 1, 0, VEC, RF}, {"count_over_time", {M}, 1, 0, VEC, RF},
  {"present_over_time", {M}, 1, 0, VEC, RF}, {"last_over_time", {M}, 1, 0, VEC, RF},
  {"first_over_time", {M}, 1, 0, VEC, RF}, {"stddev_over_time", {M}, 1, 0, VEC, RF},
  {"stdvar_over_time", {M}, 1, 0, VEC, RF}, {"quantile_over_time", {S, M}, 2, 0, VEC, RF},
  {"mad_over_time", {M}, 1, 0, VEC, RF}, {"ts_of_last_over_time", {M}, 1, 0, VEC, RF},
  {"ts_of_first_over_time", {M}, 1, 0, VEC, RF}, {"ts_of_max_over_time", {M}, 1, 0, VEC, RF},
  {"ts_of_min_over_time", {M}, 1, 0, VEC, RF},
  {"double_exponential_smoothing", {M, S, S}, 3, 0, VEC, RF},
};

const pq_func *promql__func_lookup(const char *name)
{
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
    if (!strcmp(funcs[i].name, name))
      return &funcs[i];
  return NULL;
}

/* anchored/smoothed range selectors only feed the functions defined for
 * them. As in Prometheus this is an evaluation error (no position). */
static int check_ext_args(pq_ctx *c, const pq_expr *call)
{
  static const char *const anchored[] = {"changes", "delta", "increase", "rate", "resets"};
  static const char *const smoothed[] = {"delta", "increase", "rate"};
  const char *fn = call->u.call.f->name;
  for (size_t i = 0; i < call->u.call.nargs; i++) {
    const pq_expr *a = call->u.call.args[i];
    while (a->kind == N_PAREN)
      a = a->u.inner;
    if (a->kind != N_SEL || !a->u.sel.ext || a->type != PROMQL_MATRIX)
      continue;
    bool anch = a->u.sel.ext == EXT_ANCHORED;
    if (promql__in_list(fn, (const char **)(anch ? anchored : smoothed), anch ? 5 : 3))
      continue;
    return promql__exec_err(c, "%s modifier can only be used with: %s - not with %s",
                            anch ? "anchored" : "smoothed",
                            anch ? "changes, delta, increase, rate, resets" : "delta, increase, rate", fn);
  }
  return 0;
}

int promql__eval_call(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  int erc = check_ext_args(c, e);
  if (erc)
    return erc;
  size_t n = e->u.call.nargs;
  const pq_func *f = e->u.call.f;
  bool served = false;
  if (f->fn == promql__eval_range_func && ((erc = promql__rollup_call(c, e, out, &served)) || served))
    return erc;
  pq_val *args = lk_arena_zalloc(c->a, (n ? n : 1) * sizeof *args);
  for (size_t i = 0; i < n; i++) {
    const pq_expr *arg = e->u.call.args[i];
    int rc;
    if (f->fn == fn_timestamp) {
      while (arg->kind == N_PAREN)
        arg = arg->u.inner;
      if (arg->kind == N_SEL) {
        rc = promql__eval_timestamp_sel(c, arg, &args[i]);
        if (rc)
          return rc;
        for (size_t k = 0; k < args[i].n; k++)
          args[i].ser[k].drop_name = true;
        *out = args[i];
        return 0;
      }
    }
    if ((rc = promql__eval(c, arg, &args[i])))
      return rc;
    if (f->fn != promql__eval_range_func)
      promql__matrix_clean(c, &args[i]);
  }
  return f->fn(c, e, args, out);
}
