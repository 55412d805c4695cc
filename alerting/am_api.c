/* am_api.c — the Alertmanager API v2 answers (api/v2/openapi.yaml shapes):
 * gettableAlerts with their receivers and silenced/inhibited status,
 * alert groups, gettableSilences in Alertmanager's order, status (what
 * amtool reads: cluster, versionInfo, config.original, uptime), receivers;
 * POST /api/v2/alerts with Alertmanager's defaults for missing times; and
 * Lookout's own metrics for this part. A bad request changes nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"
#include "lk_version.h"

static void dump(json_t *j, lk_buf *out)
{
  char *s = json_dumps(j, JSON_COMPACT);
  lk_buf_puts(out, s);
  free(s);
  json_decref(j);
}

/*---- POST /api/v2/alerts ----*/

static int parse_time_field(const json_t *a, const char *key, size_t i, int64_t *out, lk_diag *d)
{
  json_t *v = json_object_get(a, key);
  *out = 0;
  if (!v || json_is_null(v))
    return 0;
  lk_diag td = {0};
  const char *s = json_string_value(v);
  if (!s || lk_parse_time(s, out, &td))
    return lk_diag_set(d, LK_EINVAL, -1, "alert %zu: %s: expected an RFC 3339 time", i, key);
  if (!strncmp(s, "0001-01-01", 10))
    *out = 0;
  return 0;
}

static int parse_postable(const json_t *a, size_t i, int64_t now, int64_t resolve_ms, am_alert *out, lk_diag *d)
{
  memset(out, 0, sizeof *out);
  if (!json_is_object(a))
    return lk_diag_set(d, LK_EINVAL, -1, "alert %zu: expected an object", i);
  char what[64];
  snprintf(what, sizeof what, "alert %zu: labels", i);
  json_t *labels = json_object_get(a, "labels"), *ann = json_object_get(a, "annotations");
  if (!labels)
    return lk_diag_set(d, LK_EINVAL, -1, "alert %zu: labels in body is required", i);
  int rc = am__labels_from_json(labels, what, &out->labels, d);
  snprintf(what, sizeof what, "alert %zu: annotations", i);
  if (!rc && ann && !json_is_null(ann))
    rc = am__labels_from_json(ann, what, &out->annotations, d);
  if (!rc && !out->labels.n)
    rc = lk_diag_set(d, LK_EINVAL, -1, "alert %zu: at least one label pair required", i);
  for (size_t k = 0; !rc && k < out->labels.n; k++) {
    const lk_label *l = &out->labels.v[k];
    if (!lk_label_name_valid(l->name))
      rc = lk_diag_set(d, LK_EINVAL, -1, "alert %zu: invalid label set: invalid name \"%s\"", i, l->name);
    else if (!lk_utf8_valid(l->value, strlen(l->value)))
      rc = lk_diag_set(d, LK_EINVAL, -1, "alert %zu: invalid label set: invalid value \"%s\"", i, l->value);
  }
  if (!rc)
    rc = parse_time_field(a, "startsAt", i, &out->starts_at, d);
  if (!rc)
    rc = parse_time_field(a, "endsAt", i, &out->ends_at, d);
  json_t *gu = json_object_get(a, "generatorURL");
  if (!rc && gu && !json_is_null(gu) && !json_is_string(gu))
    rc = lk_diag_set(d, LK_EINVAL, -1, "alert %zu: generatorURL: expected a string", i);
  if (!rc && out->starts_at && out->ends_at && out->ends_at < out->starts_at)
    rc = lk_diag_set(d, LK_EINVAL, -1, "alert %zu: start time must be before end time", i);
  if (rc) {
    am__alert_free(out);
    return rc;
  }
  out->generator_url = lk_xstrdup(json_is_string(gu) ? json_string_value(gu) : "");
  if (!out->starts_at)
    out->starts_at = out->ends_at ? out->ends_at : now;
  if (!out->ends_at) {
    out->timeout = true;
    out->ends_at = now + resolve_ms;
  }
  out->updated_at = now;
  return 0;
}

int alerting_am_api_post_alerts(alerting_am *am, const void *body, size_t len, lk_diag *d)
{
  json_error_t e;
  json_t *arr = json_loadb(body, len, 0, &e);
  if (!arr || !json_is_array(arr)) {
    json_decref(arr);
    atomic_fetch_add(&am->invalid, 1);
    return lk_diag_set(d, LK_EINVAL, -1, "body: expected a JSON array of postable alerts%s%s", arr ? "" : ": ",
                       arr ? "" : e.text);
  }
  int64_t now = lk_now_ms();
  size_t n = json_array_size(arr);
  am_alert *v = lk_xcalloc(n + 1, sizeof *v);
  int rc = 0;
  size_t ok = 0;
  for (; ok < n && !rc; ok++)
    rc = parse_postable(json_array_get(arr, ok), ok, now, am->cfg.resolve_timeout_ms, &v[ok], d);
  json_decref(arr);
  if (rc) {
    for (size_t i = 0; i + 1 < ok; i++)
      am__alert_free(&v[i]);
    free(v);
    atomic_fetch_add(&am->invalid, 1);
    return rc;
  }
  am__ingest(am, v, n, now);
  free(v);
  return 0;
}

/*---- GET /api/v2/alerts and /alerts/groups ----*/

typedef struct filt {
  am_matchers m;
  lk_regex *receiver;
} filt;

static int filt_parse(const char *const *filter, size_t n, const char *receiver, filt *f, lk_diag *d)
{
  memset(f, 0, sizeof *f);
  for (size_t i = 0; i < n; i++)
    if (am__matchers_parse(filter[i], &f->m, d)) {
      am__matchers_free(&f->m);
      return LK_EINVAL;
    }
  if (receiver && receiver[0] && lk_regex_compile(receiver, LK_REGEX_ANCHORED, &f->receiver, d)) {
    am__matchers_free(&f->m);
    return LK_EINVAL;
  }
  return 0;
}

static void filt_free(filt *f)
{
  am__matchers_free(&f->m);
  lk_regex_free(f->receiver);
}

static bool receiver_ok(const filt *f, const char *const *names, size_t n)
{
  if (!f->receiver)
    return true;
  for (size_t i = 0; i < n; i++)
    if (lk_regex_match(f->receiver, names[i], strlen(names[i])))
      return true;
  return false;
}

/* The gettableAlert for a, or NULL when q filters it out. Caller holds mu. */
static json_t *gettable(alerting_am *am, const am_alert *a, const alerting_am_query *q, const filt *f, int64_t now)
{
  if (am__alert_resolved(a, now) || !am__matchers_match(&f->m, &a->labels))
    return NULL;
  const char **rcv, **sil;
  size_t nrcv, nsil;
  uint64_t inh;
  am__alert_receivers(am, a, &rcv, &nrcv);
  am__alert_status(am, a, now, &sil, &nsil, &inh);
  bool keep = receiver_ok(f, rcv, nrcv) && (q->silenced || !nsil) && (q->inhibited || !inh) &&
              (q->active || nsil || inh);
  json_t *j = NULL;
  if (keep) {
    json_t *jr = json_array(), *js = json_array(), *ji = json_array();
    for (size_t i = 0; i < nrcv; i++)
      json_array_append_new(jr, json_pack("{s:s}", "name", rcv[i]));
    for (size_t i = 0; i < nsil; i++)
      json_array_append_new(js, json_string(sil[i]));
    char fp[17], st[40], en[40], up[40];
    if (inh) {
      snprintf(fp, sizeof fp, "%016" PRIx64, inh);
      json_array_append_new(ji, json_string(fp));
    }
    snprintf(fp, sizeof fp, "%016" PRIx64, a->fp);
    am__fmt_time(st, a->starts_at);
    am__fmt_time(en, a->ends_at);
    am__fmt_time(up, a->updated_at);
    j = json_pack("{s:o,s:s,s:s,s:o,s:s,s:{s:o,s:o,s:s},s:s,s:s,s:o}", "annotations",
                  am__labels_json(&a->annotations), "endsAt", en, "fingerprint", fp, "receivers", jr, "startsAt", st,
                  "status", "inhibitedBy", ji, "silencedBy", js, "state", nsil || inh ? "suppressed" : "active",
                  "updatedAt", up, "generatorURL", a->generator_url ? a->generator_url : "", "labels",
                  am__labels_json(&a->labels));
  }
  free(rcv);
  free(sil);
  return j;
}

static int fp_order(const void *a, const void *b)
{
  const char *x = json_string_value(json_object_get(*(json_t *const *)a, "fingerprint"));
  const char *y = json_string_value(json_object_get(*(json_t *const *)b, "fingerprint"));
  return strcmp(x, y);
}

static json_t *sorted(json_t **v, size_t n)
{
  if (n)
    qsort(v, n, sizeof *v, fp_order);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, v[i]);
  free(v);
  return arr;
}

int alerting_am_api_alerts(alerting_am *am, const alerting_am_query *q, lk_buf *out, lk_diag *d)
{
  filt f;
  if (filt_parse(q->filter, q->nfilter, q->receiver, &f, d))
    return LK_EINVAL;
  int64_t now = lk_now_ms();
  pthread_mutex_lock(&am->mu);
  json_t **v = lk_xcalloc(am->nalerts + 1, sizeof *v);
  size_t n = 0;
  for (size_t i = 0; i < am->nalerts; i++)
    if ((v[n] = gettable(am, &am->alerts[i], q, &f, now)))
      n++;
  pthread_mutex_unlock(&am->mu);
  filt_free(&f);
  dump(sorted(v, n), out);
  return 0;
}

int alerting_am_api_groups(alerting_am *am, const alerting_am_query *q, lk_buf *out, lk_diag *d)
{
  filt f;
  if (filt_parse(q->filter, q->nfilter, q->receiver, &f, d))
    return LK_EINVAL;
  int64_t now = lk_now_ms();
  json_t *arr = json_array();
  pthread_mutex_lock(&am->mu);
  for (size_t g = 0; g < am->ngroups; g++) {
    const am_group *grp = &am->groups[g];
    const char *rname = grp->route->receiver;
    if (!receiver_ok(&f, &rname, 1))
      continue;
    json_t **v = lk_xcalloc(grp->n + 1, sizeof *v);
    size_t n = 0;
    filt no_receiver = {f.m, NULL}; /* the group's receiver was checked above */
    for (size_t i = 0; i < grp->n; i++)
      if ((v[n] = gettable(am, &grp->alerts[i], q, &no_receiver, now)))
        n++;
    if (!n) {
      free(v);
      continue;
    }
    json_array_append_new(arr, json_pack("{s:o,s:{s:s},s:o}", "labels", am__labels_json(&grp->labels), "receiver",
                                         "name", rname, "alerts", sorted(v, n)));
  }
  pthread_mutex_unlock(&am->mu);
  filt_free(&f);
  dump(arr, out);
  return 0;
}

/*---- silences ----*/

/* Alertmanager's filter: the silence's equality matchers as a label set
 * must satisfy every filter matcher. */
static bool silence_filtered(const am_silence *s, const am_matchers *m)
{
  am_labels l = {0};
  for (size_t i = 0; i < s->matchers.n; i++)
    if (s->matchers.v[i].op == LK_SEL_EQ)
      am__labels_add(&l, s->matchers.v[i].name, s->matchers.v[i].value);
  lk_labels_sort(l.v, l.n);
  bool ok = am__matchers_match(m, &l);
  am__labels_free(&l);
  return ok;
}

/* Active (by end), then pending (by start), then expired (latest end first). */
static int silence_order(const am_silence *a, const am_silence *b, int64_t now)
{
  static const char *const rank[] = {"active", "pending", "expired"};
  const char *sa = am__silence_state(a, now), *sb = am__silence_state(b, now);
  int ra = 0, rb = 0;
  while (strcmp(rank[ra], sa))
    ra++;
  while (strcmp(rank[rb], sb))
    rb++;
  if (ra != rb)
    return ra - rb;
  int64_t x = ra == 1 ? a->starts_at : a->ends_at, y = ra == 1 ? b->starts_at : b->ends_at;
  int c = (x > y) - (x < y);
  return ra == 2 ? -c : c;
}

int alerting_am_api_silences(alerting_am *am, const char *const *filter, size_t nfilter, lk_buf *out, lk_diag *d)
{
  filt f;
  if (filt_parse(filter, nfilter, NULL, &f, d))
    return LK_EINVAL;
  int64_t now = lk_now_ms();
  pthread_mutex_lock(&am->mu);
  const am_silence **v = lk_xcalloc(am->nsil + 1, sizeof *v);
  size_t n = 0;
  for (size_t i = 0; i < am->nsil; i++)
    if (silence_filtered(&am->sil[i], &f.m))
      v[n++] = &am->sil[i];
  for (size_t i = 1; i < n; i++) /* insertion sort: the order depends on now */
    for (size_t k = i; k > 0 && silence_order(v[k - 1], v[k], now) > 0; k--) {
      const am_silence *t = v[k];
      v[k] = v[k - 1];
      v[k - 1] = t;
    }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, am__silence_json(v[i], now));
  pthread_mutex_unlock(&am->mu);
  free(v);
  filt_free(&f);
  dump(arr, out);
  return 0;
}

int alerting_am_api_post_silence(alerting_am *am, const void *body, size_t len, lk_buf *out, lk_diag *d)
{
  json_error_t e;
  json_t *j = json_loadb(body, len, 0, &e);
  if (!j)
    return lk_diag_set(d, LK_EINVAL, -1, "body: %s", e.text);
  char id[40];
  pthread_mutex_lock(&am->mu);
  int rc = am__silence_put(am, j, lk_now_ms(), id, d);
  pthread_cond_signal(&am->cv);
  pthread_mutex_unlock(&am->mu);
  json_decref(j);
  if (!rc)
    dump(json_pack("{s:s}", "silenceID", id), out);
  return rc;
}

int alerting_am_api_silence(alerting_am *am, const char *id, lk_buf *out, lk_diag *d)
{
  int rc = lk_diag_set(d, LK_ENOENT, -1, "silence not found");
  int64_t now = lk_now_ms();
  pthread_mutex_lock(&am->mu);
  for (size_t i = 0; i < am->nsil; i++)
    if (!strcmp(am->sil[i].id, id)) {
      dump(am__silence_json(&am->sil[i], now), out);
      rc = 0;
    }
  pthread_mutex_unlock(&am->mu);
  if (!rc)
    d->set = 0;
  return rc;
}

int alerting_am_api_expire_silence(alerting_am *am, const char *id, lk_diag *d)
{
  pthread_mutex_lock(&am->mu);
  int rc = am__silence_expire(am, id, lk_now_ms(), d);
  pthread_cond_signal(&am->cv);
  pthread_mutex_unlock(&am->mu);
  return rc;
}

/*---- status, receivers, metrics ----*/

void alerting_am_api_status(alerting_am *am, lk_buf *out)
{
  char up[40];
  am__fmt_time(up, am->start_ms);
  dump(json_pack("{s:{s:s,s:s,s:[]},s:{s:s,s:s,s:s,s:s,s:s,s:s},s:{s:s},s:s}", "cluster", "name", "", "status",
                 "disabled", "peers", "versionInfo", "branch", "", "buildDate", "", "buildUser", "", "goVersion", "",
                 "revision", "", "version", LOOKOUT_VERSION, "config", "original", am->cfg.original, "uptime", up),
       out);
}

void alerting_am_api_receivers(alerting_am *am, lk_buf *out)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < am->cfg.nrecv; i++)
    json_array_append_new(arr, json_pack("{s:s}", "name", am->cfg.recv[i].name));
  dump(arr, out);
}

static void family(lk_buf *out, const char *name, const char *type, const char *help)
{
  lk_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void alerting_am_metrics(alerting_am *am, lk_buf *out)
{
  am_queue_stats qs;
  am__queue_stats(am->q, &qs);
  int64_t now = lk_now_ms();
  size_t active = 0, pending = 0, expired = 0, firing = 0, nalerts;
  pthread_mutex_lock(&am->mu);
  nalerts = am->nalerts;
  for (size_t i = 0; i < am->nalerts; i++)
    firing += !am__alert_resolved(&am->alerts[i], now);
  for (size_t i = 0; i < am->nsil; i++) {
    const char *s = am__silence_state(&am->sil[i], now);
    active += !strcmp(s, "active");
    pending += !strcmp(s, "pending");
    expired += !strcmp(s, "expired");
  }
  size_t groups = am->ngroups;
  pthread_mutex_unlock(&am->mu);
  family(out, "lookout_alertmanager_alerts_received_total", "counter", "Alerts received (rule engine and API).");
  lk_buf_printf(out, "lookout_alertmanager_alerts_received_total %" PRIu64 "\n", atomic_load(&am->received));
  family(out, "lookout_alertmanager_alerts_invalid_total", "counter", "Alert batches refused as invalid.");
  lk_buf_printf(out, "lookout_alertmanager_alerts_invalid_total %" PRIu64 "\n", atomic_load(&am->invalid));
  family(out, "lookout_alertmanager_alerts", "gauge", "Alerts in the store by state.");
  lk_buf_printf(out, "lookout_alertmanager_alerts{state=\"firing\"} %zu\n", firing);
  lk_buf_printf(out, "lookout_alertmanager_alerts{state=\"resolved\"} %zu\n", nalerts - firing);
  family(out, "lookout_alertmanager_aggregation_groups", "gauge", "Aggregation groups.");
  lk_buf_printf(out, "lookout_alertmanager_aggregation_groups %zu\n", groups);
  family(out, "lookout_alertmanager_silences", "gauge", "Silences by state.");
  lk_buf_printf(out, "lookout_alertmanager_silences{state=\"active\"} %zu\n", active);
  lk_buf_printf(out, "lookout_alertmanager_silences{state=\"pending\"} %zu\n", pending);
  lk_buf_printf(out, "lookout_alertmanager_silences{state=\"expired\"} %zu\n", expired);
  family(out, "lookout_notifications_queued_total", "counter", "Webhook notifications written to the queue.");
  lk_buf_printf(out, "lookout_notifications_queued_total %" PRIu64 "\n", atomic_load(&am->notifications));
  family(out, "lookout_notifications_sent_total", "counter", "Webhook notifications delivered (2xx).");
  lk_buf_printf(out, "lookout_notifications_sent_total %" PRIu64 "\n", qs.sent);
  family(out, "lookout_notifications_failed_total", "counter", "Webhook attempts that failed and will be retried.");
  lk_buf_printf(out, "lookout_notifications_failed_total %" PRIu64 "\n", qs.failed);
  family(out, "lookout_notifications_dropped_total", "counter", "Webhook notifications refused with 4xx.");
  lk_buf_printf(out, "lookout_notifications_dropped_total %" PRIu64 "\n", qs.dropped);
  family(out, "lookout_notifications_pending", "gauge", "Webhook notifications waiting in the queue.");
  lk_buf_printf(out, "lookout_notifications_pending %zu\n", am__queue_len(am->q));
  if (am->fwd) {
    am_forward_stats fs;
    am__forward_stats(am->fwd, &fs);
    family(out, "lookout_notifier_sent_total", "counter", "Alerts sent to Alertmanagers.");
    lk_buf_printf(out, "lookout_notifier_sent_total %" PRIu64 "\n", fs.sent);
    family(out, "lookout_notifier_errors_total", "counter", "Alerts whose sending to an Alertmanager failed.");
    lk_buf_printf(out, "lookout_notifier_errors_total %" PRIu64 "\n", fs.errors);
    family(out, "lookout_notifier_dropped_total", "counter", "Alerts dropped because the queue was full.");
    lk_buf_printf(out, "lookout_notifier_dropped_total %" PRIu64 "\n", fs.dropped);
    family(out, "lookout_notifier_queue_length", "gauge", "Alerts waiting to be sent to Alertmanagers.");
    lk_buf_printf(out, "lookout_notifier_queue_length %" PRIu64 "\n", fs.queued);
  }
}
