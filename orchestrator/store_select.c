/* store_select.c — Kubernetes selectors: the labelSelector and
 * fieldSelector query strings of list and watch calls ("a=b,c!=d,e in
 * (x,y),f notin (z),g,!h"), and LabelSelector objects (matchLabels,
 * matchExpressions) as Deployments and ReplicaSets carry them.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "orchestrator/orch_int.h"

static const char *skip_ws(const char *p)
{
  while (*p == ' ')
    p++;
  return p;
}

/* Copy a token (label key or value) ending at one of stop. */
static const char *token(const char *p, char *out, size_t n, const char *stop)
{
  size_t i = 0;
  p = skip_ws(p);
  while (*p && !strchr(stop, *p)) {
    if (i + 1 < n)
      out[i++] = *p;
    p++;
  }
  while (i && out[i - 1] == ' ')
    i--;
  out[i] = 0;
  return p;
}

/* Whether value is among the "(a, b)" set at p; *end after ')'. */
static bool in_set(const char *p, const char *value, const char **end, bool *ok)
{
  p = skip_ws(p);
  *ok = *p == '(';
  if (!*ok)
    return false;
  p++;
  bool found = false;
  char v[256];
  for (;;) {
    p = token(p, v, sizeof v, ",)");
    if (value && !strcmp(v, value))
      found = true;
    if (*p == ')') {
      *end = p + 1;
      return found;
    }
    if (!*p) {
      *ok = false;
      return false;
    }
    p++;
  }
}

/* One requirement of a selector against a lookup function. */
typedef const char *(*lookup_fn)(const void *ctx, const char *key);

static bool match_requirements(const char *sel, lookup_fn get, const void *ctx, orch_err *e, bool fields)
{
  const char *p = sel;
  bool all = true;
  while (*(p = skip_ws(p))) {
    bool negate = *p == '!';
    if (negate)
      p++;
    char key[256], val[256];
    p = token(p, key, sizeof key, "=!, ");
    p = skip_ws(p);
    const char *have = get(ctx, key);
    if (!key[0]) {
      orch__fail(e, LK_EINVAL, 400, "BadRequest", "unable to parse requirement: empty key in \"%s\"", sel);
      return false;
    }
    if (negate || *p == ',' || !*p) {
      if (fields) {
        orch__fail(e, LK_EINVAL, 400, "BadRequest", "invalid selector: '%s'; can't understand '%s'", sel, key);
        return false;
      }
      all = all && (negate ? !have : have != NULL);
    } else if (*p == '=' || (*p == '!' && p[1] == '=')) {
      bool ne = *p == '!';
      p += ne ? 2 : (p[1] == '=' ? 2 : 1);
      p = token(p, val, sizeof val, ",");
      bool eq = have ? !strcmp(have, val) : (fields && !val[0]);
      all = all && (ne ? !eq : eq);
    } else if (!fields && (!strncmp(p, "in", 2) || !strncmp(p, "notin", 5))) {
      bool notin = p[0] == 'n';
      p += notin ? 5 : 2;
      bool ok;
      bool found = in_set(p, have, &p, &ok);
      if (!ok) {
        orch__fail(e, LK_EINVAL, 400, "BadRequest", "unable to parse requirement: bad set in \"%s\"", sel);
        return false;
      }
      all = all && (notin ? !found : found);
    } else {
      orch__fail(e, LK_EINVAL, 400, "BadRequest", "unable to parse requirement: \"%s\"", sel);
      return false;
    }
    p = skip_ws(p);
    if (*p == ',')
      p++;
  }
  return all;
}

static const char *label_lookup(const void *ctx, const char *key)
{
  return json_string_value(json_object_get((const json_t *)ctx, key));
}

bool orch__labels_match(const json_t *labels, const char *selector, orch_err *e)
{
  return match_requirements(selector, label_lookup, labels, e, false);
}

static const char *field_lookup(const void *ctx, const char *key)
{
  static const char *const known[] = {"metadata.name", "metadata.namespace", "status.phase", "spec.nodeName",
                                      "spec.restartPolicy", "spec.schedulerName", "status.podIP", NULL};
  for (size_t i = 0; known[i]; i++)
    if (!strcmp(key, known[i])) {
      const char *v = orch__str((const json_t *)ctx, key);
      return v ? v : "";
    }
  return NULL;
}

bool orch__fields_match(const json_t *obj, const char *selector, orch_err *e)
{
  return match_requirements(selector, field_lookup, obj, e, true);
}

static bool expression_match(const json_t *req, const json_t *labels)
{
  const char *key = json_string_value(json_object_get(req, "key"));
  const char *op = json_string_value(json_object_get(req, "operator"));
  const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
  if (!op)
    return false;
  if (!strcmp(op, "Exists"))
    return have != NULL;
  if (!strcmp(op, "DoesNotExist"))
    return have == NULL;
  bool found = false;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(req, "values"), i, v)
    if (have && json_is_string(v) && !strcmp(have, json_string_value(v)))
      found = true;
  return !strcmp(op, "In") ? found : !strcmp(op, "NotIn") ? !found : false;
}

bool orch__selector_match(const json_t *selector, const json_t *labels)
{
  if (!json_is_object(selector))
    return false;
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(selector, "matchLabels"), k, v) {
    const char *have = json_string_value(json_object_get(labels, k));
    if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
      return false;
  }
  size_t i;
  json_t *req;
  json_array_foreach(json_object_get(selector, "matchExpressions"), i, req)
    if (!expression_match(req, labels))
      return false;
  return json_object_size(json_object_get(selector, "matchLabels")) +
             json_array_size(json_object_get(selector, "matchExpressions")) > 0;
}
