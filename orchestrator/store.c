/* store.c — the orchestrator's object store: every object of every kind in
 * memory (jansson objects keyed "namespace/name"), each persisted as one
 * JSON file under <data>/orchestrator/objects/<plural>/<ns>/<name>.json with
 * an atomic replace, reloaded at open. Every write takes the next
 * resourceVersion (one counter for the whole store, as etcd's revision) and
 * is recorded in a ring of watch events.
 *
 * Threads: s->mu guards all state; callers get deep copies so they never
 * hold the lock while working.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/orch_int.h"

#define MAX_OBJECT_FILE ((size_t)4 << 20)

/*---- json helpers ----*/

json_t *orch__at(const json_t *o, const char *path)
{
  char key[128];
  const json_t *cur = o;
  while (cur && *path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof key)
      return NULL;
    memcpy(key, path, n);
    key[n] = 0;
    cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
    path += n + (path[n] == '.');
  }
  return (json_t *)cur;
}

const char *orch__str(const json_t *o, const char *path) { return json_string_value(orch__at(o, path)); }

int64_t orch__int(const json_t *o, const char *path, int64_t dflt)
{
  const json_t *v = orch__at(o, path);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

json_t *orch__obj(json_t *o, const char *path)
{
  char key[128];
  json_t *cur = o;
  while (*path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof key)
      return NULL;
    memcpy(key, path, n);
    key[n] = 0;
    json_t *next = json_object_get(cur, key);
    if (!json_is_object(next)) {
      next = json_object();
      json_object_set_new(cur, key, next);
    }
    cur = next;
    path += n + (path[n] == '.');
  }
  return cur;
}

/* Parent object of the last path element and that element's name. */
static json_t *parent_of(json_t *o, const char *path, char *leaf, size_t leafsz)
{
  const char *dot = strrchr(path, '.');
  snprintf(leaf, leafsz, "%s", dot ? dot + 1 : path);
  if (!dot)
    return o;
  char head[256];
  snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
  return orch__obj(o, head);
}

void orch__set_str(json_t *o, const char *path, const char *v)
{
  char leaf[128];
  json_object_set_new(parent_of(o, path, leaf, sizeof leaf), leaf, json_string(v));
}

void orch__set_int(json_t *o, const char *path, int64_t v)
{
  char leaf[128];
  json_object_set_new(parent_of(o, path, leaf, sizeof leaf), leaf, json_integer(v));
}

void orch__new_uid(char out[37])
{
  unsigned char r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (unsigned char)rand();
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
           r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

int64_t orch_parse_rfc3339(const char *s)
{
  struct tm tm = {0};
  const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (!end)
    return -1;
  return (int64_t)timegm(&tm) * 1000;
}

void orch_age(int64_t ms, char buf[16])
{
  int64_t s = ms < 0 ? 0 : ms / 1000;
  if (s < 120)
    snprintf(buf, 16, "%" PRId64 "s", s);
  else if (s < 600)
    snprintf(buf, 16, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
  else if (s < 3 * 3600)
    snprintf(buf, 16, "%" PRId64 "m", s / 60);
  else if (s < 8 * 3600)
    snprintf(buf, 16, "%" PRId64 "h%" PRId64 "m", s / 3600, s / 60 % 60);
  else if (s < 48 * 3600)
    snprintf(buf, 16, "%" PRId64 "h", s / 3600);
  else if (s < 8 * 86400)
    snprintf(buf, 16, "%" PRId64 "d%" PRId64 "h", s / 86400, s / 3600 % 24);
  else
    snprintf(buf, 16, "%" PRId64 "d", s / 86400);
}

/*---- files ----*/

static void key_of(const char *ns, const char *name, char *out, size_t n)
{
  snprintf(out, n, "%s/%s", ns ? ns : "", name);
}

static void file_of(const orch__store *s, enum orch_kind k, const char *ns, const char *name, char *out,
                    size_t n)
{
  size_t nres;
  const orch_resource *r = &orch_resources(&nres)[k];
  if (r->namespaced)
    snprintf(out, n, "%s/%s/%s/%s.json", s->dir, r->plural, ns, name);
  else
    snprintf(out, n, "%s/%s/%s.json", s->dir, r->plural, name);
}

static int persist(const orch__store *s, enum orch_kind k, const json_t *obj, orch_err *e)
{
  const char *ns = orch__str(obj, "metadata.namespace"), *name = orch__str(obj, "metadata.name");
  char path[4096];
  file_of(s, k, ns, name, path, sizeof path);
  char *slash = strrchr(path, '/');
  *slash = 0;
  if (lk_mkdir_p(path))
    return orch__fail(e, LK_EIO, 500, "InternalError", "cannot create %s: %s", path, strerror(errno));
  *slash = '/';
  char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  lk_diag d = {0};
  int rc = lk_write_file_atomic(path, text, strlen(text), &d);
  free(text);
  if (rc)
    return orch__fail(e, LK_EIO, 500, "InternalError", "%s", d.msg);
  return 0;
}

static void load_file(orch__store *s, enum orch_kind k, const char *path)
{
  char *buf = NULL;
  size_t len = 0;
  lk_diag d = {0};
  if (lk_read_file(path, MAX_OBJECT_FILE, &buf, &len, &d)) {
    lk_warn("orchestrator: skipping %s: %s", path, d.msg);
    return;
  }
  json_error_t je;
  json_t *obj = json_loadb(buf, len, 0, &je);
  free(buf);
  const char *name = orch__str(obj, "metadata.name");
  if (!name) {
    lk_warn("orchestrator: skipping %s: not a stored object (%s)", path, obj ? "no metadata.name" : je.text);
    json_decref(obj);
    return;
  }
  char key[512];
  key_of(orch__str(obj, "metadata.namespace"), name, key, sizeof key);
  uint64_t rv = strtoull(orch__str(obj, "metadata.resourceVersion") ? orch__str(obj, "metadata.resourceVersion") : "0",
                         NULL, 10);
  if (rv > s->rv)
    s->rv = rv;
  json_object_set_new(s->objs[k], key, obj);
}

static void load_dir(orch__store *s, enum orch_kind k, const char *dir, int depth)
{
  DIR *dh = opendir(dir);
  if (!dh)
    return;
  struct dirent *de;
  while ((de = readdir(dh))) {
    if (de->d_name[0] == '.')
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    size_t n = strlen(de->d_name);
    if (depth > 0 && de->d_type == DT_DIR)
      load_dir(s, k, path, depth - 1);
    else if (n > 5 && !strcmp(de->d_name + n - 5, ".json"))
      load_file(s, k, path);
  }
  closedir(dh);
}

static void ensure_namespace(orch__store *s, const char *name)
{
  char key[128];
  key_of(NULL, name, key, sizeof key);
  if (json_object_get(s->objs[ORCH_NAMESPACE], key))
    return;
  char uid[37], ts[32];
  orch__new_uid(uid);
  lk_time_rfc3339(lk_now_ms(), ts, sizeof ts);
  json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name",
                         name, "uid", uid, "creationTimestamp", ts);
  orch__defaults(ORCH_NAMESPACE, ns);
  orch_err e = {0};
  orch__store_put(s, ORCH_NAMESPACE, ns, true, NULL, false, NULL, &e);
  orch_err_fini(&e);
  json_decref(ns);
}

int orch__store_open(const char *data_dir, orch__store **out, lk_diag *d)
{
  orch__store *s = lk_xcalloc(1, sizeof *s);
  size_t n = strlen(data_dir) + 64;
  s->dir = lk_xmalloc(n);
  snprintf(s->dir, n, "%s/orchestrator/objects", data_dir);
  if (lk_mkdir_p(s->dir)) {
    int err = errno;
    free(s->dir);
    free(s);
    return lk_diag_set(d, LK_EIO, -1, "cannot create %s/orchestrator/objects: %s", data_dir, strerror(err));
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->changed, &ca);
  pthread_condattr_destroy(&ca);
  size_t nres;
  const orch_resource *res = orch_resources(&nres);
  for (size_t k = 0; k < ORCH_NKINDS; k++) {
    s->objs[k] = json_object();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", s->dir, res[k].plural);
    load_dir(s, (enum orch_kind)k, dir, res[k].namespaced ? 1 : 0);
  }
  ensure_namespace(s, "default");
  ensure_namespace(s, "kube-system");
  *out = s;
  return 0;
}

void orch__store_shutdown(orch__store *s)
{
  pthread_mutex_lock(&s->mu);
  s->closing = true;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->mu);
}

void orch__store_close(orch__store *s)
{
  if (!s)
    return;
  for (size_t k = 0; k < ORCH_NKINDS; k++)
    json_decref(s->objs[k]);
  for (size_t i = 0; i < ORCH__EVENTS; i++)
    json_decref(s->ev[i].obj);
  pthread_cond_destroy(&s->changed);
  pthread_mutex_destroy(&s->mu);
  free(s->dir);
  free(s);
}

/*---- reads ----*/

json_t *orch__store_get(orch__store *s, enum orch_kind k, const char *ns, const char *name)
{
  char key[512];
  key_of(ns, name, key, sizeof key);
  pthread_mutex_lock(&s->mu);
  json_t *o = json_deep_copy(json_object_get(s->objs[k], key));
  pthread_mutex_unlock(&s->mu);
  return o;
}

static int by_key(const void *a, const void *b)
{
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  const char *nx = orch__str(x, "metadata.namespace"), *ny = orch__str(y, "metadata.namespace");
  int c = strcmp(nx ? nx : "", ny ? ny : "");
  return c ? c : strcmp(orch__str(x, "metadata.name"), orch__str(y, "metadata.name"));
}

json_t *orch__store_list(orch__store *s, enum orch_kind k, const char *ns, uint64_t *rv)
{
  pthread_mutex_lock(&s->mu);
  size_t n = json_object_size(s->objs[k]), i = 0;
  json_t **v = lk_xcalloc(n ? n : 1, sizeof *v);
  const char *key;
  json_t *obj;
  json_object_foreach(s->objs[k], key, obj) {
    const char *ons = orch__str(obj, "metadata.namespace");
    if (!ns || !*ns || (ons && !strcmp(ons, ns)))
      v[i++] = json_deep_copy(obj);
  }
  if (rv)
    *rv = s->rv;
  pthread_mutex_unlock(&s->mu);
  qsort(v, i, sizeof *v, by_key);
  json_t *arr = json_array();
  for (size_t j = 0; j < i; j++)
    json_array_append_new(arr, v[j]);
  free(v);
  return arr;
}

uint64_t orch__store_rv(orch__store *s)
{
  pthread_mutex_lock(&s->mu);
  uint64_t rv = s->rv;
  pthread_mutex_unlock(&s->mu);
  return rv;
}

void orch__store_wait(orch__store *s, uint64_t seen_rv, int timeout_ms)
{
  struct timespec ts = lk_deadline(CLOCK_MONOTONIC, timeout_ms);
  pthread_mutex_lock(&s->mu);
  while (s->rv == seen_rv && !s->closing)
    if (pthread_cond_timedwait(&s->changed, &s->mu, &ts))
      break;
  pthread_mutex_unlock(&s->mu);
}

/*---- writes ----*/

/* Caller holds mu. */
static void record(orch__store *s, enum orch_kind k, const char *type, const json_t *obj)
{
  orch__event *ev = &s->ev[s->ev_end];
  json_decref(ev->obj);
  ev->rv = s->rv;
  ev->k = k;
  ev->type = type;
  ev->obj = json_deep_copy(obj);
  s->ev_end = (s->ev_end + 1) % ORCH__EVENTS;
  if (s->nev < ORCH__EVENTS)
    s->nev++;
  pthread_cond_broadcast(&s->changed);
}

int orch__store_put(orch__store *s, enum orch_kind k, const json_t *obj, bool create, const char *expect_rv,
                    bool dry, json_t **out, orch_err *e)
{
  const char *ns = orch__str(obj, "metadata.namespace"), *name = orch__str(obj, "metadata.name");
  char key[512];
  key_of(ns, name, key, sizeof key);
  size_t nres;
  const orch_resource *r = &orch_resources(&nres)[k];
  pthread_mutex_lock(&s->mu);
  json_t *old = json_object_get(s->objs[k], key);
  int rc = 0;
  if (create && old)
    rc = orch__fail(e, LK_EEXIST, 409, "AlreadyExists", "%s \"%s\" already exists", r->plural, name);
  else if (!create && !old)
    rc = orch__fail(e, LK_ENOENT, 404, "NotFound", "%s \"%s\" not found", r->plural, name);
  else if (!create && expect_rv && *expect_rv && strcmp(expect_rv, orch__str(old, "metadata.resourceVersion")))
    rc = orch__fail(e, LK_EAGAIN, 409, "Conflict",
                    "Operation cannot be fulfilled on %s.%s%s \"%s\": the object has been modified; please "
                    "apply your changes to the latest version and try again",
                    r->plural, r->group, *r->group ? "" : "", name);
  if (rc || dry) {
    pthread_mutex_unlock(&s->mu);
    if (!rc && out)
      *out = json_deep_copy(obj);
    return rc;
  }
  json_t *copy = json_deep_copy(obj);
  char rvs[32];
  snprintf(rvs, sizeof rvs, "%" PRIu64, s->rv + 1);
  orch__set_str(copy, "metadata.resourceVersion", rvs);
  rc = persist(s, k, copy, e);
  if (rc) {
    pthread_mutex_unlock(&s->mu);
    json_decref(copy);
    return rc;
  }
  s->rv++;
  json_object_set(s->objs[k], key, copy);
  record(s, k, create ? "ADDED" : "MODIFIED", copy);
  pthread_mutex_unlock(&s->mu);
  if (out)
    *out = copy;
  else
    json_decref(copy);
  return 0;
}

int orch__store_remove(orch__store *s, enum orch_kind k, const char *ns, const char *name, json_t **out,
                       orch_err *e)
{
  char key[512];
  key_of(ns, name, key, sizeof key);
  size_t nres;
  const orch_resource *r = &orch_resources(&nres)[k];
  pthread_mutex_lock(&s->mu);
  json_t *old = json_object_get(s->objs[k], key);
  if (!old) {
    pthread_mutex_unlock(&s->mu);
    return orch__fail(e, LK_ENOENT, 404, "NotFound", "%s \"%s\" not found", r->plural, name);
  }
  char path[4096];
  file_of(s, k, ns, name, path, sizeof path);
  if (unlink(path) && errno != ENOENT) {
    int err = errno;
    pthread_mutex_unlock(&s->mu);
    return orch__fail(e, LK_EIO, 500, "InternalError", "cannot remove %s: %s", path, strerror(err));
  }
  json_t *last = json_deep_copy(old);
  s->rv++;
  char rvs[32];
  snprintf(rvs, sizeof rvs, "%" PRIu64, s->rv);
  orch__set_str(last, "metadata.resourceVersion", rvs);
  json_object_del(s->objs[k], key);
  record(s, k, "DELETED", last);
  pthread_mutex_unlock(&s->mu);
  if (out)
    *out = last;
  else
    json_decref(last);
  return 0;
}

/*---- watch ----*/

struct orch_watch {
  orch__store *st;
  enum orch_kind k;
  char *ns, *labels, *fields;
  uint64_t last; /* last resourceVersion delivered */
};

int orch_watch_open(orch *o, enum orch_kind k, const orch_list_opts *lo, uint64_t since, orch_watch **out,
                    orch_err *e)
{
  orch__store *s = o->st;
  pthread_mutex_lock(&s->mu);
  uint64_t oldest = s->nev ? s->ev[(s->ev_end + ORCH__EVENTS - s->nev) % ORCH__EVENTS].rv : s->rv + 1;
  bool gone = since && since + 1 < oldest && s->nev == ORCH__EVENTS;
  uint64_t now = s->rv;
  pthread_mutex_unlock(&s->mu);
  if (gone)
    return orch__fail(e, LK_EAGAIN, 410, "Expired", "too old resource version: %" PRIu64 " (%" PRIu64 ")", since,
                      oldest);
  orch_watch *w = lk_xcalloc(1, sizeof *w);
  w->st = s;
  w->k = k;
  w->ns = lo && lo->ns ? lk_xstrdup(lo->ns) : NULL;
  w->labels = lo && lo->label_selector ? lk_xstrdup(lo->label_selector) : NULL;
  w->fields = lo && lo->field_selector ? lk_xstrdup(lo->field_selector) : NULL;
  w->last = since ? since : now;
  *out = w;
  return 0;
}

static bool watch_wants(const orch_watch *w, const orch__event *ev)
{
  if (ev->k != w->k || ev->rv <= w->last)
    return false;
  const char *ns = orch__str(ev->obj, "metadata.namespace");
  if (w->ns && *w->ns && (!ns || strcmp(ns, w->ns)))
    return false;
  orch_err e = {0};
  bool ok = (!w->labels || orch__labels_match(orch__at(ev->obj, "metadata.labels"), w->labels, &e)) &&
            (!w->fields || orch__fields_match(ev->obj, w->fields, &e));
  orch_err_fini(&e);
  return ok;
}

/* Caller holds mu: the oldest wanted event after w->last, or NULL. */
static const orch__event *next_event(orch_watch *w)
{
  orch__store *s = w->st;
  for (size_t i = 0; i < s->nev; i++) {
    const orch__event *ev = &s->ev[(s->ev_end + ORCH__EVENTS - s->nev + i) % ORCH__EVENTS];
    if (ev->rv <= w->last)
      continue;
    if (watch_wants(w, ev))
      return ev;
    w->last = ev->rv;
  }
  return NULL;
}

int orch_watch_next(orch_watch *w, int timeout_ms, json_t **event)
{
  orch__store *s = w->st;
  struct timespec ts = lk_deadline(CLOCK_MONOTONIC, timeout_ms);
  pthread_mutex_lock(&s->mu);
  int rc = LK_ETIMEOUT;
  for (;;) {
    if (s->closing) {
      rc = LK_ECANCELED;
      break;
    }
    const orch__event *ev = next_event(w);
    if (ev) {
      w->last = ev->rv;
      *event = json_pack("{s:s, s:O}", "type", ev->type, "object", ev->obj);
      rc = 0;
      break;
    }
    if (pthread_cond_timedwait(&s->changed, &s->mu, &ts))
      break;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

void orch_watch_close(orch_watch *w)
{
  if (!w)
    return;
  free(w->ns);
  free(w->labels);
  free(w->fields);
  free(w);
}

size_t orch__store_count(orch__store *s)
{
  pthread_mutex_lock(&s->mu);
  size_t n = 0;
  for (size_t k = 0; k < ORCH_NKINDS; k++)
    n += json_object_size(s->objs[k]);
  pthread_mutex_unlock(&s->mu);
  return n;
}
