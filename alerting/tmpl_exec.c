/* tmpl_exec.c — executes a parsed alerting template against one alert's
 * data: walks the node tree, evaluates pipelines (the piped value is the
 * last argument of the next command), applies Go's truthiness to if/range
 * and prints values as Go's fmt.Print does.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/tmpl_int.h"
#include "lib/lk_expo.h"

#define MAX_SCOPE 128

typedef struct scope_var {
  const char *name;
  alerting__val v;
} scope_var;

typedef struct state {
  alerting__exec x;
  alerting__val dot;
  scope_var vars[MAX_SCOPE];
  int nvars;
  lk_buf *out;
} state;

int alerting__exec_err(alerting__exec *x, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return alerting__diag(x->d, LK_EEXEC, x->t->src, x->off, "executing: %s", msg);
}

static alerting__val str_val(const char *s)
{
  return (alerting__val){.kind = ALERTING__V_STR, .s = s ? s : "", .slen = s ? strlen(s) : 0};
}

static alerting__val labels_val(const lk_label *ls, size_t n)
{
  return (alerting__val){.kind = ALERTING__V_LABELS, .ls = ls, .n = n};
}

static int field_of(state *st, const alerting__val *in, const char *name, alerting__val *out)
{
  const alerting_template_data *dt = st->x.data;
  if (in->kind == ALERTING__V_LABELS) {
    *out = str_val(lk_labels_get(in->ls, in->n, name));
    return 0;
  }
  if (in->kind == ALERTING__V_DOT) {
    if (!strcmp(name, "Labels"))
      return *out = labels_val(dt->labels, dt->nlabels), 0;
    if (!strcmp(name, "ExternalLabels"))
      return *out = labels_val(dt->external_labels, dt->nexternal_labels), 0;
    if (!strcmp(name, "ExternalURL"))
      return *out = str_val(dt->external_url), 0;
    if (!strcmp(name, "Value"))
      return *out = (alerting__val){.kind = ALERTING__V_FLOAT, .f = dt->value}, 0;
  }
  if (in->kind == ALERTING__V_SAMPLE) {
    if (!strcmp(name, "Labels"))
      return *out = labels_val(in->smp->labels, in->smp->nlabels), 0;
    if (!strcmp(name, "Value"))
      return *out = (alerting__val){.kind = ALERTING__V_FLOAT, .f = in->smp->value}, 0;
  }
  return alerting__exec_err(&st->x, "can't evaluate field %s", name);
}

static int lookup_var(state *st, const char *name, alerting__val *out)
{
  for (int i = st->nvars - 1; i >= 0; i--)
    if (!strcmp(st->vars[i].name, name))
      return *out = st->vars[i].v, 0;
  return alerting__exec_err(&st->x, "undefined variable \"$%s\"", name);
}

static int set_var(state *st, const char *name, const alerting__val *v, int assign)
{
  if (assign) {
    for (int i = st->nvars - 1; i >= 0; i--)
      if (!strcmp(st->vars[i].name, name))
        return st->vars[i].v = *v, 0;
  }
  if (st->nvars == MAX_SCOPE)
    return alerting__exec_err(&st->x, "too many variables");
  st->vars[st->nvars++] = (scope_var){.name = name, .v = *v};
  return 0;
}

static int eval_pipe(state *st, const alerting__pipe *pp, alerting__val *out);

static int eval_arg(state *st, const alerting__arg *a, alerting__val *out)
{
  st->x.off = a->off;
  int rc = 0;
  switch (a->kind) {
  case ALERTING__A_DOT: *out = st->dot; break;
  case ALERTING__A_VAR: rc = lookup_var(st, a->name, out); break;
  case ALERTING__A_STR: *out = (alerting__val){.kind = ALERTING__V_STR, .s = a->str, .slen = a->slen}; break;
  case ALERTING__A_INT: *out = (alerting__val){.kind = ALERTING__V_INT, .i = a->i}; break;
  case ALERTING__A_FLOAT: *out = (alerting__val){.kind = ALERTING__V_FLOAT, .f = a->f}; break;
  case ALERTING__A_BOOL: *out = (alerting__val){.kind = ALERTING__V_BOOL, .i = a->i}; break;
  case ALERTING__A_NIL: *out = (alerting__val){.kind = ALERTING__V_NIL}; break;
  case ALERTING__A_PIPE: rc = eval_pipe(st, a->pipe, out); break;
  default: /* a function: only first in a command, called by eval_cmd */
    return alerting__exec_err(&st->x, "function %s used as a value", a->name);
  }
  for (const alerting__field *f = a->fields; f && !rc; f = f->next) {
    alerting__val in = *out;
    rc = field_of(st, &in, f->name, out);
  }
  return rc;
}

#define MAX_ARGS 32

static int eval_cmd(state *st, const alerting__cmd *c, const alerting__val *piped, alerting__val *out)
{
  const alerting__arg *first = c->args;
  if (first->kind != ALERTING__A_FUNC)
    return eval_arg(st, first, out);
  alerting__val args[MAX_ARGS];
  size_t n = 0;
  for (const alerting__arg *a = first->next; a; a = a->next) {
    if (n == MAX_ARGS - 1)
      return alerting__exec_err(&st->x, "too many arguments");
    int rc = eval_arg(st, a, &args[n++]);
    if (rc)
      return rc;
  }
  if (piped)
    args[n++] = *piped;
  st->x.off = c->off;
  return alerting__call(&st->x, first->func, args, n, out);
}

static int eval_pipe(state *st, const alerting__pipe *pp, alerting__val *out)
{
  alerting__val v = {.kind = ALERTING__V_NIL};
  int have = 0;
  for (const alerting__cmd *c = pp->cmds; c; c = c->next) {
    alerting__val prev = v;
    int rc = eval_cmd(st, c, have ? &prev : NULL, &v);
    if (rc)
      return rc;
    have = 1;
  }
  *out = v;
  return 0;
}

int alerting__truth(const alerting__val *v)
{
  switch (v->kind) {
  case ALERTING__V_BOOL:
  case ALERTING__V_INT: return v->i != 0;
  case ALERTING__V_FLOAT: return v->f != 0;
  case ALERTING__V_STR: return v->slen > 0;
  case ALERTING__V_VEC:
  case ALERTING__V_LABELS: return v->n > 0;
  case ALERTING__V_NIL: return 0;
  default: return 1;
  }
}

void alerting__print(const alerting__val *v, lk_buf *b)
{
  switch (v->kind) {
  case ALERTING__V_NIL: lk_buf_puts(b, "<no value>"); break;
  case ALERTING__V_BOOL: lk_buf_puts(b, v->i ? "true" : "false"); break;
  case ALERTING__V_INT: lk_buf_printf(b, "%lld", (long long)v->i); break;
  case ALERTING__V_FLOAT:
    if (v->f == 0 && signbit(v->f))
      lk_buf_puts(b, "-0");
    else
      lk_expo_write_value(b, v->f);
    break;
  case ALERTING__V_STR: lk_buf_append(b, v->s, v->slen); break;
  case ALERTING__V_SAMPLE:
    lk_buf_puts(b, "&{");
    lk_labels_format(b, v->smp->labels, v->smp->nlabels);
    lk_buf_putc(b, ' ');
    lk_expo_write_value(b, v->smp->value);
    lk_buf_putc(b, '}');
    break;
  case ALERTING__V_LABELS:
    lk_buf_puts(b, "map[");
    for (size_t i = 0; i < v->n; i++)
      lk_buf_printf(b, "%s%s:%s", i ? " " : "", v->ls[i].name, v->ls[i].value);
    lk_buf_putc(b, ']');
    break;
  default: lk_buf_puts(b, v->kind == ALERTING__V_VEC ? "[query result]" : "{alert}"); break;
  }
}

static int exec_list(state *st, const alerting__node *n);

static int exec_range(state *st, const alerting__node *n, const alerting__val *v)
{
  if (v->kind != ALERTING__V_VEC && v->kind != ALERTING__V_NIL)
    return alerting__exec_err(&st->x, "range can't iterate over this value");
  if (!alerting__truth(v))
    return exec_list(st, n->els);
  alerting__val saved_dot = st->dot;
  int rc = 0;
  for (size_t i = 0; i < v->n && !rc; i++) {
    int saved = st->nvars;
    alerting__val idx = {.kind = ALERTING__V_INT, .i = (int64_t)i};
    alerting__val elem = {.kind = ALERTING__V_SAMPLE, .smp = &v->smp[i]};
    if (n->pipe->ndecl == 2)
      rc = set_var(st, n->pipe->decl[0], &idx, 0);
    if (!rc && n->pipe->ndecl)
      rc = set_var(st, n->pipe->decl[n->pipe->ndecl - 1], &elem, 0);
    st->dot = elem;
    if (!rc)
      rc = exec_list(st, n->body);
    st->nvars = saved;
  }
  st->dot = saved_dot;
  return rc;
}

static int exec_node(state *st, const alerting__node *n)
{
  if (n->kind == ALERTING__N_TEXT) {
    lk_buf_append(st->out, n->text, n->tlen);
    return 0;
  }
  alerting__val v;
  int rc = eval_pipe(st, n->pipe, &v);
  if (rc)
    return rc;
  if (n->kind == ALERTING__N_RANGE)
    return exec_range(st, n, &v);
  for (int i = 0; i < n->pipe->ndecl; i++)
    if ((rc = set_var(st, n->pipe->decl[i], &v, n->pipe->assign)))
      return rc;
  if (n->kind == ALERTING__N_IF) {
    int saved = st->nvars;
    rc = exec_list(st, alerting__truth(&v) ? n->body : n->els);
    st->nvars = saved;
    return rc;
  }
  if (!n->pipe->ndecl)
    alerting__print(&v, st->out);
  return 0;
}

static int exec_list(state *st, const alerting__node *n)
{
  int saved = st->nvars;
  int rc = 0;
  for (; n && !rc; n = n->next)
    rc = exec_node(st, n);
  st->nvars = saved;
  return rc;
}

int alerting_template_exec(const alerting_template *t, const alerting_template_data *data,
                           lk_buf *out, lk_diag *d)
{
  state *st = lk_xcalloc(1, sizeof *st);
  st->x = (alerting__exec){.t = t, .data = data, .a = lk_arena_new(1024), .d = d};
  st->out = out;
  st->dot = (alerting__val){.kind = ALERTING__V_DOT};
  alerting__val value = {.kind = ALERTING__V_FLOAT, .f = data->value};
  alerting__val url = str_val(data->external_url);
  alerting__val labels = labels_val(data->labels, data->nlabels);
  alerting__val ext = labels_val(data->external_labels, data->nexternal_labels);
  set_var(st, "", &st->dot, 0);
  set_var(st, "labels", &labels, 0);
  set_var(st, "value", &value, 0);
  set_var(st, "externalURL", &url, 0);
  set_var(st, "externalLabels", &ext, 0);
  lk_buf_reserve(out, 1);
  int rc = exec_list(st, t->root);
  lk_arena_free(st->x.a);
  free(st);
  return rc;
}
