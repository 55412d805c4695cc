/* pin_at.c — promql_expr_pin_at: the query with `@ t` on every selector and
 * subquery, for the @-invariance check of Prometheus's test harness (an
 * instant query must not change when its data is pinned to its own time
 * and evaluated at other times). Works on a fresh parse of the query text,
 * so the caller's expression stays immutable.
 */
#include <string.h>

#include "promql/promql_int.h"

/* Functions whose value moves with the evaluation time even when their
 * arguments are pinned (Prometheus's AtModifierUnsafeFunctions). */
static bool at_unsafe(const char *fn)
{
  static const char *const names[] = {
      "days_in_month", "day_of_month", "day_of_week", "day_of_year", "end", "hour", "minute",
      "month", "year", "predict_linear", "range", "start", "step", "time", "timestamp",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(fn, names[i]))
      return true;
  return false;
}

/* Pin e and below; subqueries are pinned themselves and their contents left
 * as they are (as upstream). Sets *unsafe on an at_unsafe call outside
 * subqueries. */
static void pin(pq_expr *e, int64_t t, bool *unsafe)
{
  switch (e->kind) {
  case N_NUM:
  case N_STR:
    return;
  case N_SEL:
    if (e->u.sel.at != AT_TIME) {
      e->u.sel.at = AT_TIME;
      e->u.sel.at_ms = t;
    }
    return;
  case N_SUBQ:
    if (e->u.subq.at != AT_TIME) {
      e->u.subq.at = AT_TIME;
      e->u.subq.at_ms = t;
    }
    return;
  case N_CALL:
    *unsafe |= at_unsafe(e->u.call.f->name);
    for (size_t i = 0; i < e->u.call.nargs; i++)
      pin(e->u.call.args[i], t, unsafe);
    return;
  case N_AGG:
    pin(e->u.agg.e, t, unsafe);
    if (e->u.agg.param)
      pin(e->u.agg.param, t, unsafe);
    return;
  case N_BIN:
    pin(e->u.bin.l, t, unsafe);
    pin(e->u.bin.r, t, unsafe);
    return;
  case N_NEG:
  case N_PAREN:
    pin(e->u.inner, t, unsafe);
    return;
  }
}

int promql_expr_pin_at(const promql_expr *e, int64_t t_ms, promql_expr **out, lk_diag *d)
{
  *out = NULL;
  promql_expr *p = NULL;
  int rc = promql_parse(e->src, &p, d);
  if (rc)
    return rc;
  bool unsafe = false;
  pin(p->root, t_ms, &unsafe);
  if (unsafe)
    promql_expr_free(p);
  else
    *out = p;
  return 0;
}
