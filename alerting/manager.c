/* manager.c — the rule engine running inside `lookout server` / `lookout up`:
 * rule files from globs, one scheduler thread evaluating every group at its
 * interval, reload (POST /-/reload, SIGHUP) that keeps the old rules on any
 * error, alerts handed to a list of receivers, alert history to the log
 * store (history.c), and Lookout's own metrics scraped into an in-memory
 * store before the built-in health group runs over it (selfmon.c).
 *
 * Scheduling follows Prometheus: a group with interval I is evaluated at the
 * times t ≡ offset (mod I), offset a hash of (file, name), so restarts keep
 * the same ticks and groups spread over the interval. An evaluation gets its
 * tick as `now`; when it overruns, the ticks it covered are skipped and
 * counted as missed. All groups share the one thread, evaluated in tick
 * order (a slow group delays the others; its overrun shows as missed ticks).
 *
 * Locks (owner: the manager). Order: reload_mu → eval_mu → rules_lock → mu.
 * - reload_mu serialises reloads;
 * - eval_mu is held by the scheduler for one group evaluation and by a reload
 *   while it swaps rule sets, so a group is never evaluated mid-swap;
 * - rules_lock (rwlock) guards the rules pointer: HTTP readers hold it for
 *   reading (alerting_manager_acquire), a reload writes it to swap;
 * - mu (leaf) guards the schedule, the counters and the stop flag.
 */
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "alerting/alerting.h"
#include "alerting/manager_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_expo.h"
#include "lib/lk_fs.h"
#include "lib/lk_hash.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define MAX_RECEIVERS 16

typedef struct receiver {
  alerting_send_fn fn;
  void *ctx;
} receiver;

/* Per group of the current rule set (index = group index). */
typedef struct sched {
  int64_t next_ms;         /* next tick */
  uint64_t evals, missed, failures;
  int64_t last_ns;         /* duration of the last evaluation */
} sched;

struct alerting_manager {
  alerting_manager_opts o;   /* strings and arrays below are owned copies */
  char **globs;
  size_t nglobs;
  char *base_dir, *builtin_path, *data_dir, *external_url, *self_instance;
  lk_label *ext;             /* external labels, sorted, owned */
  size_t next;
  alerting_env env;
  alerting__selfmon *selfmon; /* the built-in group's data (selfmon.c) */
  alerting_env self_env;      /* env with selfmon's store for reads and writes */
  receiver recv[MAX_RECEIVERS];
  size_t nrecv;
  alerting_metrics_fn self_fn;
  void *self_ctx;

  pthread_mutex_t reload_mu, eval_mu, mu;
  pthread_rwlock_t rules_lock;
  pthread_cond_t wake;
  promql_queryable queryable;
  alerting_rules *rules;
  sched *sch;                /* rules->n entries */
  uint64_t gen;              /* bumped by every swap */
  uint64_t reloads, reload_failures;
  int64_t last_reload_ok_ms;
  bool stop, started;
  pthread_t thread;
};

/*---- files ----*/

static bool has_glob_chars(const char *s) { return strpbrk(s, "*?[") != NULL; }

static void add_file(char ***v, size_t *n, const char *path)
{
  for (size_t i = 0; i < *n; i++)
    if (!strcmp((*v)[i], path))
      return;
  *v = lk_xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = lk_xstrdup(path);
}

static void free_files(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The built-in file first, then every glob in order (each glob's matches
 * sorted, as Prometheus does). A glob matching nothing is fine; a plain
 * path that does not exist is an error (a typo should not pass silently). */
static int expand(alerting_manager *m, char ***out, size_t *nout, lk_diag *d)
{
  char **v = NULL;
  size_t n = 0;
  if (m->builtin_path)
    add_file(&v, &n, m->builtin_path);
  for (size_t i = 0; i < m->nglobs; i++) {
    char pat[4096];
    const char *g = m->globs[i];
    if (g[0] != '/' && m->base_dir)
      snprintf(pat, sizeof pat, "%s/%s", m->base_dir, g);
    else
      snprintf(pat, sizeof pat, "%s", g);
    glob_t gl;
    int rc = glob(pat, GLOB_ERR, NULL, &gl);
    if (rc == GLOB_NOMATCH && !has_glob_chars(g)) {
      free_files(v, n);
      return lk_diag_set(d, LK_ENOENT, -1, "rule_files: %s: no such file", pat);
    }
    if (rc && rc != GLOB_NOMATCH) {
      free_files(v, n);
      return lk_diag_set(d, LK_EIO, -1, "rule_files: cannot expand %s", pat);
    }
    for (size_t k = 0; !rc && k < gl.gl_pathc; k++)
      add_file(&v, &n, gl.gl_pathv[k]);
    globfree(&gl);
  }
  *out = v;
  *nout = n;
  return 0;
}

static int load(alerting_manager *m, bool restore, alerting_rules **out, lk_diag *d)
{
  char **files = NULL;
  size_t n = 0;
  int rc = expand(m, &files, &n, d);
  if (rc)
    return rc;
  alerting_load_opts lo = {.default_interval_ms = m->o.default_interval_ms, .restore = restore};
  rc = alerting_rules_load((const char *const *)files, n, &lo, out, d);
  free_files(files, n);
  return rc;
}

/*---- schedule ----*/

static int64_t group_offset(const alerting_group_info *gi)
{
  char key[1024];
  int n = snprintf(key, sizeof key, "%s;%s", gi->file, gi->name);
  uint64_t h = lk_hash64(key, n > 0 ? (size_t)n : 0, 0);
  return gi->interval_ms > 0 ? (int64_t)(h % (uint64_t)gi->interval_ms) : 0;
}

/* The first tick strictly after `after`. */
static int64_t next_tick(const alerting_group_info *gi, int64_t after)
{
  int64_t iv = gi->interval_ms > 0 ? gi->interval_ms : 60000;
  int64_t off = group_offset(gi);
  int64_t k = (after - off) / iv;
  int64_t t = k * iv + off;
  while (t <= after)
    t += iv;
  return t;
}

/* A fresh schedule for rs (caller holds mu or owns m alone). */
static sched *new_schedule(const alerting_rules *rs, int64_t now)
{
  size_t n = alerting_rules_ngroups(rs);
  sched *s = lk_xcalloc(n ? n : 1, sizeof *s);
  for (size_t i = 0; i < n; i++) {
    alerting_group_info gi;
    alerting_group_get(alerting_rules_group(rs, i), &gi);
    s[i].next_ms = next_tick(&gi, now);
  }
  return s;
}

/*---- receivers ----*/

static void fan_out(void *ctx, const alerting_alert *alerts, size_t n, int64_t now_ms)
{
  alerting_manager *m = ctx;
  for (size_t i = 0; i < m->nrecv; i++)
    m->recv[i].fn(m->recv[i].ctx, alerts, n, now_ms);
}

void alerting_manager_add_receiver(alerting_manager *m, alerting_send_fn fn, void *ctx)
{
  if (m->started || m->nrecv == MAX_RECEIVERS) {
    lk_error("alerting: receiver not added (%s)", m->started ? "manager already started" : "too many receivers");
    return;
  }
  m->recv[m->nrecv++] = (receiver){fn, ctx};
}

/*---- own metrics ----*/

static bool is_builtin(const alerting_manager *m, const alerting_group_info *gi)
{
  return m->builtin_path && !strcmp(gi->file, m->builtin_path);
}

/* Lookout's own metrics into the built-in group's store, at t. */
static void self_scrape(alerting_manager *m, int64_t t)
{
  lk_buf page = {0};
  if (m->self_fn)
    m->self_fn(m->self_ctx, &page);
  else
    alerting_manager_metrics(m, &page);
  alerting__selfmon_scrape(m->selfmon, &page, t);
  lk_buf_fini(&page);
}

static void family(lk_buf *b, const char *name, int type, const char *help)
{
  lk_expo_write_help(b, name, help);
  lk_expo_write_type(b, name, type);
}

static void group_line(lk_buf *b, const char *name, const alerting_group_info *gi, double v)
{
  char key[1200];
  snprintf(key, sizeof key, "%s;%s", gi->file, gi->name);
  lk_label l = {"rule_group", key};
  lk_expo_write_sample(b, name, &l, 1, v, 0, 0);
}

static void render_groups(alerting_manager *m, lk_buf *b)
{
  static const struct { const char *name; int type; const char *help; } fam[] = {
    {"lookout_rule_evaluations_total", LK_EXPO_COUNTER, "Evaluations of the rule group."},
    {"lookout_rule_evaluation_failures_total", LK_EXPO_COUNTER, "Rule evaluations that ended in an error."},
    {"lookout_rule_group_iterations_missed_total", LK_EXPO_COUNTER,
     "Ticks skipped because the previous evaluation overran the interval."},
    {"lookout_rule_group_last_duration_seconds", LK_EXPO_GAUGE, "How long the last evaluation of the group took."},
    {"lookout_rule_group_interval_seconds", LK_EXPO_GAUGE, "The group's evaluation interval."},
  };
  alerting_rules *rs = alerting_manager_acquire(m);
  size_t n = alerting_rules_ngroups(rs);
  for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
    family(b, fam[f].name, fam[f].type, fam[f].help);
    for (size_t i = 0; i < n; i++) {
      alerting_group_info gi;
      alerting_group *g = alerting_rules_group(rs, i);
      alerting_group_lock(g); /* the scheduler updates its state */
      alerting_group_get(g, &gi);
      alerting_group_unlock(g);
      pthread_mutex_lock(&m->mu);
      sched s = m->sch[i];
      pthread_mutex_unlock(&m->mu);
      double v[] = {(double)s.evals, (double)s.failures, (double)s.missed, (double)s.last_ns / 1e9,
                    (double)gi.interval_ms / 1e3};
      group_line(b, fam[f].name, &gi, v[f]);
    }
  }
  alerting_manager_release(m);
}

void alerting_manager_metrics(alerting_manager *m, lk_buf *b)
{
  render_groups(m, b);
  pthread_mutex_lock(&m->mu);
  double reloads = (double)m->reloads, failed = (double)m->reload_failures;
  double last_ok = (double)m->last_reload_ok_ms / 1e3;
  pthread_mutex_unlock(&m->mu);
  family(b, "lookout_rule_reloads_total", LK_EXPO_COUNTER, "Rule reloads asked for (POST /-/reload, SIGHUP).");
  lk_expo_write_sample(b, "lookout_rule_reloads_total", NULL, 0, reloads, 0, 0);
  family(b, "lookout_rule_reload_failures_total", LK_EXPO_COUNTER, "Rule reloads refused (the old rules kept running).");
  lk_expo_write_sample(b, "lookout_rule_reload_failures_total", NULL, 0, failed, 0, 0);
  family(b, "lookout_rule_last_reload_success_timestamp_seconds", LK_EXPO_GAUGE, "When the rules last loaded.");
  lk_expo_write_sample(b, "lookout_rule_last_reload_success_timestamp_seconds", NULL, 0, last_ok, 0, 0);
  struct statvfs fs;
  if (m->data_dir && !statvfs(m->data_dir, &fs)) {
    family(b, "lookout_data_filesystem_avail_bytes", LK_EXPO_GAUGE,
           "Bytes available to Lookout on the filesystem holding its data directory.");
    lk_expo_write_sample(b, "lookout_data_filesystem_avail_bytes", NULL, 0,
                         (double)fs.f_bavail * (double)fs.f_frsize, 0, 0);
    family(b, "lookout_data_filesystem_size_bytes", LK_EXPO_GAUGE, "Size of the filesystem holding the data directory.");
    lk_expo_write_sample(b, "lookout_data_filesystem_size_bytes", NULL, 0,
                         (double)fs.f_blocks * (double)fs.f_frsize, 0, 0);
  }
}

/*---- scheduler ----*/

static bool group_failed(const alerting_group *g, size_t nrules)
{
  for (size_t r = 0; r < nrules; r++) {
    alerting_rule_info ri;
    alerting_group_rule(g, r, &ri);
    if (ri.health == ALERTING_HEALTH_ERR)
      return true;
  }
  return false;
}

/* Evaluate group i of generation gen at tick t, unless a reload came first.
 * Returns the evaluation's duration, or -1 when skipped. */
static int64_t eval_one(alerting_manager *m, uint64_t gen, size_t i, int64_t t, bool *failed)
{
  pthread_mutex_lock(&m->eval_mu);
  pthread_mutex_lock(&m->mu);
  bool same = gen == m->gen;
  pthread_mutex_unlock(&m->mu);
  int64_t took = -1;
  if (same) {
    alerting_group *g = alerting_rules_group(m->rules, i);
    alerting_group_info gi;
    alerting_group_get(g, &gi);
    int64_t t0 = lk_mono_ns();
    bool own = is_builtin(m, &gi);
    if (own)
      self_scrape(m, t);
    alerting_group_eval(g, own ? &m->self_env : &m->env, t);
    took = lk_mono_ns() - t0;
    if (m->o.logs)
      alerting__history_keep_firing(m->o.logs, g, t);
    alerting_group_lock(g);
    *failed = group_failed(g, gi.nrules);
    alerting_group_unlock(g);
  }
  pthread_mutex_unlock(&m->eval_mu);
  return took;
}

/* Under mu: the group with the earliest tick, or SIZE_MAX. */
static size_t earliest(const alerting_manager *m, size_t n)
{
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < n; i++)
    if (best == SIZE_MAX || m->sch[i].next_ms < m->sch[best].next_ms)
      best = i;
  return best;
}

static void wait_until(alerting_manager *m, int64_t wall_ms)
{
  int64_t now = lk_now_ms();
  int64_t wait = wall_ms - now;
  if (wait > 1000)
    wait = 1000; /* re-read the clock at least every second (clock steps) */
  struct timespec ts = lk_deadline(CLOCK_REALTIME, wait);
  pthread_cond_timedwait(&m->wake, &m->mu, &ts);
}

static void *scheduler(void *arg)
{
  alerting_manager *m = arg;
  pthread_mutex_lock(&m->mu);
  while (!m->stop) {
    size_t n = alerting_rules_ngroups(m->rules);
    size_t i = earliest(m, n);
    int64_t now = lk_now_ms();
    if (i == SIZE_MAX || m->sch[i].next_ms > now) {
      wait_until(m, i == SIZE_MAX ? now + 1000 : m->sch[i].next_ms);
      continue;
    }
    uint64_t gen = m->gen;
    int64_t t = m->sch[i].next_ms;
    pthread_mutex_unlock(&m->mu);
    bool failed = false;
    int64_t took = eval_one(m, gen, i, t, &failed);
    pthread_mutex_lock(&m->mu);
    if (took < 0 || gen != m->gen)
      continue;
    alerting_group_info gi;
    alerting_group_get(alerting_rules_group(m->rules, i), &gi);
    sched *s = &m->sch[i];
    s->evals++;
    s->failures += failed;
    s->last_ns = took;
    s->next_ms = next_tick(&gi, t);
    int64_t after = lk_now_ms();
    if (s->next_ms <= after) {
      int64_t skip_to = next_tick(&gi, after);
      s->missed += (uint64_t)((skip_to - s->next_ms) / (gi.interval_ms > 0 ? gi.interval_ms : 60000));
      lk_warn("alerting: group %s (%s) took %lld ms, longer than its interval: %llu evaluations missed",
              gi.name, gi.file, (long long)(took / 1000000), (unsigned long long)s->missed);
      s->next_ms = skip_to;
    }
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/*---- life cycle ----*/

static char *dup_or_null(const char *s) { return s ? lk_xstrdup(s) : NULL; }

static int write_builtin(const char *path, lk_diag *d)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    if (lk_mkdir_p(dir))
      return lk_diag_set(d, LK_EIO, -1, "cannot create %s: %s", dir, strerror(errno));
  }
  const char *text = alerting_builtin_rules();
  return lk_write_file_atomic(path, text, strlen(text), d);
}

static void set_globs(alerting_manager *m, const char *const *globs, size_t n)
{
  char **v = lk_xcalloc(n ? n : 1, sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = lk_xstrdup(globs[i]);
  free_files(m->globs, m->nglobs);
  m->globs = v;
  m->nglobs = n;
}

void alerting_manager_set_files(alerting_manager *m, const char *const *globs, size_t nglobs,
                                int64_t default_interval_ms)
{
  set_globs(m, globs, nglobs);
  m->o.default_interval_ms = default_interval_ms;
}

static void copy_opts(alerting_manager *m, const alerting_manager_opts *o)
{
  m->o = *o;
  set_globs(m, o->globs, o->nglobs);
  m->base_dir = dup_or_null(o->base_dir);
  m->builtin_path = dup_or_null(o->builtin_path);
  m->data_dir = dup_or_null(o->data_dir);
  m->external_url = lk_xstrdup(o->external_url ? o->external_url : "");
  m->self_instance = lk_xstrdup(o->self_instance ? o->self_instance : "lookout");
  m->ext = lk_xcalloc(o->nexternal_labels ? o->nexternal_labels : 1, sizeof *m->ext);
  for (size_t i = 0; i < o->nexternal_labels; i++)
    m->ext[i] = (lk_label){lk_xstrdup(o->external_labels[i].name), lk_xstrdup(o->external_labels[i].value)};
  m->next = o->nexternal_labels;
  lk_labels_sort(m->ext, m->next);
}

static void free_manager(alerting_manager *m)
{
  alerting_rules_free(m->rules);
  alerting__selfmon_free(m->selfmon);
  free(m->sch);
  free_files(m->globs, m->nglobs);
  free(m->base_dir);
  free(m->builtin_path);
  free(m->data_dir);
  free(m->external_url);
  free(m->self_instance);
  for (size_t i = 0; i < m->next; i++) {
    free((char *)m->ext[i].name);
    free((char *)m->ext[i].value);
  }
  free(m->ext);
  pthread_mutex_destroy(&m->reload_mu);
  pthread_mutex_destroy(&m->eval_mu);
  pthread_mutex_destroy(&m->mu);
  pthread_rwlock_destroy(&m->rules_lock);
  pthread_cond_destroy(&m->wake);
  free(m);
}

int alerting_manager_open(const alerting_manager_opts *o, alerting_manager **out, lk_diag *d)
{
  if (!o->db)
    return lk_diag_set(d, LK_EINVAL, -1, "alerting: no storage");
  alerting_manager *m = lk_xcalloc(1, sizeof *m);
  copy_opts(m, o);
  pthread_mutex_init(&m->reload_mu, NULL);
  pthread_mutex_init(&m->eval_mu, NULL);
  pthread_mutex_init(&m->mu, NULL);
  pthread_rwlock_init(&m->rules_lock, NULL);
  pthread_cond_init(&m->wake, NULL);
  m->env = (alerting_env){
    .q = &m->queryable,
    .logs = o->logs,
    .app = alerting_appender_tsdb(o->db),
    .external_url = m->external_url,
    .external_labels = m->ext,
    .nexternal_labels = m->next,
    .send = fan_out,
    .send_ctx = m,
    .on_change = o->logs ? alerting__history_change : NULL,
    .change_ctx = o->logs,
  };
  m->queryable = promql_queryable_tsdb(o->db);
  m->selfmon = alerting__selfmon_new(o->db, m->self_instance);
  alerting__selfmon_env(m->selfmon, &m->env, &m->self_env);
  int rc = m->builtin_path ? write_builtin(m->builtin_path, d) : 0;
  if (!rc)
    rc = load(m, true, &m->rules, d);
  if (rc) {
    free_manager(m);
    return rc;
  }
  m->sch = new_schedule(m->rules, lk_now_ms());
  m->last_reload_ok_ms = lk_now_ms();
  *out = m;
  return 0;
}

int alerting_manager_start(alerting_manager *m, alerting_metrics_fn self, void *self_ctx, lk_diag *d)
{
  m->self_fn = self;
  m->self_ctx = self_ctx;
  pthread_mutex_lock(&m->reload_mu); /* HTTP already serves: no reload swaps the rules meanwhile */
  alerting_rules *rs = m->rules;
  size_t nr = 0, ng = alerting_rules_ngroups(rs);
  for (size_t i = 0; i < ng; i++) {
    alerting_group_info gi;
    alerting_group_get(alerting_rules_group(rs, i), &gi); /* before the scheduler runs */
    nr += gi.nrules;
  }
  int rc = pthread_create(&m->thread, NULL, scheduler, m);
  m->started = !rc;
  pthread_mutex_unlock(&m->reload_mu);
  if (rc)
    return lk_diag_set(d, LK_EIO, -1, "alerting: cannot start the rule scheduler: %s", strerror(rc));
  lk_info("alerting: evaluating %zu rules in %zu groups", nr, ng);
  return 0;
}

static bool same_group(const alerting_group_info *a, const alerting_group_info *b)
{
  return !strcmp(a->file, b->file) && !strcmp(a->name, b->name);
}

/* Groups of prev that next no longer has: their series go stale now. */
static void stale_removed(alerting_manager *m, alerting_rules *prev, alerting_rules *next)
{
  int64_t now = lk_now_ms();
  for (size_t i = 0; i < alerting_rules_ngroups(prev); i++) {
    alerting_group_info a;
    alerting_group_get(alerting_rules_group(prev, i), &a);
    bool kept = false;
    for (size_t j = 0; !kept && j < alerting_rules_ngroups(next); j++) {
      alerting_group_info b;
      alerting_group_get(alerting_rules_group(next, j), &b);
      kept = same_group(&a, &b);
    }
    if (!kept)
      alerting_group_mark_stale(alerting_rules_group(prev, i), &m->env, now);
  }
}

int alerting_manager_reload(alerting_manager *m, lk_diag *d)
{
  pthread_mutex_lock(&m->reload_mu);
  alerting_rules *next = NULL;
  int rc = m->o.reconfig ? m->o.reconfig(m->o.reconfig_ctx, m, d) : 0;
  if (!rc)
    rc = load(m, false, &next, d);
  pthread_mutex_lock(&m->mu);
  m->reloads++;
  m->reload_failures += rc != 0;
  pthread_mutex_unlock(&m->mu);
  if (rc) {
    lk_error("alerting: reload refused, the previous rules keep running: %s", d->msg);
    pthread_mutex_unlock(&m->reload_mu);
    return rc;
  }
  pthread_mutex_lock(&m->eval_mu);
  alerting_rules *prev = m->rules;
  alerting_rules_carry_state(next, prev);
  stale_removed(m, prev, next);
  sched *s = new_schedule(next, lk_now_ms());
  pthread_rwlock_wrlock(&m->rules_lock);
  pthread_mutex_lock(&m->mu);
  m->rules = next;
  free(m->sch);
  m->sch = s;
  m->gen++;
  m->last_reload_ok_ms = lk_now_ms();
  pthread_cond_signal(&m->wake);
  pthread_mutex_unlock(&m->mu);
  pthread_rwlock_unlock(&m->rules_lock);
  pthread_mutex_unlock(&m->eval_mu);
  alerting_rules_free(prev);
  lk_info("alerting: rules reloaded: %zu groups", alerting_rules_ngroups(next));
  pthread_mutex_unlock(&m->reload_mu);
  return 0;
}

alerting_rules *alerting_manager_acquire(alerting_manager *m)
{
  pthread_rwlock_rdlock(&m->rules_lock);
  return m->rules;
}

void alerting_manager_release(alerting_manager *m) { pthread_rwlock_unlock(&m->rules_lock); }

void alerting_manager_stop(alerting_manager *m)
{
  if (!m || !m->started)
    return;
  pthread_mutex_lock(&m->mu);
  m->stop = true;
  pthread_cond_signal(&m->wake);
  pthread_mutex_unlock(&m->mu);
  pthread_join(m->thread, NULL);
  m->started = false;
}

void alerting_manager_close(alerting_manager *m)
{
  if (!m)
    return;
  alerting_manager_stop(m);
  free_manager(m);
}
