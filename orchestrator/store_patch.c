/* store_patch.c — the three PATCH bodies kubectl sends:
 *  - JSON merge patch (RFC 7386, application/merge-patch+json);
 *  - strategic merge patch (application/strategic-merge-patch+json, what
 *    `kubectl apply`, `scale`, `rollout restart` send): a merge patch in
 *    which the lists Kubernetes marks with a merge key (containers by name,
 *    ports by containerPort, ...) are merged item by item, with the
 *    directives $patch (delete/replace/merge), $setElementOrder/<list>,
 *    $retainKeys and $deleteFromPrimitiveList/<list>;
 *  - JSON patch (RFC 6902, application/json-patch+json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/orch_int.h"

json_t *orch__merge_patch(const json_t *target, const json_t *patch)
{
  if (!json_is_object(patch))
    return json_deep_copy(patch);
  json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)patch, k, v) {
    if (json_is_null(v))
      json_object_del(out, k);
    else
      json_object_set_new(out, k, orch__merge_patch(json_object_get(out, k), v));
  }
  return out;
}

/*---- strategic merge ----*/

/* Merge keys of the list fields in the served types (by field name, which
 * is unambiguous across them). */
static const char *merge_key(const char *field)
{
  static const char *const keys[][2] = {
    {"containers", "name"}, {"initContainers", "name"}, {"volumes", "name"}, {"env", "name"},
    {"ports", "containerPort"}, {"volumeMounts", "mountPath"}, {"ownerReferences", "uid"},
    {"conditions", "type"}, {"imagePullSecrets", "name"}, {"containerStatuses", "name"},
    {"hostAliases", "ip"}, {"topologySpreadConstraints", "topologyKey"}, {NULL, NULL}};
  for (size_t i = 0; keys[i][0]; i++)
    if (!strcmp(field, keys[i][0]))
      return keys[i][1];
  return NULL;
}

static bool same_key(const json_t *a, const json_t *b, const char *key)
{
  const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
  return x && y && json_equal((json_t *)x, (json_t *)y);
}

static json_t *strategic(const json_t *target, const json_t *patch, orch_err *e);

static json_t *find_keyed(json_t *list, const json_t *item, const char *key, size_t *at)
{
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v)
    if (same_key(v, item, key)) {
      *at = i;
      return v;
    }
  return NULL;
}

/* Reorder list by the $setElementOrder list (items not named keep their
 * relative order after the named ones). */
static void apply_order(json_t *list, const json_t *order, const char *key)
{
  json_t *sorted = json_array();
  size_t i;
  json_t *o;
  json_array_foreach(order, i, o) {
    size_t at;
    json_t *hit = key ? find_keyed(list, o, key, &at) : NULL;
    if (!key) {
      size_t j;
      json_t *v;
      json_array_foreach(list, j, v) if (json_equal(v, o)) { hit = v; at = j; break; }
    }
    if (hit) {
      json_array_append(sorted, hit);
      json_array_remove(list, at);
    }
  }
  json_array_extend(sorted, list);
  json_array_clear(list);
  json_array_extend(list, sorted);
  json_decref(sorted);
}

static json_t *merge_list(const json_t *target, const json_t *patch, const char *key, orch_err *e)
{
  json_t *out = json_is_array(target) ? json_deep_copy(target) : json_array();
  size_t i;
  json_t *item;
  json_array_foreach(patch, i, item) {
    const char *directive = json_string_value(json_object_get(item, "$patch"));
    if (directive && !strcmp(directive, "replace")) {
      json_t *clean = json_deep_copy(patch);
      json_array_remove(clean, i);
      json_decref(out);
      return clean;
    }
    size_t at = 0;
    json_t *have = json_is_object(item) ? find_keyed(out, item, key, &at) : NULL;
    if (directive && !strcmp(directive, "delete")) {
      if (have)
        json_array_remove(out, at);
      continue;
    }
    if (have) {
      json_t *merged = strategic(have, item, e);
      if (!merged) {
        json_decref(out);
        return NULL;
      }
      json_array_set_new(out, at, merged);
    } else {
      json_t *fresh = strategic(NULL, item, e);
      if (!fresh) {
        json_decref(out);
        return NULL;
      }
      json_array_append_new(out, fresh);
    }
  }
  return out;
}

static void delete_primitives(json_t *list, const json_t *gone)
{
  size_t i;
  json_t *g;
  json_array_foreach(gone, i, g) {
    for (size_t j = json_array_size(list); j-- > 0;)
      if (json_equal(json_array_get(list, j), g))
        json_array_remove(list, j);
  }
}

static void retain_keys(json_t *obj, const json_t *keep)
{
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(obj, tmp, k, v) {
    bool kept = false;
    size_t i;
    json_t *name;
    json_array_foreach(keep, i, name) if (json_is_string(name) && !strcmp(json_string_value(name), k)) kept = true;
    if (!kept)
      json_object_del(obj, k);
  }
}

static json_t *strategic(const json_t *target, const json_t *patch, orch_err *e)
{
  if (!json_is_object(patch))
    return json_deep_copy(patch);
  const char *directive = json_string_value(json_object_get(patch, "$patch"));
  if (directive && !strcmp(directive, "delete"))
    return json_null();
  json_t *out = json_is_object(target) && !(directive && !strcmp(directive, "replace")) ? json_deep_copy(target)
                                                                                       : json_object();
  if (directive && strcmp(directive, "replace") && strcmp(directive, "merge")) {
    json_decref(out);
    orch__fail(e, LK_EINVAL, 400, "BadRequest", "unknown patch directive \"$patch: %s\"", directive);
    return NULL;
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)patch, k, v) {
    if (k[0] == '$')
      continue;
    if (json_is_null(v)) {
      json_object_del(out, k);
      continue;
    }
    const char *key = merge_key(k);
    json_t *merged = json_is_array(v) && key ? merge_list(json_object_get(out, k), v, key, e)
                                             : strategic(json_object_get(out, k), v, e);
    if (!merged) {
      json_decref(out);
      return NULL;
    }
    if (json_is_null(merged)) {
      json_decref(merged);
      json_object_del(out, k);
    } else {
      json_object_set_new(out, k, merged);
    }
  }
  json_object_foreach((json_t *)patch, k, v) {
    if (!strncmp(k, "$setElementOrder/", 17)) {
      json_t *list = json_object_get(out, k + 17);
      if (json_is_array(list))
        apply_order(list, v, merge_key(k + 17));
    } else if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
      json_t *list = json_object_get(out, k + 25);
      if (json_is_array(list))
        delete_primitives(list, v);
    } else if (!strcmp(k, "$retainKeys") && json_is_array(v)) {
      retain_keys(out, v);
    }
  }
  return out;
}

json_t *orch__strategic_patch(const json_t *target, const json_t *patch, orch_err *e)
{
  if (!json_is_object(patch)) {
    orch__fail(e, LK_EINVAL, 400, "BadRequest", "a strategic merge patch must be a JSON object");
    return NULL;
  }
  return strategic(target, patch, e);
}

/*---- JSON patch ----*/

/* Unescape one JSON pointer token (~1 → /, ~0 → ~). */
static void pointer_token(const char *s, size_t n, char *out, size_t outsz)
{
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < outsz; i++) {
    if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
      out[o++] = s[i + 1] == '0' ? '~' : '/';
      i++;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = 0;
}

/* Container of the pointer's last token, and that token. */
static json_t *pointer_parent(json_t *doc, const char *ptr, char *last, size_t lastsz)
{
  if (*ptr != '/')
    return NULL;
  json_t *cur = doc;
  const char *p = ptr + 1;
  for (;;) {
    size_t n = strcspn(p, "/");
    pointer_token(p, n, last, lastsz);
    if (!p[n])
      return cur;
    if (json_is_object(cur))
      cur = json_object_get(cur, last);
    else if (json_is_array(cur))
      cur = json_array_get(cur, strtoul(last, NULL, 10));
    else
      return NULL;
    if (!cur)
      return NULL;
    p += n + 1;
  }
}

static json_t *pointer_get(json_t *doc, const char *ptr)
{
  if (!*ptr)
    return doc;
  char last[256];
  json_t *parent = pointer_parent(doc, ptr, last, sizeof last);
  if (json_is_object(parent))
    return json_object_get(parent, last);
  if (json_is_array(parent))
    return json_array_get(parent, strtoul(last, NULL, 10));
  return NULL;
}

static int pointer_remove(json_t *doc, const char *ptr)
{
  char last[256];
  json_t *parent = pointer_parent(doc, ptr, last, sizeof last);
  if (json_is_object(parent))
    return json_object_del(parent, last);
  if (json_is_array(parent))
    return json_array_remove(parent, strtoul(last, NULL, 10));
  return -1;
}

static int pointer_add(json_t *doc, const char *ptr, json_t *v, bool replace)
{
  char last[256];
  json_t *parent = pointer_parent(doc, ptr, last, sizeof last);
  if (json_is_object(parent)) {
    if (replace && !json_object_get(parent, last))
      return -1;
    return json_object_set(parent, last, v);
  }
  if (!json_is_array(parent))
    return -1;
  if (!strcmp(last, "-"))
    return replace ? -1 : json_array_append(parent, v);
  size_t i = strtoul(last, NULL, 10);
  if (replace)
    return json_array_set(parent, i, v);
  return i > json_array_size(parent) ? -1 : json_array_insert(parent, i, v);
}

static int json_patch_op(json_t *doc, const json_t *op)
{
  const char *kind = json_string_value(json_object_get(op, "op"));
  const char *path = json_string_value(json_object_get(op, "path"));
  const char *from = json_string_value(json_object_get(op, "from"));
  json_t *value = json_object_get(op, "value");
  if (!kind || !path)
    return -1;
  if (!strcmp(kind, "add"))
    return value ? pointer_add(doc, path, value, false) : -1;
  if (!strcmp(kind, "replace"))
    return value ? pointer_add(doc, path, value, true) : -1;
  if (!strcmp(kind, "remove"))
    return pointer_remove(doc, path);
  if (!strcmp(kind, "test"))
    return value && json_equal(pointer_get(doc, path), value) ? 0 : -1;
  json_t *src = from ? json_deep_copy(pointer_get(doc, from)) : NULL;
  if (!src)
    return -1;
  int rc = !strcmp(kind, "move") ? pointer_remove(doc, from) : strcmp(kind, "copy") ? -1 : 0;
  if (!rc)
    rc = pointer_add(doc, path, src, false);
  json_decref(src);
  return rc;
}

json_t *orch__json_patch(const json_t *target, const json_t *ops, orch_err *e)
{
  if (!json_is_array(ops)) {
    orch__fail(e, LK_EINVAL, 400, "BadRequest", "a JSON patch must be an array of operations");
    return NULL;
  }
  json_t *doc = json_deep_copy(target);
  size_t i;
  json_t *op;
  json_array_foreach(ops, i, op)
    if (json_patch_op(doc, op)) {
      char *text = json_dumps(op, JSON_COMPACT);
      orch__fail(e, LK_EINVAL, 422, "Invalid", "the JSON patch operation %zu (%s) cannot be applied", i,
                 text ? text : "?");
      free(text);
      json_decref(doc);
      return NULL;
    }
  return doc;
}
