/* am_core.c — the dispatcher of the in-process Alertmanager: the alert
 * store (Alertmanager's merge rule), the route tree walk, aggregation groups
 * and their timers (dispatch/dispatch.go: group_wait, then every
 * group_interval; an alert older than group_wait flushes a new group at
 * once), the mute stages (inhibition, silences, time intervals) and the
 * dedup decision against the notification log (notify/dedup_stage.go).
 *
 * Durability: a notification is handed to the on-disk queue (am_notify.c)
 * and only then logged as sent; the log and the alerts are rewritten
 * atomically under <data>/alerting after every change, so a restart re-forms
 * the groups and the log stops them from notifying again.
 *
 * Threads: one dispatcher thread runs the group timers; API calls and
 * alerting_am_send run on callers' threads. am->mu guards all state here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define GC_INTERVAL_MS 60000
#define RESOLVED_KEEP_MS (15 * 60000)          /* resolved alerts kept in the store */
#define RETENTION_MS (120LL * 3600 * 1000)     /* silences and log entries (--data.retention) */

/*---- persistence ----*/

static int save_json(alerting_am *am, const char *name, json_t *j)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", am->dir, name);
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  lk_diag d = {0};
  int rc = lk_write_file_atomic(path, text, strlen(text), &d);
  if (rc)
    lk_error("alerting: cannot save %s: %s", path, d.msg);
  free(text);
  return rc;
}

static json_t *load_json(alerting_am *am, const char *name)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", am->dir, name);
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  if (!j && access(path, F_OK) == 0)
    lk_warn("alerting: ignoring unreadable %s: %s", path, e.text);
  return j;
}

static json_t *alert_state_json(const am_alert *a)
{
  return json_pack("{s:o,s:o,s:I,s:I,s:I,s:b,s:s}", "labels", am__labels_json(&a->labels), "annotations",
                   am__labels_json(&a->annotations), "startsAt", (json_int_t)a->starts_at, "endsAt",
                   (json_int_t)a->ends_at, "updatedAt", (json_int_t)a->updated_at, "timeout", a->timeout,
                   "generatorURL", a->generator_url ? a->generator_url : "");
}

static void save_alerts(alerting_am *am)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < am->nalerts; i++)
    json_array_append_new(arr, alert_state_json(&am->alerts[i]));
  save_json(am, "alerts.json", arr);
  am->alerts_dirty = false;
}

/* One notification-log entry as persisted (nflog.json, and in each queued
 * notification, so a crash between the two writes cannot notify twice). */
static json_t *nflog_json(const char *key, const uint64_t *f, size_t nf, const uint64_t *r, size_t nr, int64_t ts)
{
  json_t *jf = json_array(), *jr = json_array();
  for (size_t k = 0; k < nf; k++)
    json_array_append_new(jf, json_integer((json_int_t)f[k]));
  for (size_t k = 0; k < nr; k++)
    json_array_append_new(jr, json_integer((json_int_t)r[k]));
  return json_pack("{s:s,s:o,s:o,s:I}", "key", key, "firing", jf, "resolved", jr, "ts", (json_int_t)ts);
}

static void save_nflog(alerting_am *am)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < am->nnflog; i++) {
    am_nflog *e = &am->nflog[i];
    json_array_append_new(arr, nflog_json(e->key, e->firing, e->nfiring, e->resolved, e->nresolved, e->ts));
  }
  save_json(am, "nflog.json", arr);
}

void am__save_silences(alerting_am *am)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < am->nsil; i++)
    json_array_append_new(arr, am__silence_json(&am->sil[i], 0));
  save_json(am, "silences.json", arr);
}

/*---- notification log ----*/

static am_nflog *nflog_find(alerting_am *am, const char *key)
{
  for (size_t i = 0; i < am->nnflog; i++)
    if (!strcmp(am->nflog[i].key, key))
      return &am->nflog[i];
  return NULL;
}

static void nflog_set(alerting_am *am, const char *key, const uint64_t *f, size_t nf, const uint64_t *r, size_t nr,
                      int64_t ts)
{
  am_nflog *e = nflog_find(am, key);
  if (!e) {
    am->nflog = lk_xrealloc(am->nflog, (am->nnflog + 1) * sizeof *am->nflog);
    e = &am->nflog[am->nnflog++];
    memset(e, 0, sizeof *e);
    e->key = lk_xstrdup(key);
  }
  free(e->firing);
  free(e->resolved);
  e->firing = nf ? lk_xmalloc(nf * sizeof *f) : NULL;
  e->resolved = nr ? lk_xmalloc(nr * sizeof *r) : NULL;
  if (nf)
    memcpy(e->firing, f, nf * sizeof *f);
  if (nr)
    memcpy(e->resolved, r, nr * sizeof *r);
  e->nfiring = nf;
  e->nresolved = nr;
  e->ts = ts;
}

static bool subset(const uint64_t *sub, size_t nsub, const uint64_t *set, size_t nset)
{
  for (size_t i = 0; i < nsub; i++) {
    bool found = false;
    for (size_t j = 0; j < nset && !found; j++)
      found = set[j] == sub[i];
    if (!found)
      return false;
  }
  return true;
}

/* dedup_stage.go needsUpdate. */
static bool needs_update(const am_nflog *e, const uint64_t *f, size_t nf, const uint64_t *r, size_t nr,
                         bool send_resolved, int64_t repeat_ms, int64_t now)
{
  if (!e)
    return nf > 0;
  if (!subset(f, nf, e->firing, e->nfiring))
    return true;
  if (nf == 0)
    return e->nfiring > 0;
  if (send_resolved && !subset(r, nr, e->resolved, e->nresolved))
    return true;
  return e->ts < now - repeat_ms;
}

/*---- routing and groups ----*/

void am__route_match(const am_route *r, const am_labels *l, const am_route ***out, size_t *n)
{
  if (!am__matchers_match(&r->matchers, l))
    return;
  size_t before = *n;
  for (size_t i = 0; i < r->nkids; i++) {
    size_t had = *n;
    am__route_match(&r->kids[i], l, out, n);
    if (*n > had && !r->kids[i].cont)
      break;
  }
  if (*n == before) {
    *out = lk_xrealloc(*out, (*n + 1) * sizeof **out);
    (*out)[(*n)++] = r;
  }
}

static void group_labels(const am_route *r, const am_labels *l, am_labels *out)
{
  memset(out, 0, sizeof *out);
  if (r->group_all) {
    am__labels_copy(out, l);
    return;
  }
  for (size_t i = 0; i < r->ngroup_by; i++) {
    const char *v = am__labels_get(l, r->group_by[i]);
    if (v)
      am__labels_add(out, r->group_by[i], v);
  }
  lk_labels_sort(out->v, out->n);
}

static am_group *group_get(alerting_am *am, const am_route *r, const am_labels *gl, const char *key, int64_t now)
{
  for (size_t i = 0; i < am->ngroups; i++)
    if (am->groups[i].route == r && !strcmp(am->groups[i].key, key))
      return &am->groups[i];
  am->groups = lk_xrealloc(am->groups, (am->ngroups + 1) * sizeof *am->groups);
  am_group *g = &am->groups[am->ngroups++];
  memset(g, 0, sizeof *g);
  g->route = r;
  am__labels_copy(&g->labels, gl);
  g->key = lk_xstrdup(key);
  g->next_flush_ms = now + r->group_wait_ms;
  return g;
}

static void group_put(am_group *g, const am_alert *a, int64_t now)
{
  size_t i = 0;
  while (i < g->n && g->alerts[i].fp != a->fp)
    i++;
  if (i == g->n) {
    g->alerts = lk_xrealloc(g->alerts, (g->n + 1) * sizeof *g->alerts);
    g->n++;
  } else {
    am__alert_free(&g->alerts[i]);
  }
  am__alert_copy(&g->alerts[i], a);
  if (!g->flushed && a->starts_at + g->route->group_wait_ms < now)
    g->next_flush_ms = now;
}

static void dispatch_alert(alerting_am *am, const am_alert *a, int64_t now)
{
  const am_route **routes = NULL;
  size_t n = 0;
  am__route_match(&am->cfg.root, &a->labels, &routes, &n);
  for (size_t i = 0; i < n; i++) {
    am_labels gl;
    group_labels(routes[i], &a->labels, &gl);
    lk_buf key = {0};
    lk_buf_printf(&key, "%s:", routes[i]->key);
    am__labels_format(&key, &gl);
    lk_buf_putc(&key, 0);
    group_put(group_get(am, routes[i], &gl, (const char *)key.data, now), a, now);
    lk_buf_fini(&key);
    am__labels_free(&gl);
  }
  free(routes);
}

/* Store a (taken over) with Alertmanager's merge rule, then route it. */
static void store_put(alerting_am *am, am_alert *a, int64_t now)
{
  a->fp = am__fingerprint(&a->labels);
  size_t i = 0;
  while (i < am->nalerts && am->alerts[i].fp != a->fp)
    i++;
  if (i < am->nalerts) {
    am_alert *old = &am->alerts[i];
    bool overlap = (a->ends_at > old->starts_at && a->ends_at < old->ends_at) ||
                   (a->starts_at > old->starts_at && a->starts_at < old->ends_at);
    if (overlap) {
      am__alert_merge(old, a);
      am__alert_free(a);
    } else {
      am__alert_free(old);
      *old = *a;
    }
  } else {
    am->alerts = lk_xrealloc(am->alerts, (am->nalerts + 1) * sizeof *am->alerts);
    am->alerts[am->nalerts++] = *a;
  }
  am->alerts_dirty = true;
  dispatch_alert(am, &am->alerts[i], now);
}

/*---- mute stages ----*/

static bool equal_labels(const am_inhibit *r, const am_labels *a, const am_labels *b)
{
  for (size_t i = 0; i < r->nequal; i++) {
    const char *x = am__labels_get(a, r->equal[i]), *y = am__labels_get(b, r->equal[i]);
    if (strcmp(x ? x : "", y ? y : ""))
      return false;
  }
  return true;
}

/* Fingerprint of a firing source alert inhibiting a, or 0. */
static uint64_t inhibited_by(alerting_am *am, const am_alert *a, int64_t now)
{
  for (size_t r = 0; r < am->cfg.ninh; r++) {
    const am_inhibit *in = &am->cfg.inh[r];
    if (!am__matchers_match(&in->tgt, &a->labels))
      continue;
    bool two_sided = am__matchers_match(&in->src, &a->labels);
    for (size_t i = 0; i < am->nalerts; i++) {
      const am_alert *s = &am->alerts[i];
      if (am__alert_resolved(s, now) || !am__matchers_match(&in->src, &s->labels) ||
          !equal_labels(in, &s->labels, &a->labels))
        continue;
      if (two_sided && am__matchers_match(&in->tgt, &s->labels))
        continue;
      return s->fp;
    }
  }
  return 0;
}

const char *am__silence_state(const am_silence *s, int64_t now)
{
  return now < s->starts_at ? "pending" : now >= s->ends_at ? "expired" : "active";
}

static bool silenced(alerting_am *am, const am_alert *a, int64_t now)
{
  for (size_t i = 0; i < am->nsil; i++)
    if (!strcmp(am__silence_state(&am->sil[i], now), "active") && am__matchers_match(&am->sil[i].matchers, &a->labels))
      return true;
  return false;
}

void am__alert_status(alerting_am *am, const am_alert *a, int64_t now, const char ***sil, size_t *nsil,
                      uint64_t *inhibitor)
{
  *sil = NULL;
  *nsil = 0;
  for (size_t i = 0; i < am->nsil; i++)
    if (!strcmp(am__silence_state(&am->sil[i], now), "active") && am__matchers_match(&am->sil[i].matchers, &a->labels)) {
      *sil = lk_xrealloc(*sil, (*nsil + 1) * sizeof **sil);
      (*sil)[(*nsil)++] = am->sil[i].id;
    }
  *inhibitor = inhibited_by(am, a, now);
}

void am__alert_receivers(alerting_am *am, const am_alert *a, const char ***out, size_t *n)
{
  const am_route **routes = NULL;
  size_t nr = 0;
  am__route_match(&am->cfg.root, &a->labels, &routes, &nr);
  *out = nr ? lk_xmalloc(nr * sizeof **out) : NULL;
  *n = 0;
  for (size_t i = 0; i < nr; i++) {
    bool dup = false;
    for (size_t j = 0; j < *n && !dup; j++)
      dup = !strcmp((*out)[j], routes[i]->receiver);
    if (!dup)
      (*out)[(*n)++] = routes[i]->receiver;
  }
  free(routes);
}

static bool time_muted(alerting_am *am, const am_route *r, int64_t now)
{
  for (size_t i = 0; i < r->nmute; i++)
    if (am__interval_active(&am->cfg, r->mute[i], now))
      return true;
  if (!r->nactive)
    return false;
  for (size_t i = 0; i < r->nactive; i++)
    if (am__interval_active(&am->cfg, r->active[i], now))
      return false;
  return true;
}

/*---- flushing a group ----*/

/* types.AlertSlice order: job, then instance, then the label sets. */
static int alert_order(const void *pa, const void *pb)
{
  const am_alert *a = pa, *b = pb;
  static const char *const keys[] = {"job", "instance"};
  for (int k = 0; k < 2; k++) {
    const char *x = am__labels_get(&a->labels, keys[k]), *y = am__labels_get(&b->labels, keys[k]);
    if (!x && !y)
      continue;
    if (!x || !y)
      return x ? -1 : 1;
    int c = strcmp(x, y);
    if (c)
      return c;
  }
  return lk_labels_cmp(a->labels.v, a->labels.n, b->labels.v, b->labels.n);
}

/* Notify one webhook of the group if the log says so. */
static void notify_hook(alerting_am *am, const am_group *g, const am_receiver *rcv, size_t idx, const am_alert *al,
                        size_t n, int64_t now)
{
  const am_webhook *h = &rcv->hooks[idx];
  uint64_t *f = lk_xmalloc((n + 1) * sizeof *f), *r = lk_xmalloc((n + 1) * sizeof *r);
  size_t nf = 0, nr = 0;
  for (size_t i = 0; i < n; i++) {
    if (am__alert_resolved(&al[i], now))
      r[nr++] = al[i].fp;
    else
      f[nf++] = al[i].fp;
  }
  lk_buf key = {0};
  lk_buf_printf(&key, "%s\x1f%s\x1f%zu", g->key, rcv->name, idx);
  lk_buf_putc(&key, 0);
  const char *k = (const char *)key.data;
  if (needs_update(nflog_find(am, k), f, nf, r, nr, h->send_resolved, g->route->repeat_interval_ms, now)) {
    /* send_resolved: false drops resolved alerts from the body; a body left
     * empty is not sent, but the log is still updated (to clear it). */
    am_alert *send = lk_xmalloc((n + 1) * sizeof *send);
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
      if (h->send_resolved || !am__alert_resolved(&al[i], now))
        send[ns++] = al[i];
    int rc = 0;
    if (ns) {
      lk_buf body = {0};
      am__webhook_body(&body, rcv->name, g->key, &g->labels, send, ns, h->max_alerts, am->external_url);
      lk_diag d = {0};
      json_t *entry = nflog_json(k, f, nf, r, nr, now);
      rc = am__queue_push(am->q, h, (const char *)body.data, body.len, entry, &d);
      json_decref(entry);
      if (rc)
        lk_error("alerting: cannot queue a notification for receiver %s: %s", rcv->name, d.msg);
      else
        atomic_fetch_add(&am->notifications, 1);
      lk_buf_fini(&body);
    }
    if (!rc) {
      nflog_set(am, k, f, nf, r, nr, now);
      save_nflog(am);
    }
    free(send);
  }
  lk_buf_fini(&key);
  free(f);
  free(r);
}

static void flush_group(alerting_am *am, am_group *g, int64_t now)
{
  g->flushed = true;
  g->next_flush_ms = now + g->route->group_interval_ms;
  am_alert *al = lk_xmalloc((g->n + 1) * sizeof *al);
  size_t n = 0;
  bool muted = time_muted(am, g->route, now);
  for (size_t i = 0; i < g->n && !muted; i++) {
    if (inhibited_by(am, &g->alerts[i], now) || silenced(am, &g->alerts[i], now))
      continue;
    al[n] = g->alerts[i]; /* shallow: g outlives this call */
    if (!am__alert_resolved(&al[n], now))
      al[n].ends_at = 0; /* firing alerts are sent without their (future) end */
    n++;
  }
  qsort(al, n, sizeof *al, alert_order);
  const am_receiver *rcv = am__receiver(&am->cfg, g->route->receiver);
  for (size_t i = 0; rcv && i < rcv->nhooks; i++)
    notify_hook(am, g, rcv, i, al, n, now);
  free(al);
  size_t keep = 0;
  for (size_t i = 0; i < g->n; i++) {
    if (am__alert_resolved(&g->alerts[i], now))
      am__alert_free(&g->alerts[i]);
    else
      g->alerts[keep++] = g->alerts[i];
  }
  g->n = keep;
}

static void group_free(am_group *g)
{
  for (size_t i = 0; i < g->n; i++)
    am__alert_free(&g->alerts[i]);
  free(g->alerts);
  am__labels_free(&g->labels);
  free(g->key);
}

static void gc(alerting_am *am, int64_t now)
{
  size_t keep = 0;
  for (size_t i = 0; i < am->nalerts; i++) {
    if (am__alert_resolved(&am->alerts[i], now) && am->alerts[i].ends_at < now - RESOLVED_KEEP_MS) {
      am__alert_free(&am->alerts[i]);
      am->alerts_dirty = true;
    } else {
      am->alerts[keep++] = am->alerts[i];
    }
  }
  am->nalerts = keep;
  keep = 0;
  bool sil_changed = false;
  for (size_t i = 0; i < am->nsil; i++) {
    if (am->sil[i].ends_at < now - RETENTION_MS) {
      am__silence_free(&am->sil[i]);
      sil_changed = true;
    } else {
      am->sil[keep++] = am->sil[i];
    }
  }
  am->nsil = keep;
  if (sil_changed)
    am__save_silences(am);
}

/* One pass of the timers; returns the next due time. */
static int64_t tick(alerting_am *am, int64_t now)
{
  int64_t next = now + 1000;
  for (size_t i = 0; i < am->ngroups; i++) {
    am_group *g = &am->groups[i];
    if (g->next_flush_ms <= now)
      flush_group(am, g, now);
    if (g->n == 0) {
      group_free(g);
      am->groups[i--] = am->groups[--am->ngroups];
      continue;
    }
    if (g->next_flush_ms < next)
      next = g->next_flush_ms;
  }
  if (now >= am->next_gc_ms) {
    gc(am, now);
    am->next_gc_ms = now + GC_INTERVAL_MS;
  }
  if (am->alerts_dirty)
    save_alerts(am);
  return next;
}

static void *dispatcher(void *arg)
{
  alerting_am *am = arg;
  pthread_mutex_lock(&am->mu);
  while (!am->stop) {
    int64_t next = tick(am, lk_now_ms());
    struct timespec ts = {(time_t)(next / 1000), (long)(next % 1000) * 1000000L};
    pthread_cond_timedwait(&am->cv, &am->mu, &ts);
  }
  pthread_mutex_unlock(&am->mu);
  return NULL;
}

/*---- alerts in ----*/

void am__ingest(alerting_am *am, am_alert *alerts, size_t n, int64_t now)
{
  pthread_mutex_lock(&am->mu);
  for (size_t i = 0; i < n; i++)
    store_put(am, &alerts[i], now);
  save_alerts(am);
  pthread_cond_signal(&am->cv);
  pthread_mutex_unlock(&am->mu);
  atomic_fetch_add(&am->received, n);
}

static void labels_from(am_labels *l, const lk_label *v, size_t n)
{
  memset(l, 0, sizeof *l);
  for (size_t i = 0; i < n; i++)
    am__labels_add(l, v[i].name, v[i].value);
  lk_labels_sort(l->v, l->n);
}

void alerting_am_send(void *ctx, const alerting_alert *alerts, size_t n, int64_t now_ms)
{
  alerting_am *am = ctx;
  if (am->fwd)
    am__forward_push(am->fwd, alerts, n);
  am_alert *v = lk_xcalloc(n + 1, sizeof *v);
  for (size_t i = 0; i < n; i++) {
    labels_from(&v[i].labels, alerts[i].labels, alerts[i].nlabels);
    labels_from(&v[i].annotations, alerts[i].annotations, alerts[i].nannotations);
    v[i].starts_at = alerts[i].starts_at_ms;
    v[i].ends_at = alerts[i].ends_at_ms;
    v[i].updated_at = now_ms;
    v[i].generator_url = lk_xstrdup(alerts[i].generator_url ? alerts[i].generator_url : "");
  }
  am__ingest(am, v, n, now_ms);
  free(v);
}

/*---- open / close ----*/

static void load_alerts(alerting_am *am, int64_t now)
{
  json_t *arr = load_json(am, "alerts.json");
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    am_alert a = {0};
    json_int_t s = 0, en = 0, u = 0;
    int to = 0;
    const char *url = "";
    lk_diag d = {0};
    if (json_unpack(e, "{s:I,s:I,s:I,s:b,s:s}", "startsAt", &s, "endsAt", &en, "updatedAt", &u, "timeout", &to,
                    "generatorURL", &url) ||
        am__labels_from_json(json_object_get(e, "labels"), "labels", &a.labels, &d) ||
        am__labels_from_json(json_object_get(e, "annotations"), "annotations", &a.annotations, &d)) {
      am__alert_free(&a);
      continue;
    }
    a.starts_at = s;
    a.ends_at = en;
    a.updated_at = u;
    a.timeout = to;
    a.generator_url = lk_xstrdup(url);
    store_put(am, &a, now);
  }
  json_decref(arr);
}

/* Apply a persisted entry unless the log already holds a newer one. */
static void nflog_load_one(void *ctx, const json_t *e)
{
  alerting_am *am = ctx;
  const char *key = json_string_value(json_object_get(e, "key"));
  json_t *f = json_object_get(e, "firing"), *r = json_object_get(e, "resolved"), *x;
  int64_t ts = json_integer_value(json_object_get(e, "ts"));
  if (!key || !json_is_array(f) || !json_is_array(r))
    return;
  const am_nflog *have = nflog_find(am, key);
  if (have && have->ts >= ts)
    return;
  uint64_t *fv = lk_xcalloc(json_array_size(f) + 1, 8), *rv = lk_xcalloc(json_array_size(r) + 1, 8);
  size_t k;
  json_array_foreach(f, k, x) fv[k] = (uint64_t)json_integer_value(x);
  json_array_foreach(r, k, x) rv[k] = (uint64_t)json_integer_value(x);
  nflog_set(am, key, fv, json_array_size(f), rv, json_array_size(r), ts);
  free(fv);
  free(rv);
}

static void load_nflog(alerting_am *am)
{
  json_t *arr = load_json(am, "nflog.json");
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) nflog_load_one(am, e);
  json_decref(arr);
  am__queue_nflog(am->q, nflog_load_one, am); /* queued after the log was last written */
}

static void load_state(alerting_am *am, int64_t now)
{
  load_nflog(am);
  json_t *sil = load_json(am, "silences.json");
  size_t i;
  json_t *e;
  json_array_foreach(sil, i, e) am__silence_load(am, e);
  json_decref(sil);
  load_alerts(am, now);
}

int alerting_am_open(const alerting_am_opts *o, alerting_am **out, lk_diag *d)
{
  alerting_am *am = lk_xcalloc(1, sizeof *am);
  int rc = am__config_load(o->config_path, &am->cfg, d);
  if (rc) {
    free(am);
    return rc;
  }
  lk_buf dir = {0};
  lk_buf_printf(&dir, "%s/alerting", o->data_dir);
  lk_buf_putc(&dir, 0);
  am->dir = (char *)lk_buf_take(&dir, NULL);
  char qdir[4096];
  snprintf(qdir, sizeof qdir, "%s/queue", am->dir);
  if (lk_mkdir_p(qdir)) {
    rc = lk_diag_set(d, LK_EIO, -1, "cannot create %s: %s", qdir, strerror(errno));
  } else {
    rc = am__queue_open(qdir, &am->q, d);
  }
  if (rc) {
    am__config_free(&am->cfg);
    free(am->dir);
    free(am);
    return rc;
  }
  am->external_url = lk_xstrdup(o->external_url ? o->external_url : "");
  am->start_ms = lk_now_ms();
  pthread_mutex_init(&am->mu, NULL);
  pthread_cond_init(&am->cv, NULL);
  load_state(am, am->start_ms);
  if ((rc = am__queue_start(am->q, d))) {
    alerting_am_close(am);
    return rc;
  }
  am->next_gc_ms = am->start_ms + GC_INTERVAL_MS;
  if (am->cfg.ntargets)
    am->fwd = am__forward_start(am->cfg.targets, am->cfg.ntargets);
  if (pthread_create(&am->thread, NULL, dispatcher, am)) {
    alerting_am_close(am);
    return lk_diag_set(d, LK_EIO, -1, "cannot start the alert dispatcher");
  }
  am->thread_started = true;
  lk_info("alerting: notifier started receivers=%zu inhibit_rules=%zu silences=%zu alerts=%zu queued=%zu "
          "forward_targets=%zu",
          am->cfg.nrecv, am->cfg.ninh, am->nsil, am->nalerts, am__queue_len(am->q), am->cfg.ntargets);
  *out = am;
  return 0;
}

void alerting_am_close(alerting_am *am)
{
  if (!am)
    return;
  pthread_mutex_lock(&am->mu);
  am->stop = true;
  pthread_cond_signal(&am->cv);
  pthread_mutex_unlock(&am->mu);
  if (am->thread_started)
    pthread_join(am->thread, NULL);
  am__forward_stop(am->fwd);
  am__queue_close(am->q);
  if (am->alerts_dirty)
    save_alerts(am);
  for (size_t i = 0; i < am->nalerts; i++)
    am__alert_free(&am->alerts[i]);
  free(am->alerts);
  for (size_t i = 0; i < am->nsil; i++)
    am__silence_free(&am->sil[i]);
  free(am->sil);
  for (size_t i = 0; i < am->ngroups; i++)
    group_free(&am->groups[i]);
  free(am->groups);
  for (size_t i = 0; i < am->nnflog; i++) {
    free(am->nflog[i].key);
    free(am->nflog[i].firing);
    free(am->nflog[i].resolved);
  }
  free(am->nflog);
  am__config_free(&am->cfg);
  pthread_mutex_destroy(&am->mu);
  pthread_cond_destroy(&am->cv);
  free(am->dir);
  free(am->external_url);
  free(am);
}
