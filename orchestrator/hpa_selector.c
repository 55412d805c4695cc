/* hpa_selector.c — Kubernetes label selectors in their string form
 * (labelSelector= of the API: equality, inequality, set-based in/notin,
 * existence), parsed once and matched against label sets. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "orchestrator/autoscaling.h"

enum req_op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS };

typedef struct req {
  enum req_op op;
  char *key;
  char **values;
  size_t nvalues;
} req;

struct orch_selector {
  req *reqs;
  size_t n;
};

void orch_selector_free(orch_selector *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->reqs[i].key);
    for (size_t j = 0; j < s->reqs[i].nvalues; j++)
      free(s->reqs[i].values[j]);
    free(s->reqs[i].values);
  }
  free(s->reqs);
  free(s);
}

static void skip_ws(const char **p) {
  while (**p == ' ')
    (*p)++;
}

/* A key or value: letters, digits, '-', '_', '.', '/'. */
static char *word(const char **p) {
  skip_ws(p);
  const char *s = *p;
  while (isalnum((unsigned char)**p) || (**p && strchr("-_./", **p)))
    (*p)++;
  return lk_xstrndup(s, (size_t)(*p - s));
}

static void add_value(req *r, char *v) {
  r->values = lk_xrealloc(r->values, (r->nvalues + 1) * sizeof *r->values);
  r->values[r->nvalues++] = v;
}

/* "(a, b)" after in/notin. */
static int value_set(const char **p, req *r, lk_diag *d) {
  skip_ws(p);
  if (**p != '(')
    return lk_diag_set(d, LK_EPARSE, -1, "label selector: expected ( after in/notin for \"%s\"", r->key);
  (*p)++;
  for (;;) {
    add_value(r, word(p));
    skip_ws(p);
    if (**p == ')') {
      (*p)++;
      return 0;
    }
    if (**p != ',')
      return lk_diag_set(d, LK_EPARSE, -1, "label selector: expected , or ) in the values of \"%s\"", r->key);
    (*p)++;
  }
}

static bool keyword(const char **p, const char *kw) {
  size_t n = strlen(kw);
  if (strncmp(*p, kw, n) || (!isspace((unsigned char)(*p)[n]) && (*p)[n] != '('))
    return false;
  *p += n;
  return true;
}

static int one_req(const char **p, req *r, lk_diag *d) {
  skip_ws(p);
  bool neg = **p == '!';
  if (neg)
    (*p)++;
  r->key = word(p);
  if (!r->key[0])
    return lk_diag_set(d, LK_EPARSE, -1, "label selector: expected a label name at \"%s\"", *p);
  skip_ws(p);
  if (neg || **p == ',' || **p == '\0') {
    r->op = neg ? OP_NOT_EXISTS : OP_EXISTS;
    return 0;
  }
  if (**p == '!' && (*p)[1] == '=') {
    r->op = OP_NE, *p += 2;
  } else if (**p == '=') {
    r->op = OP_EQ, *p += (*p)[1] == '=' ? 2 : 1;
  } else if (keyword(p, "in")) {
    r->op = OP_IN;
    return value_set(p, r, d);
  } else if (keyword(p, "notin")) {
    r->op = OP_NOTIN;
    return value_set(p, r, d);
  } else {
    return lk_diag_set(d, LK_EPARSE, -1, "label selector: unexpected \"%s\" after \"%s\"", *p, r->key);
  }
  add_value(r, word(p));
  return 0;
}

int orch_selector_parse(const char *s, orch_selector **out, lk_diag *d) {
  orch_selector *sel = lk_xcalloc(1, sizeof *sel);
  const char *p = s ? s : "";
  int rc = 0;
  skip_ws(&p);
  while (!rc && *p) {
    sel->reqs = lk_xrealloc(sel->reqs, (sel->n + 1) * sizeof *sel->reqs);
    req *r = &sel->reqs[sel->n++];
    memset(r, 0, sizeof *r);
    rc = one_req(&p, r, d);
    skip_ws(&p);
    if (!rc && *p && *p != ',')
      rc = lk_diag_set(d, LK_EPARSE, -1, "label selector: expected , at \"%s\"", p);
    if (*p == ',')
      p++;
  }
  if (rc) {
    orch_selector_free(sel);
    return rc;
  }
  *out = sel;
  return 0;
}

static bool in_values(const req *r, const char *v) {
  for (size_t i = 0; i < r->nvalues; i++)
    if (strcmp(r->values[i], v) == 0)
      return true;
  return false;
}

bool orch_selector_matches(const orch_selector *s, const lk_label *ls, size_t n) {
  for (size_t i = 0; s && i < s->n; i++) {
    const req *r = &s->reqs[i];
    const char *v = lk_labels_get(ls, n, r->key);
    bool ok;
    switch (r->op) {
    case OP_EQ: ok = v && strcmp(v, r->values[0]) == 0; break;
    case OP_NE: ok = !v || strcmp(v, r->values[0]) != 0; break;
    case OP_IN: ok = v && in_values(r, v); break;
    case OP_NOTIN: ok = !v || !in_values(r, v); break;
    case OP_EXISTS: ok = v != NULL; break;
    default: ok = v == NULL;
    }
    if (!ok)
      return false;
  }
  return true;
}
