/* rules_log.c — what is special about log rules: their expr is a LogQL
 * metric expression run by the logstore at the evaluation time, and an
 * alert carries the log lines behind it. Those are found by running the
 * log query inside the expr (selector and pipeline, without unwrap) over
 * the expr's range, narrowed by label filters equal to the alert's sample
 * labels (stream or extracted), newest first. */
#include <stdlib.h>
#include <string.h>

#include "alerting/rules_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"

static bool cmp_holds(const alerting__cmp *c, double v)
{
  switch (c->op) {
  case ALERTING__CMP_EQ: return v == c->value;
  case ALERTING__CMP_NE: return v != c->value;
  case ALERTING__CMP_GT: return v > c->value;
  case ALERTING__CMP_LT: return v < c->value;
  case ALERTING__CMP_GE: return v >= c->value;
  case ALERTING__CMP_LE: return v <= c->value;
  default: return true;
  }
}

int alerting__logql_vector(const alerting_env *env, const alerting__rule *r, int64_t t,
                           alerting__vec *out, lk_diag *d)
{
  memset(out, 0, sizeof *out);
  if (!env->logs)
    return lk_diag_set(d, LK_EINVAL, -1, "log rule: no log store to query");
  logstore_query_opts o = {.start_ns = t * 1000000, .end_ns = t * 1000000};
  int rc = logstore_query(env->logs, r->log_metric, &o, &out->lr, d);
  if (rc)
    return rc;
  logstore_result *lr = out->lr;
  if (lr->kind == LOGSTORE_STREAMS)
    return lk_diag_set(d, LK_EEXEC, -1, "rule result is not a vector or scalar");
  out->s = lk_xcalloc(lr->n ? lr->n : 1, sizeof *out->s);
  for (size_t i = 0; i < lr->n; i++) {
    const logstore_rseries *s = &lr->series[i];
    if (!s->n)
      continue;
    double v = s->v[s->n - 1]; /* the point at t */
    bool hold = cmp_holds(&r->log_cmp, v);
    if (r->log_cmp.op && r->log_cmp.keep_bool)
      v = hold;
    else if (!hold)
      continue;
    out->s[out->n++] = (alerting_sample){s->labels, s->nlabels, v};
  }
  return 0;
}

/*---- A trailing comparison ----*/

static const char *skip_quoted(const char *p);

/* The last comparison operator outside quotes and brackets, or NULL. */
static const char *last_top_cmp(const char *s, int *op, size_t *oplen)
{
  static const struct {
    const char *tok;
    int op;
  } ops[] = {{"==", ALERTING__CMP_EQ}, {"!=", ALERTING__CMP_NE}, {">=", ALERTING__CMP_GE},
             {"<=", ALERTING__CMP_LE}, {">", ALERTING__CMP_GT},  {"<", ALERTING__CMP_LT}};
  const char *found = NULL;
  int depth = 0;
  for (const char *p = s; *p;) {
    if (*p == '"' || *p == '`') {
      p = skip_quoted(p);
      continue;
    }
    depth += (*p == '(' || *p == '[' || *p == '{') - (*p == ')' || *p == ']' || *p == '}');
    for (size_t i = 0; depth == 0 && i < sizeof ops / sizeof ops[0]; i++)
      if (!strncmp(p, ops[i].tok, strlen(ops[i].tok))) {
        found = p, *op = ops[i].op, *oplen = strlen(ops[i].tok);
        break;
      }
    p += found == p ? *oplen : 1;
  }
  return found;
}

void alerting__log_split(const char *expr, char **metric, alerting__cmp *cmp)
{
  memset(cmp, 0, sizeof *cmp);
  int op = 0;
  size_t oplen = 0;
  const char *at = last_top_cmp(expr, &op, &oplen);
  if (at) {
    const char *rhs = at + oplen;
    rhs += strspn(rhs, " \t\r\n");
    bool keep_bool = !strncmp(rhs, "bool", 4) && strchr(" \t\r\n", rhs[4]);
    if (keep_bool)
      rhs += 4 + strspn(rhs + 4, " \t\r\n");
    char *end;
    double v = strtod(rhs, &end);
    if (end != rhs && !end[strspn(end, " \t\r\n")]) {
      *cmp = (alerting__cmp){op, keep_bool, v};
      *metric = lk_xstrndup(expr, (size_t)(at - expr));
      return;
    }
  }
  *metric = lk_xstrdup(expr);
}

/*---- The log query inside a metric expression ----*/

/* Past a quoted string starting at p ("…" with escapes, or `…`). */
static const char *skip_quoted(const char *p)
{
  char q = *p++;
  while (*p && *p != q)
    p += (q == '"' && *p == '\\' && p[1]) ? 2 : 1;
  return *p ? p + 1 : p;
}

/* The first c outside quotes from p, or NULL. */
static const char *find_unquoted(const char *p, char c)
{
  while (*p && *p != c)
    p = (*p == '"' || *p == '`') ? skip_quoted(p) : p + 1;
  return *p ? p : NULL;
}

/* Where "| unwrap" starts in [p, end), or end. */
static const char *unwrap_at(const char *p, const char *end)
{
  while (p < end) {
    if (*p == '"' || *p == '`') {
      p = skip_quoted(p);
      continue;
    }
    if (*p == '|') {
      const char *w = p + 1;
      while (*w == ' ' || *w == '\t')
        w++;
      if (!strncmp(w, "unwrap", 6))
        return p;
    }
    p++;
  }
  return end;
}

char *alerting__log_query_of(const char *logql, int64_t *range_ms)
{
  *range_ms = 0;
  const char *start = find_unquoted(logql, '{');
  const char *open = start ? find_unquoted(start, '[') : NULL;
  const char *close = open ? strchr(open, ']') : NULL;
  if (!close)
    return NULL;
  char *dur = lk_xstrndup(open + 1, (size_t)(close - open - 1));
  int rc = lk_parse_duration(dur, range_ms, NULL);
  free(dur);
  if (rc)
    return NULL;
  const char *end = unwrap_at(start, open);
  while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
    end--;
  return lk_xstrndup(start, (size_t)(end - start));
}

/*---- Lines ----*/

static void append_filters(lk_buf *q, const lk_label *match, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (!strncmp(match[i].name, "__", 2))
      continue;
    lk_buf_printf(q, " | %s=\"", match[i].name);
    for (const char *v = match[i].value; *v; v++) {
      if (*v == '"' || *v == '\\')
        lk_buf_putc(q, '\\');
      lk_buf_putc(q, (uint8_t)*v);
    }
    lk_buf_putc(q, '"');
  }
}

/* Entries of all streams, newest first, up to max lines into out. */
static void merge_newest(const logstore_result *r, int max, lk_buf *out)
{
  size_t *pos = lk_xcalloc(r->n ? r->n : 1, sizeof *pos);
  for (int k = 0; k < max; k++) {
    size_t best = r->n;
    for (size_t i = 0; i < r->n; i++)
      if (pos[i] < r->streams[i].n &&
          (best == r->n || r->streams[i].entries[pos[i]].ts > r->streams[best].entries[pos[best]].ts))
        best = i;
    if (best == r->n)
      break;
    const logstore_entry *e = &r->streams[best].entries[pos[best]++];
    if (out->len)
      lk_buf_putc(out, '\n');
    lk_buf_append(out, e->line, e->len);
  }
  free(pos);
}

int alerting__log_lines(logstore *s, const char *log_query, int64_t range_ms, const lk_label *match,
                        size_t nmatch, int64_t t_ms, int max, lk_buf *out, lk_diag *d)
{
  lk_buf q = {0};
  lk_buf_puts(&q, log_query);
  append_filters(&q, match, nmatch);
  logstore_query_opts o = {
      .start_ns = (t_ms - range_ms) * 1000000 + 1, .end_ns = t_ms * 1000000,
      .limit = (size_t)max, .direction = LOGSTORE_BACKWARD};
  logstore_result *r = NULL;
  int rc = logstore_query(s, (const char *)q.data, &o, &r, d);
  lk_buf_fini(&q);
  if (rc)
    return rc;
  if (r->kind == LOGSTORE_STREAMS)
    merge_newest(r, max, out);
  logstore_result_free(r);
  return 0;
}
