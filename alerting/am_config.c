/* am_config.c — the Alertmanager sections of Lookout's config file, read
 * with lk_yaml so a user's alertmanager.yml sections move over unchanged:
 * route (nested, with matchers and the deprecated match/match_re), receivers
 * (webhook_configs), inhibit_rules, time_intervals (and the deprecated
 * top-level mute_time_intervals), global.resolve_timeout, and Prometheus's
 * `alerting: {alertmanagers: …}` for forwarding. lib/lk_config.c accepts
 * these keys as delegated and leaves them to this file. Validation follows
 * Alertmanager's (undefined receivers and intervals, duplicate names, bad
 * matchers, bad URLs); every error names the file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_config.h"
#include "lib/lk_fs.h"
#include "lib/lk_yaml.h"

typedef struct cx {
  const lk_yaml *y;
  am_config *c;
  lk_diag *d;
} cx;

#define ERR(n, ...) lk_yaml_err(x->y, (n), x->d, LK_EINVAL, __VA_ARGS__)

static void strs_free(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static int str_list(cx *x, const lk_ynode *n, const char *what, char ***out, size_t *nout)
{
  if (lk_ynode_kind(n) == LK_YNULL)
    return 0;
  if (lk_ynode_kind(n) != LK_YSEQ)
    return ERR(n, "%s: expected a list", what);
  for (size_t i = 0; i < lk_ynode_len(n); i++) {
    const char *s;
    if (lk_ynode_string(x->y, lk_ynode_at(n, i), what, &s, x->d))
      return LK_EINVAL;
    *out = lk_xrealloc(*out, (*nout + 1) * sizeof **out);
    (*out)[(*nout)++] = lk_xstrdup(s);
  }
  return 0;
}

static int seq(cx *x, const lk_ynode *n, const char *what)
{
  if (lk_ynode_kind(n) != LK_YSEQ && lk_ynode_kind(n) != LK_YNULL)
    return ERR(n, "%s: expected a list", what);
  return 0;
}

/*---- matchers ----*/

/* matchers: [...] (new syntax) plus match: {k: v} and match_re: {k: re}. */
static int read_matchers(cx *x, const lk_ynode *map, const char *what, const char *newkey, const char *eqkey,
                         const char *rekey, am_matchers *ms)
{
  const lk_ynode *n = lk_ynode_get(map, newkey);
  if (n && seq(x, n, newkey))
    return LK_EINVAL;
  for (size_t i = 0; n && i < lk_ynode_len(n); i++) {
    const char *s;
    lk_diag md = {0};
    if (lk_ynode_string(x->y, lk_ynode_at(n, i), newkey, &s, x->d))
      return LK_EINVAL;
    if (am__matchers_parse(s, ms, &md))
      return ERR(lk_ynode_at(n, i), "%s.%s: %s", what, newkey, md.msg);
  }
  const char *keys[2] = {eqkey, rekey};
  for (int k = 0; k < 2; k++) {
    const lk_ynode *m = lk_ynode_get(map, keys[k]);
    if (!m || lk_ynode_kind(m) == LK_YNULL)
      continue;
    if (lk_ynode_kind(m) != LK_YMAP)
      return ERR(m, "%s.%s: expected a mapping of label names to values", what, keys[k]);
    for (size_t i = 0; i < lk_ynode_len(m); i++) {
      const char *name = lk_ynode_str(lk_ynode_key(m, i)), *v;
      lk_diag md = {0};
      if (lk_ynode_string(x->y, lk_ynode_val(m, i), keys[k], &v, x->d))
        return LK_EINVAL;
      if (!name || !lk_label_name_valid(name))
        return ERR(lk_ynode_key(m, i), "%s.%s: invalid label name \"%s\"", what, keys[k], name ? name : "");
      if (am__matcher_add(ms, name, k ? LK_SEL_RE : LK_SEL_EQ, v, &md))
        return ERR(lk_ynode_val(m, i), "%s.%s: %s", what, keys[k], md.msg);
    }
  }
  am__matchers_sort(ms);
  return 0;
}

/*---- route ----*/

static const char *const route_keys[] = {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval",
                                         "matchers", "match", "match_re", "continue", "routes",
                                         "mute_time_intervals", "active_time_intervals", NULL};

static int route_durations(cx *x, const lk_ynode *n, am_route *r)
{
  const char *names[3] = {"group_wait", "group_interval", "repeat_interval"};
  int64_t *slots[3] = {&r->group_wait_ms, &r->group_interval_ms, &r->repeat_interval_ms};
  for (int i = 0; i < 3; i++) {
    const lk_ynode *v = lk_ynode_get(n, names[i]);
    if (!v)
      continue;
    if (lk_ynode_duration(x->y, v, names[i], slots[i], x->d))
      return LK_EINVAL;
    if (i && *slots[i] == 0)
      return ERR(v, "%s cannot be zero", names[i]);
  }
  return 0;
}

static int route_group_by(cx *x, const lk_ynode *n, am_route *r)
{
  const lk_ynode *g = lk_ynode_get(n, "group_by");
  if (!g)
    return 0;
  strs_free(r->group_by, r->ngroup_by);
  r->group_by = NULL;
  r->ngroup_by = 0;
  r->group_all = false;
  if (str_list(x, g, "group_by", &r->group_by, &r->ngroup_by))
    return LK_EINVAL;
  for (size_t i = 0; i < r->ngroup_by; i++) {
    if (!strcmp(r->group_by[i], "...")) {
      if (r->ngroup_by != 1)
        return ERR(g, "cannot have wildcard group_by (`...`) and other labels at the same time");
      r->group_all = true;
    } else if (!lk_label_name_valid(r->group_by[i])) {
      return ERR(g, "invalid label name \"%s\" in group_by list", r->group_by[i]);
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(r->group_by[i], r->group_by[j]))
        return ERR(g, "duplicated label \"%s\" in group_by", r->group_by[i]);
  }
  if (r->group_all) {
    strs_free(r->group_by, r->ngroup_by);
    r->group_by = NULL;
    r->ngroup_by = 0;
  }
  return 0;
}

static void route_inherit(am_route *r, const am_route *parent)
{
  memset(r, 0, sizeof *r);
  r->receiver = lk_xstrdup(parent->receiver);
  for (size_t i = 0; i < parent->ngroup_by; i++) {
    r->group_by = lk_xrealloc(r->group_by, (r->ngroup_by + 1) * sizeof *r->group_by);
    r->group_by[r->ngroup_by++] = lk_xstrdup(parent->group_by[i]);
  }
  r->group_all = parent->group_all;
  r->group_wait_ms = parent->group_wait_ms;
  r->group_interval_ms = parent->group_interval_ms;
  r->repeat_interval_ms = parent->repeat_interval_ms;
}

static int check_intervals(cx *x, const lk_ynode *n, char **names, size_t count)
{
  for (size_t i = 0; i < count; i++) {
    bool found = false;
    for (size_t j = 0; j < x->c->nti && !found; j++)
      found = !strcmp(x->c->ti[j].name, names[i]);
    if (!found)
      return ERR(n, "undefined time interval \"%s\" used in route", names[i]);
  }
  return 0;
}

static int parse_route(cx *x, const lk_ynode *n, am_route *r, const char *parent_key)
{
  if (lk_ynode_check_keys(x->y, n, "route", route_keys, x->d))
    return LK_EINVAL;
  const lk_ynode *v;
  const char *s;
  if ((v = lk_ynode_get(n, "receiver"))) {
    if (lk_ynode_string(x->y, v, "receiver", &s, x->d))
      return LK_EINVAL;
    free(r->receiver);
    r->receiver = lk_xstrdup(s);
  }
  if (!am__receiver(x->c, r->receiver))
    return ERR(v ? v : n, "undefined receiver \"%s\" used in route", r->receiver ? r->receiver : "");
  if (route_group_by(x, n, r) || route_durations(x, n, r) ||
      read_matchers(x, n, "route", "matchers", "match", "match_re", &r->matchers))
    return LK_EINVAL;
  if ((v = lk_ynode_get(n, "continue")) && lk_ynode_bool(x->y, v, "continue", &r->cont, x->d))
    return LK_EINVAL;
  if ((v = lk_ynode_get(n, "mute_time_intervals")) &&
      (str_list(x, v, "mute_time_intervals", &r->mute, &r->nmute) || check_intervals(x, v, r->mute, r->nmute)))
    return LK_EINVAL;
  if ((v = lk_ynode_get(n, "active_time_intervals")) &&
      (str_list(x, v, "active_time_intervals", &r->active, &r->nactive) ||
       check_intervals(x, v, r->active, r->nactive)))
    return LK_EINVAL;
  lk_buf key = {0};
  if (parent_key) {
    lk_buf_puts(&key, parent_key);
    lk_buf_putc(&key, '/');
  }
  am__matchers_format(&key, &r->matchers);
  lk_buf_putc(&key, 0);
  r->key = (char *)lk_buf_take(&key, NULL);
  const lk_ynode *kids = lk_ynode_get(n, "routes");
  if (kids && seq(x, kids, "routes"))
    return LK_EINVAL;
  size_t nk = kids ? lk_ynode_len(kids) : 0;
  if (nk)
    r->kids = lk_xcalloc(nk, sizeof *r->kids);
  for (size_t i = 0; i < nk; i++) {
    route_inherit(&r->kids[i], r);
    r->nkids++;
    if (parse_route(x, lk_ynode_at(kids, i), &r->kids[i], r->key))
      return LK_EINVAL;
  }
  return 0;
}

static int parse_root_route(cx *x, const lk_ynode *n)
{
  am_route *r = &x->c->root;
  if (!n) {
    r->receiver = lk_xstrdup("default");
    r->key = lk_xstrdup("{}");
    return 0;
  }
  if (lk_ynode_kind(n) != LK_YMAP)
    return ERR(n, "route: expected a mapping");
  if (!lk_ynode_get(n, "receiver"))
    return ERR(n, "root route must specify a default receiver");
  const lk_ynode *v;
  if ((v = lk_ynode_get(n, "matchers")) || (v = lk_ynode_get(n, "match")) || (v = lk_ynode_get(n, "match_re")))
    return ERR(v, "root route must not have any matchers");
  if ((v = lk_ynode_get(n, "continue")))
    return ERR(v, "cannot have continue in root route");
  if ((v = lk_ynode_get(n, "mute_time_intervals")))
    return ERR(v, "root route must not have any mute time intervals");
  if ((v = lk_ynode_get(n, "active_time_intervals")))
    return ERR(v, "root route must not have any active time intervals");
  return parse_route(x, n, r, NULL);
}

/*---- receivers ----*/

static void base64(lk_buf *b, const char *s)
{
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(s);
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    lk_buf_putc(b, (uint8_t)tab[v >> 18]);
    lk_buf_putc(b, (uint8_t)tab[(v >> 12) & 63]);
    lk_buf_putc(b, i + 1 < n ? (uint8_t)tab[(v >> 6) & 63] : '=');
    lk_buf_putc(b, i + 2 < n ? (uint8_t)tab[v & 63] : '=');
  }
}

static int opt_str(cx *x, const lk_ynode *map, const char *key, const char **out)
{
  const lk_ynode *v = lk_ynode_get(map, key);
  *out = NULL;
  return v ? lk_ynode_string(x->y, v, key, out, x->d) : 0;
}

static int parse_http_config(cx *x, const lk_ynode *n, am_webhook *h)
{
  static const char *const keys[] = {"bearer_token", "authorization", "basic_auth", "follow_redirects", NULL};
  static const char *const auth_keys[] = {"type", "credentials", NULL};
  static const char *const basic_keys[] = {"username", "password", NULL};
  if (lk_ynode_check_keys(x->y, n, "http_config", keys, x->d))
    return LK_EINVAL;
  const lk_ynode *a = lk_ynode_get(n, "authorization"), *b = lk_ynode_get(n, "basic_auth");
  const char *bearer, *type = NULL, *cred = NULL, *user = NULL, *pass = NULL;
  if (opt_str(x, n, "bearer_token", &bearer))
    return LK_EINVAL;
  if ((bearer != NULL) + (a != NULL) + (b != NULL) > 1)
    return ERR(n, "at most one of basic_auth, bearer_token & authorization must be configured");
  if (a && (lk_ynode_check_keys(x->y, a, "authorization", auth_keys, x->d) || opt_str(x, a, "type", &type) ||
            opt_str(x, a, "credentials", &cred)))
    return LK_EINVAL;
  if (b && (lk_ynode_check_keys(x->y, b, "basic_auth", basic_keys, x->d) || opt_str(x, b, "username", &user) ||
            opt_str(x, b, "password", &pass)))
    return LK_EINVAL;
  if (a && type && !strcasecmp(type, "basic"))
    return ERR(a, "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
  lk_buf hv = {0};
  if (bearer || a) {
    lk_buf_printf(&hv, "%s %s", type ? type : "Bearer", bearer ? bearer : cred ? cred : "");
  } else if (b) {
    lk_buf up = {0};
    lk_buf_printf(&up, "%s:%s", user ? user : "", pass ? pass : "");
    lk_buf_putc(&up, 0);
    lk_buf_puts(&hv, "Basic ");
    base64(&hv, (const char *)up.data);
    lk_buf_fini(&up);
  }
  if (hv.len) {
    lk_buf_putc(&hv, 0);
    h->authorization = (char *)lk_buf_take(&hv, NULL);
  }
  return 0;
}

/* http://host[:port][/path]; lk_httpc speaks plain HTTP only. */
static int check_url(cx *x, const lk_ynode *n, const char *url)
{
  const char *h = !strncmp(url, "http://", 7) ? url + 7 : NULL;
  if (!strncmp(url, "https://", 8))
    return ERR(n, "url \"%s\": https is not supported (plain http only)", url);
  if (!h || !*h || *h == '/' || *h == ':' || strchr(url, ' '))
    return ERR(n, "unsupported scheme or invalid URL \"%s\" (expected http://host[:port]/path)", url);
  const char *colon = strchr(h, ':'), *slash = strchr(h, '/');
  if (colon && (!slash || colon < slash)) {
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end && *end != '/') || port <= 0 || port > 65535)
      return ERR(n, "invalid port in URL \"%s\"", url);
  }
  return 0;
}

static int parse_webhook(cx *x, const lk_ynode *n, am_webhook *h)
{
  static const char *const keys[] = {"url", "send_resolved", "max_alerts", "http_config", "timeout", NULL};
  if (lk_ynode_check_keys(x->y, n, "webhook_config", keys, x->d))
    return LK_EINVAL;
  const lk_ynode *v;
  const char *url;
  if (opt_str(x, n, "url", &url))
    return LK_EINVAL;
  if (!url)
    return ERR(n, "one of url or url_file must be configured");
  if (check_url(x, lk_ynode_get(n, "url"), url))
    return LK_EINVAL;
  h->url = lk_xstrdup(url);
  h->send_resolved = true;
  if ((v = lk_ynode_get(n, "send_resolved")) && lk_ynode_bool(x->y, v, "send_resolved", &h->send_resolved, x->d))
    return LK_EINVAL;
  int64_t max = 0;
  if ((v = lk_ynode_get(n, "max_alerts")) && lk_ynode_int(x->y, v, "max_alerts", &max, x->d))
    return LK_EINVAL;
  if (max < 0)
    return ERR(v, "max_alerts: must not be negative");
  h->max_alerts = (uint64_t)max;
  if ((v = lk_ynode_get(n, "timeout")) && lk_ynode_duration(x->y, v, "timeout", &h->timeout_ms, x->d))
    return LK_EINVAL;
  if ((v = lk_ynode_get(n, "http_config")) && parse_http_config(x, v, h))
    return LK_EINVAL;
  return 0;
}

static int parse_receiver(cx *x, const lk_ynode *n, am_receiver *r)
{
  static const char *const keys[] = {"name", "webhook_configs", NULL};
  for (size_t i = 0; lk_ynode_kind(n) == LK_YMAP && i < lk_ynode_len(n); i++) {
    const char *k = lk_ynode_str(lk_ynode_key(n, i));
    if (k && strstr(k, "_configs") && strcmp(k, "webhook_configs"))
      return ERR(lk_ynode_key(n, i), "receivers: %s are not supported (only webhook_configs)", k);
  }
  if (lk_ynode_check_keys(x->y, n, "receiver", keys, x->d))
    return LK_EINVAL;
  const char *name;
  if (opt_str(x, n, "name", &name))
    return LK_EINVAL;
  if (!name || !name[0])
    return ERR(n, "missing name in receiver");
  for (size_t i = 0; i < x->c->nrecv; i++)
    if (!strcmp(x->c->recv[i].name, name))
      return ERR(n, "notification config name \"%s\" is not unique", name);
  r->name = lk_xstrdup(name);
  const lk_ynode *hooks = lk_ynode_get(n, "webhook_configs");
  if (hooks && seq(x, hooks, "webhook_configs"))
    return LK_EINVAL;
  size_t nh = hooks ? lk_ynode_len(hooks) : 0;
  r->hooks = nh ? lk_xcalloc(nh, sizeof *r->hooks) : NULL;
  for (size_t i = 0; i < nh; i++) {
    r->nhooks++;
    if (parse_webhook(x, lk_ynode_at(hooks, i), &r->hooks[i]))
      return LK_EINVAL;
  }
  return 0;
}

static int parse_receivers(cx *x, const lk_ynode *n)
{
  if (n && seq(x, n, "receivers"))
    return LK_EINVAL;
  size_t cnt = n ? lk_ynode_len(n) : 0;
  x->c->recv = lk_xcalloc(cnt + 1, sizeof *x->c->recv);
  for (size_t i = 0; i < cnt; i++) {
    int rc = parse_receiver(x, lk_ynode_at(n, i), &x->c->recv[x->c->nrecv]);
    x->c->nrecv++; /* counted either way, so a half-read one is freed */
    if (rc)
      return rc;
  }
  return 0;
}

/*---- inhibit_rules ----*/

static int parse_inhibit(cx *x, const lk_ynode *n)
{
  static const char *const keys[] = {"source_matchers", "target_matchers", "source_match", "source_match_re",
                                     "target_match", "target_match_re", "equal", "name", NULL};
  if (n && seq(x, n, "inhibit_rules"))
    return LK_EINVAL;
  size_t cnt = n ? lk_ynode_len(n) : 0;
  x->c->inh = cnt ? lk_xcalloc(cnt, sizeof *x->c->inh) : NULL;
  for (size_t i = 0; i < cnt; i++) {
    const lk_ynode *r = lk_ynode_at(n, i);
    am_inhibit *in = &x->c->inh[x->c->ninh++];
    if (lk_ynode_check_keys(x->y, r, "inhibit rule", keys, x->d) ||
        read_matchers(x, r, "inhibit_rules", "source_matchers", "source_match", "source_match_re", &in->src) ||
        read_matchers(x, r, "inhibit_rules", "target_matchers", "target_match", "target_match_re", &in->tgt))
      return LK_EINVAL;
    const lk_ynode *eq = lk_ynode_get(r, "equal");
    if (eq && str_list(x, eq, "equal", &in->equal, &in->nequal))
      return LK_EINVAL;
    for (size_t j = 0; j < in->nequal; j++)
      if (!lk_label_name_valid(in->equal[j]))
        return ERR(eq, "invalid label name \"%s\" in equal list", in->equal[j]);
  }
  return 0;
}

/*---- time_intervals ----*/

static int name_index(const char *s, const char *const *names, int base)
{
  for (int i = 0; names[i]; i++)
    if (!strcasecmp(s, names[i]))
      return i + base;
  char *end;
  long v = strtol(s, &end, 10);
  return *s && !*end ? (int)v : -1000;
}

/* "a:b" or "a" with names or numbers; bounds checked against [lo, hi]. */
static int parse_ranges(cx *x, const lk_ynode *n, const char *what, const char *const *names, int base, int lo,
                        int hi, am_range **out, size_t *nout)
{
  char **items = NULL;
  size_t cnt = 0;
  if (str_list(x, n, what, &items, &cnt))
    return LK_EINVAL;
  int rc = 0;
  for (size_t i = 0; !rc && i < cnt; i++) {
    char *colon = strchr(items[i], ':');
    if (colon)
      *colon = 0;
    int a = name_index(items[i], names, base), b = colon ? name_index(colon + 1, names, base) : a;
    if (a < lo || a > hi || b < lo || b > hi || (a == 0 && lo < 0) || (b == 0 && lo < 0))
      rc = ERR(n, "%s: invalid value in \"%s%s%s\"", what, items[i], colon ? ":" : "", colon ? colon + 1 : "");
    else if ((a > b && !(a < 0 && b > 0)) || (a > 0 && b < 0))
      rc = ERR(n, "%s: start of range \"%s\" is after its end", what, items[i]);
    *out = lk_xrealloc(*out, (*nout + 1) * sizeof **out);
    (*out)[(*nout)++] = (am_range){a, b};
  }
  strs_free(items, cnt);
  return rc;
}

static int parse_hhmm(cx *x, const lk_ynode *n, const char *what, int *out)
{
  const char *s;
  if (lk_ynode_string(x->y, n, what, &s, x->d))
    return LK_EINVAL;
  int h, m;
  char extra;
  if (sscanf(s, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m))
    return ERR(n, "%s: invalid time of day \"%s\" (expected HH:MM)", what, s);
  *out = h * 60 + m;
  return 0;
}

static int parse_tspec(cx *x, const lk_ynode *n, am_tspec *t)
{
  static const char *const keys[] = {"times", "weekdays", "days_of_month", "months", "years", "location", NULL};
  static const char *const wd[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                   NULL};
  static const char *const mo[] = {"january", "february", "march", "april", "may", "june", "july", "august",
                                   "september", "october", "november", "december", NULL};
  static const char *const none[] = {NULL};
  if (lk_ynode_check_keys(x->y, n, "time_interval", keys, x->d))
    return LK_EINVAL;
  const lk_ynode *v;
  if ((v = lk_ynode_get(n, "times"))) {
    if (seq(x, v, "times"))
      return LK_EINVAL;
    for (size_t i = 0; i < lk_ynode_len(v); i++) {
      static const char *const tkeys[] = {"start_time", "end_time", NULL};
      const lk_ynode *r = lk_ynode_at(v, i), *s = lk_ynode_get(r, "start_time"), *e = lk_ynode_get(r, "end_time");
      am_range rg;
      if (lk_ynode_check_keys(x->y, r, "times", tkeys, x->d))
        return LK_EINVAL;
      if (!s || !e)
        return ERR(r, "times: both start_time and end_time are required");
      if (parse_hhmm(x, s, "start_time", &rg.lo) || parse_hhmm(x, e, "end_time", &rg.hi))
        return LK_EINVAL;
      if (rg.lo >= rg.hi)
        return ERR(r, "times: start time cannot be equal or greater than end time");
      t->times = lk_xrealloc(t->times, (t->ntimes + 1) * sizeof *t->times);
      t->times[t->ntimes++] = rg;
    }
  }
  if (((v = lk_ynode_get(n, "weekdays")) && parse_ranges(x, v, "weekdays", wd, 0, 0, 6, &t->weekdays, &t->nweekdays)) ||
      ((v = lk_ynode_get(n, "days_of_month")) &&
       parse_ranges(x, v, "days_of_month", none, 0, -31, 31, &t->mdays, &t->nmdays)) ||
      ((v = lk_ynode_get(n, "months")) && parse_ranges(x, v, "months", mo, 1, 1, 12, &t->months, &t->nmonths)) ||
      ((v = lk_ynode_get(n, "years")) && parse_ranges(x, v, "years", none, 0, 1, 9999, &t->years, &t->nyears)))
    return LK_EINVAL;
  const char *loc;
  if (opt_str(x, n, "location", &loc))
    return LK_EINVAL;
  if (loc && strcmp(loc, "UTC") && strcmp(loc, "Local"))
    return ERR(lk_ynode_get(n, "location"), "location \"%s\": only UTC and Local are supported", loc);
  t->local = loc && !strcmp(loc, "Local");
  return 0;
}

static int parse_intervals(cx *x, const lk_ynode *n, const char *section)
{
  static const char *const keys[] = {"name", "time_intervals", NULL};
  if (seq(x, n, section))
    return LK_EINVAL;
  for (size_t i = 0; i < lk_ynode_len(n); i++) {
    const lk_ynode *e = lk_ynode_at(n, i);
    const char *name;
    if (lk_ynode_check_keys(x->y, e, section, keys, x->d) || opt_str(x, e, "name", &name))
      return LK_EINVAL;
    if (!name || !name[0])
      return ERR(e, "missing name in time interval");
    for (size_t j = 0; j < x->c->nti; j++)
      if (!strcmp(x->c->ti[j].name, name))
        return ERR(e, "time interval \"%s\" is not unique", name);
    x->c->ti = lk_xrealloc(x->c->ti, (x->c->nti + 1) * sizeof *x->c->ti);
    am_tinterval *ti = &x->c->ti[x->c->nti++];
    memset(ti, 0, sizeof *ti);
    ti->name = lk_xstrdup(name);
    const lk_ynode *specs = lk_ynode_get(e, "time_intervals");
    if (specs && seq(x, specs, "time_intervals"))
      return LK_EINVAL;
    size_t ns = specs ? lk_ynode_len(specs) : 0;
    ti->v = ns ? lk_xcalloc(ns, sizeof *ti->v) : NULL;
    for (size_t j = 0; j < ns; j++) {
      ti->n++;
      if (parse_tspec(x, lk_ynode_at(specs, j), &ti->v[j]))
        return LK_EINVAL;
    }
  }
  return 0;
}

static bool in_ranges(const am_range *r, size_t n, int v)
{
  if (!n)
    return true;
  for (size_t i = 0; i < n; i++)
    if (v >= r[i].lo && v <= r[i].hi)
      return true;
  return false;
}

static int days_in_month(int year, int mon /* 1-12 */)
{
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return d[mon - 1] + (mon == 2 && leap);
}

static bool tspec_active(const am_tspec *t, int64_t now)
{
  time_t secs = (time_t)(now / 1000);
  struct tm tm;
  if (t->local)
    localtime_r(&secs, &tm);
  else
    gmtime_r(&secs, &tm);
  int minute = tm.tm_hour * 60 + tm.tm_min, year = tm.tm_year + 1900, mon = tm.tm_mon + 1;
  bool times = !t->ntimes;
  for (size_t i = 0; i < t->ntimes; i++)
    times |= minute >= t->times[i].lo && minute < t->times[i].hi;
  bool mdays = !t->nmdays;
  int dim = days_in_month(year, mon);
  for (size_t i = 0; i < t->nmdays; i++) {
    int lo = t->mdays[i].lo < 0 ? dim + t->mdays[i].lo + 1 : t->mdays[i].lo;
    int hi = t->mdays[i].hi < 0 ? dim + t->mdays[i].hi + 1 : t->mdays[i].hi;
    mdays |= tm.tm_mday >= lo && tm.tm_mday <= hi;
  }
  return times && mdays && in_ranges(t->weekdays, t->nweekdays, tm.tm_wday) &&
         in_ranges(t->months, t->nmonths, mon) && in_ranges(t->years, t->nyears, year);
}

bool am__interval_active(const am_config *c, const char *name, int64_t now)
{
  for (size_t i = 0; i < c->nti; i++)
    if (!strcmp(c->ti[i].name, name))
      for (size_t j = 0; j < c->ti[i].n; j++)
        if (tspec_active(&c->ti[i].v[j], now))
          return true;
  return false;
}

/*---- alerting.alertmanagers (Prometheus) ----*/

static int parse_am_entry(cx *x, const lk_ynode *e)
{
  static const char *const keys[] = {"static_configs", "path_prefix", "timeout", "scheme", "api_version", NULL};
  static const char *const skeys[] = {"targets", NULL};
  const char *prefix, *scheme, *api;
  int64_t timeout = 10000;
  const lk_ynode *v;
  if (lk_ynode_check_keys(x->y, e, "alertmanager_config", keys, x->d) || opt_str(x, e, "path_prefix", &prefix) ||
      opt_str(x, e, "scheme", &scheme) || opt_str(x, e, "api_version", &api))
    return LK_EINVAL;
  if (scheme && strcmp(scheme, "http"))
    return ERR(lk_ynode_get(e, "scheme"), "scheme \"%s\" is not supported (plain http only)", scheme);
  if (api && strcmp(api, "v2"))
    return ERR(lk_ynode_get(e, "api_version"), "api_version \"%s\" is not supported (Alertmanager API v2 only)", api);
  if ((v = lk_ynode_get(e, "timeout")) && lk_ynode_duration(x->y, v, "timeout", &timeout, x->d))
    return LK_EINVAL;
  const lk_ynode *sc = lk_ynode_get(e, "static_configs");
  if (sc && seq(x, sc, "static_configs"))
    return LK_EINVAL;
  for (size_t i = 0; sc && i < lk_ynode_len(sc); i++) {
    const lk_ynode *s = lk_ynode_at(sc, i);
    char **targets = NULL;
    size_t nt = 0;
    if (lk_ynode_check_keys(x->y, s, "static_config", skeys, x->d))
      return LK_EINVAL;
    if ((v = lk_ynode_get(s, "targets")) && str_list(x, v, "targets", &targets, &nt))
      return LK_EINVAL;
    int rc = 0;
    for (size_t j = 0; j < nt; j++) {
      lk_buf url = {0};
      lk_buf_printf(&url, "http://%s%s/api/v2/alerts", targets[j], prefix ? prefix : "");
      lk_buf_putc(&url, 0);
      if (!strchr(targets[j], ':') || (rc = check_url(x, v, (const char *)url.data))) {
        lk_buf_fini(&url);
        rc = rc ? rc : ERR(v, "target \"%s\": expected host:port", targets[j]);
        break;
      }
      x->c->targets = lk_xrealloc(x->c->targets, (x->c->ntargets + 1) * sizeof *x->c->targets);
      x->c->targets[x->c->ntargets++] = (am_target){(char *)lk_buf_take(&url, NULL), timeout};
    }
    strs_free(targets, nt);
    if (rc)
      return rc;
  }
  return 0;
}

static int parse_alerting(cx *x, const lk_ynode *n)
{
  static const char *const keys[] = {"alertmanagers", NULL};
  if (lk_ynode_kind(n) == LK_YNULL)
    return 0;
  if (lk_ynode_check_keys(x->y, n, "alerting", keys, x->d))
    return LK_EINVAL;
  const lk_ynode *ams = lk_ynode_get(n, "alertmanagers");
  if (ams && seq(x, ams, "alertmanagers"))
    return LK_EINVAL;
  for (size_t i = 0; ams && i < lk_ynode_len(ams); i++)
    if (parse_am_entry(x, lk_ynode_at(ams, i)))
      return LK_EINVAL;
  return 0;
}

/*---- the whole ----*/

static int parse_doc(cx *x, const lk_ynode *root)
{
  const lk_ynode *v;
  if ((v = lk_ynode_get(root, "global")) && (v = lk_ynode_get(v, "resolve_timeout")) &&
      lk_ynode_duration(x->y, v, "global.resolve_timeout", &x->c->resolve_timeout_ms, x->d))
    return LK_EINVAL;
  const char *tsec[2] = {"time_intervals", "mute_time_intervals"};
  for (int i = 0; i < 2; i++)
    if ((v = lk_ynode_get(root, tsec[i])) && parse_intervals(x, v, tsec[i]))
      return LK_EINVAL;
  if (parse_receivers(x, lk_ynode_get(root, "receivers")))
    return LK_EINVAL;
  const lk_ynode *route = lk_ynode_get(root, "route");
  if (!route && !am__receiver(x->c, "default"))
    x->c->recv[x->c->nrecv++].name = lk_xstrdup("default"); /* room was reserved */
  x->c->root.group_wait_ms = 30000;
  x->c->root.group_interval_ms = 300000;
  x->c->root.repeat_interval_ms = 4 * 3600000;
  if (parse_root_route(x, route) || parse_inhibit(x, lk_ynode_get(root, "inhibit_rules")))
    return LK_EINVAL;
  if ((v = lk_ynode_get(root, "alerting")) && parse_alerting(x, v))
    return LK_EINVAL;
  return 0;
}

int am__config_load(const char *path, am_config *c, lk_diag *d)
{
  memset(c, 0, sizeof *c);
  c->resolve_timeout_ms = 300000;
  cx x = {NULL, c, d};
  lk_yaml *y = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = 0;
  if (path) {
    rc = lk_yaml_load(path, &y, d);
    if (!rc)
      rc = lk_read_file(path, 16u << 20, &text, &len, d);
  }
  x.y = y;
  const lk_ynode *root = y && lk_yaml_ndocs(y) ? lk_yaml_doc(y, 0) : NULL;
  if (!rc && root && lk_ynode_kind(root) != LK_YMAP && lk_ynode_kind(root) != LK_YNULL)
    rc = lk_yaml_err(y, root, d, LK_EINVAL, "expected a mapping at the top of the file");
  if (!rc)
    rc = parse_doc(&x, root && lk_ynode_kind(root) == LK_YMAP ? root : NULL);
  c->original = lk_config_mask_secrets(text ? text : "");
  free(text);
  lk_yaml_free(y);
  if (rc)
    am__config_free(c);
  return rc;
}

static void route_free(am_route *r)
{
  free(r->receiver);
  strs_free(r->group_by, r->ngroup_by);
  am__matchers_free(&r->matchers);
  strs_free(r->mute, r->nmute);
  strs_free(r->active, r->nactive);
  for (size_t i = 0; i < r->nkids; i++)
    route_free(&r->kids[i]);
  free(r->kids);
  free(r->key);
}

void am__config_free(am_config *c)
{
  route_free(&c->root);
  for (size_t i = 0; i < c->nrecv; i++) {
    for (size_t j = 0; j < c->recv[i].nhooks; j++) {
      free(c->recv[i].hooks[j].url);
      free(c->recv[i].hooks[j].authorization);
    }
    free(c->recv[i].hooks);
    free(c->recv[i].name);
  }
  free(c->recv);
  for (size_t i = 0; i < c->ninh; i++) {
    am__matchers_free(&c->inh[i].src);
    am__matchers_free(&c->inh[i].tgt);
    strs_free(c->inh[i].equal, c->inh[i].nequal);
  }
  free(c->inh);
  for (size_t i = 0; i < c->nti; i++) {
    for (size_t j = 0; j < c->ti[i].n; j++) {
      am_tspec *t = &c->ti[i].v[j];
      free(t->times);
      free(t->weekdays);
      free(t->mdays);
      free(t->months);
      free(t->years);
    }
    free(c->ti[i].v);
    free(c->ti[i].name);
  }
  free(c->ti);
  for (size_t i = 0; i < c->ntargets; i++)
    free(c->targets[i].url);
  free(c->targets);
  free(c->original);
  memset(c, 0, sizeof *c);
}

const am_receiver *am__receiver(const am_config *c, const char *name)
{
  for (size_t i = 0; name && i < c->nrecv; i++)
    if (!strcmp(c->recv[i].name, name))
      return &c->recv[i];
  return NULL;
}
