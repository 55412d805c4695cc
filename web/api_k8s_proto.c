/* api_k8s_proto.c — the protobuf bodies kubectl sends without asking:
 * `kubectl autoscale` (an autoscaling/v1 HorizontalPodAutoscaler) and
 * `kubectl create namespace` go through typed clients that always encode
 * application/vnd.kubernetes.protobuf (and do not fall back to JSON on a
 * 415). The envelope is "k8s\0" + runtime.Unknown {typeMeta{apiVersion,
 * kind}, raw}; raw is the object's message (generated.proto numbers). The
 * decoder is table-driven over the fields a client can set at creation;
 * server-owned fields (timestamps, status, managedFields) are skipped. Every
 * read is bounds-checked; a malformed body is refused.
 */
#include <stdint.h>
#include <string.h>

#include "web/api_k8s.h"

enum ptype { P_STR, P_INT, P_MSG, P_MAP, P_STRS };

typedef struct pfield {
  uint32_t num;
  const char *name;
  enum ptype t;
  const struct pfield *sub;
} pfield;

#define PEND {0, NULL, P_STR, NULL}

static const pfield object_meta[] = {{1, "name", P_STR, NULL},       {2, "generateName", P_STR, NULL},
                                     {3, "namespace", P_STR, NULL},  {5, "uid", P_STR, NULL},
                                     {6, "resourceVersion", P_STR, NULL}, {11, "labels", P_MAP, NULL},
                                     {12, "annotations", P_MAP, NULL}, {14, "finalizers", P_STRS, NULL}, PEND};
static const pfield target_ref[] = {{1, "kind", P_STR, NULL}, {2, "name", P_STR, NULL},
                                    {3, "apiVersion", P_STR, NULL}, PEND};
static const pfield hpa_spec[] = {{1, "scaleTargetRef", P_MSG, target_ref}, {2, "minReplicas", P_INT, NULL},
                                  {3, "maxReplicas", P_INT, NULL}, {4, "targetCPUUtilizationPercentage", P_INT, NULL},
                                  PEND};
static const pfield hpa_v1[] = {{1, "metadata", P_MSG, object_meta}, {2, "spec", P_MSG, hpa_spec}, PEND};
static const pfield ns_spec[] = {{1, "finalizers", P_STRS, NULL}, PEND};
static const pfield namespace_v1[] = {{1, "metadata", P_MSG, object_meta}, {2, "spec", P_MSG, ns_spec}, PEND};
static const pfield type_meta[] = {{1, "apiVersion", P_STR, NULL}, {2, "kind", P_STR, NULL}, PEND};
static const pfield map_entry[] = {{1, "key", P_STR, NULL}, {2, "value", P_STR, NULL}, PEND};

typedef struct cursor {
  const uint8_t *p, *end;
} cursor;

static bool varint(cursor *c, uint64_t *v)
{
  *v = 0;
  for (int shift = 0; shift < 64 && c->p < c->end; shift += 7) {
    uint8_t b = *c->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return true;
  }
  return false;
}

/* The next field: number, wire type and, for length-delimited ones, the bytes. */
static bool next_field(cursor *c, uint32_t *num, uint32_t *wt, uint64_t *v, cursor *bytes)
{
  uint64_t key;
  if (!varint(c, &key))
    return false;
  *num = (uint32_t)(key >> 3);
  *wt = (uint32_t)(key & 7);
  switch (*wt) {
  case 0:
    return varint(c, v);
  case 1:
  case 5: {
    size_t n = *wt == 1 ? 8 : 4;
    if ((size_t)(c->end - c->p) < n)
      return false;
    c->p += n;
    return true;
  }
  case 2:
    if (!varint(c, v) || *v > (uint64_t)(c->end - c->p))
      return false;
    bytes->p = c->p;
    bytes->end = c->p + *v;
    c->p += *v;
    return true;
  default:
    return false;
  }
}

static json_t *decode(cursor c, const pfield *fields, int depth);

static bool put_value(json_t *obj, const pfield *f, uint32_t wt, uint64_t v, cursor bytes, int depth)
{
  switch (f->t) {
  case P_INT:
    if (wt != 0)
      return false;
    json_object_set_new(obj, f->name, json_integer((json_int_t)(int64_t)v));
    return true;
  case P_STR:
  case P_STRS: {
    if (wt != 2)
      return false;
    json_t *s = json_stringn((const char *)bytes.p, (size_t)(bytes.end - bytes.p));
    if (!s)
      return false;
    if (f->t == P_STR && !json_string_length(s)) {
      json_decref(s); /* an empty string is an unset field (omitempty) */
    } else if (f->t == P_STR) {
      json_object_set_new(obj, f->name, s);
    } else {
      json_t *arr = json_object_get(obj, f->name);
      if (!arr)
        json_object_set_new(obj, f->name, arr = json_array());
      json_array_append_new(arr, s);
    }
    return true;
  }
  case P_MSG:
  case P_MAP: {
    if (wt != 2 || depth > 8)
      return false;
    json_t *m = decode(bytes, f->t == P_MAP ? map_entry : f->sub, depth + 1);
    if (!m)
      return false;
    if (f->t == P_MSG) {
      json_object_set_new(obj, f->name, m);
      return true;
    }
    json_t *map = json_object_get(obj, f->name);
    if (!map)
      json_object_set_new(obj, f->name, map = json_object());
    const char *k = json_string_value(json_object_get(m, "key"));
    json_t *val = json_object_get(m, "value");
    bool ok = k && val;
    if (ok)
      json_object_set(map, k, val);
    json_decref(m);
    return ok;
  }
  }
  return false;
}

static json_t *decode(cursor c, const pfield *fields, int depth)
{
  json_t *obj = json_object();
  while (c.p < c.end) {
    uint32_t num, wt;
    uint64_t v = 0;
    cursor bytes = {NULL, NULL};
    if (!next_field(&c, &num, &wt, &v, &bytes)) {
      json_decref(obj);
      return NULL;
    }
    const pfield *f = fields;
    while (f->name && f->num != num)
      f++;
    if (f->name && !put_value(obj, f, wt, v, bytes, depth)) {
      json_decref(obj);
      return NULL;
    }
  }
  return obj;
}

json_t *web__k8s_proto_decode(const web_k8s_req *k, const uint8_t *body, size_t len, lk_http_resp *resp)
{
  const pfield *message = k->hpa_v1 ? hpa_v1 : k->res->kind == ORCH_NAMESPACE ? namespace_v1 : NULL;
  if (!message) {
    web__k8s_status(resp, 415, "UnsupportedMediaType",
                    "protobuf bodies are accepted for autoscaling/v1 horizontalpodautoscalers and namespaces only; "
                    "send application/json (kubectl apply -f does)");
    return NULL;
  }
  cursor c = {body + 4, body + len}, raw = {NULL, NULL}, tm = {NULL, NULL};
  bool ok = len >= 4 && !memcmp(body, "k8s\0", 4);
  while (ok && c.p < c.end) {
    uint32_t num, wt;
    uint64_t v;
    cursor bytes = {NULL, NULL};
    ok = next_field(&c, &num, &wt, &v, &bytes);
    if (ok && wt == 2 && num == 1)
      tm = bytes;
    else if (ok && wt == 2 && num == 2)
      raw = bytes;
  }
  json_t *obj = ok && raw.p ? decode(raw, message, 0) : NULL;
  json_t *env = obj && tm.p ? decode(tm, type_meta, 0) : json_object();
  if (obj) {
    const char *av = json_string_value(json_object_get(env, "apiVersion"));
    const char *kind = json_string_value(json_object_get(env, "kind"));
    json_object_set_new(obj, "apiVersion", json_string(av ? av : k->hpa_v1 ? "autoscaling/v1" : "v1"));
    json_object_set_new(obj, "kind", json_string(kind ? kind : k->res->kind_name));
  } else {
    web__k8s_status(resp, 400, "BadRequest", "the protobuf body is not a Kubernetes %s", k->res->kind_name);
  }
  json_decref(env);
  return obj;
}
