/* cmd_server.c — `lookout server` (and the server part of `lookout up`):
 * parse flags, load the config, open storage and the alert notifier (the
 * in-process Alertmanager, configured from the same file), serve HTTP until
 * SIGINT or SIGTERM, then stop cleanly (HTTP first, so no request is
 * mid-append when storage or the notifier closes).
 *
 * Signals: SIGINT/SIGTERM/SIGHUP are blocked before any thread starts
 * (threads inherit the mask) and collected with sigwait on the main thread,
 * so no handler runs concurrently with anything. SIGHUP reloads the rule
 * files (as POST /-/reload does). SIGPIPE is ignored.
 *
 * Rules: the rule manager (alerting/manager.c) loads rule_files (globs
 * relative to the config file's directory) and the built-in health rules
 * before the HTTP server starts (a bad file stops the start with
 * file:line), and its scheduler starts once HTTP serves, because it
 * self-scrapes the /metrics page. A reload (SIGHUP, POST /-/reload) re-reads
 * rule_files and evaluation_interval from the config file, then the rule
 * files. Shutdown stops the scheduler first.
 *
 * The bearer tokens live in auth.token_file (default <data>/token; scoped,
 * one a line, re-read when it changes: lib/lk_token.h); a missing file is
 * created with one random admin token on first start, so endpoints that need
 * a token (writes from beyond loopback, orchestrator actions) are protected
 * from the first run on.
 *
 * Memory: every query evaluates in its own arena of a few MiB, on its own
 * connection thread. With glibc's defaults the thread's malloc arena hands
 * that memory back to the kernel after each query and faults it in again
 * on the next, which cost more than the evaluation itself (a 24 h dashboard
 * query took 19 ms instead of 8 ms on a 2-vCPU VM), so the server keeps
 * freed memory up to a bound for the next query (tune_malloc). The bound
 * holds per arena, so the arenas are few; free pages inside the heaps,
 * which no threshold returns, go back once a minute (wait_for_stop). With
 * glibc's 8 arenas per CPU and a 16 MiB bound a soak of `lookout up` grew
 * 16 -> 80 MiB in 10 min while ~10 MB were in use.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alerting.h"
#include "lib/lk_alloc.h"
#include "lib/lk_config.h"
#include "lib/lk_fs.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "main/agent.h"
#include "main/cmd.h"
#include "main/logs_local.h"
#include "main/pod_flows.h"
#include "main/serve.h"
#include "orchestrator/orchestrator.h"
#include "promql/promql.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

typedef struct serve_flags {
  const char *config, *data, *listen, *ui_dir;
} serve_flags;

static void usage(FILE *f, const char *cmd, const char *extra)
{
  fprintf(f,
          "usage: lookout %s [--config FILE] [--data DIR] [--listen ADDR] [--ui-dir DIR]\n\n"
          "%s\n"
          "  --config FILE   YAML config file (see README \"Configuration\")\n"
          "  --data DIR      data directory (config key `data`, default ./data)\n"
          "  --listen ADDR   HTTP listen address host:port (config key `listen`,\n"
          "                  default 127.0.0.1:9470)\n"
          "  --ui-dir DIR    serve the dashboard from DIR (web/ui: node build.mjs --out DIR)\n"
          "                  instead of the one built into the binary\n"
          "\nStops cleanly on SIGINT or SIGTERM.\n",
          cmd, extra);
}

/* 0 ok, 1 = --help shown, -1 = usage error (printed). */
static int parse_flags(const char *cmd, int argc, char **argv, serve_flags *f, const char *extra)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout, cmd, extra);
      return 1;
    }
    const struct { const char *name; const char **slot; } flags[] = {
      {"--config", &f->config}, {"--data", &f->data}, {"--listen", &f->listen}, {"--ui-dir", &f->ui_dir}};
    const char **slot = NULL;
    const char *eq = strchr(a, '=');
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
      if (strlen(flags[k].name) == nl && !strncmp(a, flags[k].name, nl))
        slot = flags[k].slot;
    if (!slot) {
      fprintf(stderr, "lookout %s: unknown flag \"%s\" (try lookout %s --help)\n", cmd, a, cmd);
      return -1;
    }
    if (eq) {
      *slot = eq + 1;
    } else if (i + 1 < argc) {
      *slot = argv[++i];
    } else {
      fprintf(stderr, "lookout %s: flag %s needs a value\n", cmd, a);
      return -1;
    }
  }
  return 0;
}

/* Create the token file with one random admin token when it is missing
 * (the server then reads it: lk_http_opts.token_file). */
static int ensure_token_file(const char *path)
{
  if (!access(path, F_OK))
    return 0;
  unsigned char rnd[24];
  char hex[2 * sizeof rnd + 8];
  if (errno != ENOENT || getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    return -1;
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf(hex + 2 * i, sizeof hex - 2 * i, "%02x", rnd[i]);
  strcat(hex, "\n"); /* a bare token is admin; the file stays usable as the token itself */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return -1;
  size_t n = strlen(hex);
  int ok = write(fd, hex, n) == (ssize_t)n;
  close(fd);
  if (ok)
    lk_info("created bearer token file %s", path);
  return ok ? 0 : -1;
}

/* Whole small file (certificates, keys) as a NUL-terminated string. */
static char *read_small_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  int bad = ferror(f) || !feof(f) || n == 0;
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  return buf;
}

static enum tsdb_fsync fsync_mode(const char *s)
{
  return !strcmp(s, "batch") ? TSDB_FSYNC_BATCH : !strcmp(s, "never") ? TSDB_FSYNC_NEVER : TSDB_FSYNC_INTERVAL;
}

static int open_storage(const lk_config *c, unsigned reader, lk_crashpoint *crash, tsdb **db)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/tsdb", c->data);
  tsdb_opts o = {
    .dir = dir,
    .block_range_ms = lk_config_block_range(c, reader),
    .retention_ms = c->storage.retention_ms,
    .rollup_retention_ms = c->storage.rollup_retention_ms,
    .retention_bytes = c->storage.retention_size,
    .ooo_window_ms = c->storage.ooo_window_ms,
    .sample_cache_bytes = c->storage.query_cache_size ? (int64_t)c->storage.query_cache_size : -1,
    .fsync = fsync_mode(c->storage.fsync),
    .max_labels = (uint32_t)c->limits.max_labels,
    .max_name_len = (uint32_t)c->limits.max_label_name_length,
    .max_value_len = (uint32_t)c->limits.max_label_value_length,
    .max_series = c->limits.max_series,
    .crash = crash,
  };
  lk_diag d = {0};
  int64_t t0 = lk_mono_ns();
  if (tsdb_open(&o, db, &d)) {
    lk_error("cannot open storage in %s: %s", dir, d.set ? d.msg : "unknown error");
    return -1;
  }
  lk_info("storage open dir=%s block_range_ms=%lld took_ms=%lld", dir, (long long)o.block_range_ms,
          (long long)((lk_mono_ns() - t0) / 1000000));
  return 0;
}

/* The directory of the config file (relative rule_files resolve there,
 * as in Prometheus); NULL without a config file. */
static char *config_dir(const lk_config *c)
{
  if (!c->path)
    return NULL;
  const char *slash = strrchr(c->path, '/');
  if (!slash)
    return lk_xstrdup(".");
  return lk_xstrndup(c->path, slash == c->path ? 1 : (size_t)(slash - c->path));
}

/* A reload re-reads the config file for rule_files and evaluation_interval
 * (the other keys take a restart); a broken config refuses the reload. */
typedef struct config_src {
  const char *path; /* NULL: no config file */
  unsigned reader;  /* LK_CONFIG_SERVER or LK_CONFIG_UP */
} config_src;

static int reread_rule_keys(void *ctx, alerting_manager *m, lk_diag *d)
{
  const config_src *src = ctx;
  if (!src->path)
    return 0;
  lk_config fresh;
  lk_config_init(&fresh);
  int rc = lk_config_load(&fresh, src->path, src->reader, d);
  if (!rc)
    alerting_manager_set_files(m, (const char *const *)fresh.rule_files.v, fresh.rule_files.n,
                               fresh.evaluation_interval_ms);
  lk_config_fini(&fresh);
  return rc;
}

/* external_url's default: http(s)://<listen>, with the host name in place
 * of a wildcard address (as Prometheus uses its host name). */
static void default_url(const lk_config *c, char *url, size_t sz)
{
  const char *colon = strrchr(c->listen, ':');
  size_t hl = (size_t)(colon - c->listen);
  char host[256] = "";
  bool wildcard = !hl || (hl == 7 && !strncmp(c->listen, "0.0.0.0", 7)) || (hl == 4 && !strncmp(c->listen, "[::]", 4));
  if (!wildcard || gethostname(host, sizeof host - 1))
    snprintf(host, sizeof host, "%.*s", (int)hl, c->listen);
  snprintf(url, sz, "%s://%s%s", c->tls.cert_file ? "https" : "http", host, colon);
}

static alerting_manager *open_rules(const lk_config *c, const config_src *src, tsdb *db, logstore *logs)
{
  char builtin[4096], url[600];
  snprintf(builtin, sizeof builtin, "%s/rules/lookout-builtin.rules.yml", c->data);
  default_url(c, url, sizeof url);
  char *dir = config_dir(c);
  alerting_manager_opts o = {
    .globs = (const char *const *)c->rule_files.v,
    .nglobs = c->rule_files.n,
    .base_dir = dir,
    .builtin_path = c->builtin_rules ? builtin : NULL,
    .data_dir = c->data,
    .default_interval_ms = c->evaluation_interval_ms,
    .external_labels = c->global.external_labels,
    .nexternal_labels = c->global.nexternal_labels,
    .external_url = c->external_url ? c->external_url : url,
    .self_instance = c->listen,
    .db = db,
    .logs = logs,
    .reconfig = reread_rule_keys,
    .reconfig_ctx = (void *)src,
  };
  alerting_manager *m = NULL;
  lk_diag d = {0};
  if (alerting_manager_open(&o, &m, &d))
    lk_error("cannot load the rules: %s", d.msg);
  free(dir);
  return m;
}

static void self_page(void *ctx, lk_buf *out) { web_metrics_page(ctx, out); }

/* How often the main thread hands free malloc memory back (tune_malloc). */
#define TRIM_EVERY_S 60

/* Wait for SIGINT/SIGTERM; SIGHUP reloads the rules meanwhile, and every
 * TRIM_EVERY_S the free pages inside malloc's heaps go back to the system
 * (a burst of requests leaves them behind; no threshold returns them). */
static void wait_for_stop(alerting_manager *rules)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  const struct timespec trim_every = {TRIM_EVERY_S, 0};
  for (;;) {
    int sig = sigtimedwait(&set, NULL, &trim_every);
    if (sig < 0) {
      malloc_trim(0); /* EAGAIN (the period passed) or EINTR */
      continue;
    }
    if (sig != SIGHUP) {
      lk_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return;
    }
    lk_diag d = {0};
    lk_info("received SIGHUP, reloading the rules");
    alerting_manager_reload(rules, &d); /* logs the outcome */
  }
}

/* The in-process Alertmanager, configured from the same file (its route,
 * receivers, … sections); NULL after printing why it cannot start. */
static alerting_am *open_notifier(const char *cmd, const lk_config *c)
{
  char url[600];
  snprintf(url, sizeof url, "%s://%s", c->tls.cert_file ? "https" : "http", c->listen);
  alerting_am_opts o = {.config_path = c->path, .data_dir = c->data, .external_url = url};
  alerting_am *am = NULL;
  lk_diag d = {0};
  if (alerting_am_open(&o, &am, &d))
    fprintf(stderr, "lookout %s: %s\n", cmd, d.msg);
  return am;
}

/* The orchestrator (config section orchestrator:), or NULL when it is
 * turned off or cannot open its store (logged; the rest keeps running). */
static orch *lookout_orch_open(const lk_config *c, orch_hpa_ctl *autoscaler, void (*on_start)(void *),
                               void *on_start_ctx, pod_flows *pods)
{
  if (!c->orchestrator.enabled)
    return NULL;
  char data[PATH_MAX]; /* absolute: containers and their shims run elsewhere */
  if (!realpath(c->data, data))
    snprintf(data, sizeof data, "%s", c->data);
  orch_opts oo = {
    .autoscaler = autoscaler,
    .on_container_start = on_start,
    .on_container_start_ctx = on_start_ctx,
    .hpa_period_ms = c->orchestrator.hpa_sync_period_ms,
    .data_dir = data,
    .run_pods = true,
    .runtime = c->orchestrator.runtime,
    .pod_cidr = c->orchestrator.pod_cidr,
    .on_pod_network = pod_flows_on_event,
    .on_pod_network_ctx = pods,
    .cgroup_root = c->collector.cgroup_root,
    .sync_period_ms = c->orchestrator.sync_period_ms,
  };
  orch *o = NULL;
  lk_diag d = {0};
  if (orch_open(&oo, &o, &d)) {
    lk_error("orchestrator: %s; the Kubernetes API answers 503", d.msg);
    return NULL;
  }
  return o;
}

/* The HPA controller over the tsdb, with the config's external metrics
 * (borrowed: ext lives as long as the server) and its tuning keys. */
static orch_hpa_ctl *open_autoscaler(const lk_config *c, tsdb *db, const orch_external_metric *ext)
{
  orch_hpa_ctl_opts ho = {
    .db = db,
    .external = ext,
    .nexternal = c->nexternal_metrics,
    .cpu_window_ms = c->orchestrator.hpa_metric_window_ms,
    .cpu_init_ms = c->orchestrator.hpa_cpu_initialization_period_ms,
    .readiness_delay_ms = c->orchestrator.hpa_initial_readiness_delay_ms,
    .downscale_window_ms = c->orchestrator.hpa_downscale_stabilization_ms,
  };
  orch_hpa_ctl *h = NULL;
  lk_diag d = {0};
  if (c->orchestrator.enabled && orch_hpa_ctl_new(&ho, &h, &d))
    lk_error("autoscaler: %s; HPAs will not scale", d.msg);
  return h;
}

/* The config's manifests, applied once the orchestrator runs. */
static int apply_manifests(const char *cmd, const lk_config *c, orch *o)
{
  lk_diag d = {0};
  if (!o || !c->orchestrator.manifests.n ||
      !orch_apply_manifests(o, (const char *const *)c->orchestrator.manifests.v, c->orchestrator.manifests.n, &d))
    return 0;
  fprintf(stderr, "lookout %s: orchestrator.manifests: %s\n", cmd, d.msg);
  return -1;
}

/* Everything one server process runs, torn down in one place (node_close)
 * in the reverse order of opening; NULL members were never opened. */
typedef struct node {
  char *cert, *key;
  tsdb *db;
  promql_cache *qcache; /* PromQL results for the HTTP API; NULL when query_cache_size is 0 */
  logstore *logs;
  alerting_am *am;
  alerting_manager *rules;
  orch_external_metric *ext;
  orch_hpa_ctl *autoscaler;
  orch *orc;
  config_src src; /* what a rule reload re-reads (the manager keeps a pointer) */
  web_server *w;
  _Atomic(collector *) agent; /* set once the local agent runs: the orchestrator's hook reads it */
  pod_flows *pods; /* pod networks for the flow meter (the orchestrator's on_pod_network) */
  collector_flows *flows;     /* `up` with collector.pcap_interfaces: the flow meter, series into db */
  lookout_logs *tailer;
  lk_crashpoint crash; /* LOOKOUT_CRASH_AT (crash tests); used when crash_on */
  bool crash_on;
} node;

/* A container started: the local agent rediscovers cgroups at its next
 * cycle instead of within its rescan period, so a new pod's metrics (and
 * the autoscaler's view of it) come one interval later, not ten seconds. */
static void rescan_on_start(void *ctx)
{
  collector *agent = atomic_load(&((node *)ctx)->agent);
  if (agent)
    collector_rescan(agent);
}

static void node_close(node *n)
{
  if (n->rules)
    alerting_manager_stop(n->rules);
  orch_close(n->orc); /* first: its runtime thread calls rescan_on_start and pod_flows_on_event */
  collector_free(atomic_exchange(&n->agent, NULL));
  if (n->pods)
    pod_flows_attach(n->pods, NULL); /* before the meter goes */
  collector_flows_free(n->flows);
  lookout_logs_stop(n->tailer);
  web_stop(n->w);
  alerting_manager_close(n->rules);
  alerting_am_close(n->am);
  orch_hpa_ctl_free(n->autoscaler);
  free(n->ext);
  promql_cache_free(n->qcache);
  tsdb_close(n->db);
  logstore_close(n->logs);
  pod_flows_free(n->pods);
  free(n->cert);
  free(n->key);
}

/* Token, TLS files, storage, notifier, rules, orchestrator: 0, or the exit
 * status after printing why (a bad Alertmanager section is a config error: 2). */
static int node_open(const char *cmd, const lk_config *c, node *n, char *token_path, size_t token_path_len)
{
  if (lk_mkdir_p(c->data)) {
    fprintf(stderr, "lookout %s: cannot create data directory %s: %s\n", cmd, c->data, strerror(errno));
    return 1;
  }
  snprintf(token_path, token_path_len, "%s", c->auth.token_file ? c->auth.token_file : "");
  if (!token_path[0])
    snprintf(token_path, token_path_len, "%s/token", c->data);
  if (ensure_token_file(token_path)) {
    fprintf(stderr, "lookout %s: cannot create the token file %s: %s\n", cmd, token_path, strerror(errno));
    return 1;
  }
  if (c->tls.cert_file &&
      (!(n->cert = read_small_file(c->tls.cert_file)) || !(n->key = read_small_file(c->tls.key_file)))) {
    fprintf(stderr, "lookout %s: cannot read TLS %s file %s\n", cmd, n->cert ? "key" : "certificate",
            n->cert ? c->tls.key_file : c->tls.cert_file);
    return 1;
  }
  const char *crash_at = getenv("LOOKOUT_CRASH_AT"); /* read once, here */
  if (crash_at && lk_crashpoint_parse(crash_at, &n->crash)) {
    fprintf(stderr, "lookout %s: LOOKOUT_CRASH_AT: expected NAME[:N], got \"%s\"\n", cmd, crash_at);
    return 2;
  }
  n->crash_on = crash_at != NULL;
  lk_crashpoint *crash = n->crash_on ? &n->crash : NULL;
  unsigned reader = !strcmp(cmd, "up") ? LK_CONFIG_UP : LK_CONFIG_SERVER;
  if (open_storage(c, reader, crash, &n->db))
    return 1;
  /* a quarter of the query cache budget for whole results, the rest (in the
   * tsdb) for decoded chunks; query_cache_size: 0 turns both off */
  if (c->storage.query_cache_size)
    promql_cache_new(c->storage.query_cache_size / 4, &n->qcache);
  n->logs = lookout_logstore_open(c, crash);
  n->am = n->logs ? open_notifier(cmd, c) : NULL;
  if (!n->am)
    return n->logs ? 2 : 1;
  n->src = (config_src){c->path, reader};
  if (!(n->rules = open_rules(c, &n->src, n->db, n->logs)))
    return 1;
  /* Receivers of every rule evaluation's alerts (alerting_send_fn), added
   * before the scheduler starts: the in-process Alertmanager (which also
   * forwards to configured Alertmanagers). */
  alerting_manager_add_receiver(n->rules, alerting_am_send, n->am);
  n->ext = lk_xcalloc(c->nexternal_metrics + 1, sizeof *n->ext); /* config → web */
  for (size_t i = 0; i < c->nexternal_metrics; i++)
    n->ext[i] = (orch_external_metric){c->external_metrics[i].name, c->external_metrics[i].query};
  n->autoscaler = open_autoscaler(c, n->db, n->ext);
  n->pods = pod_flows_new();
  n->orc = lookout_orch_open(c, n->autoscaler, rescan_on_start, n, n->pods);
  return apply_manifests(cmd, c, n->orc) ? 1 : 0;
}

static int run(const char *cmd, const lk_config *c, const char *ui_dir)
{
  node n = {0};
  atomic_init(&n.agent, NULL);
  char token_path[4096];
  int rc = node_open(cmd, c, &n, token_path, sizeof token_path);
  if (rc) {
    node_close(&n);
    return rc;
  }
  web_opts wo = {
    .external_metrics = n.ext,
    .nexternal_metrics = c->nexternal_metrics,
    .tls_cert = n.cert,
    .tls_key = n.key,
    .require_token = c->auth.require_token,
    .require_read_token = c->auth.require_read_token,
    .listen = c->listen,
    .token_file = token_path,
    .limits = {
      .max_write_body = c->limits.max_body_size,
      .max_decoded_body = c->limits.max_decoded_size,
      .max_import_body = c->limits.max_import_size,
      .max_line = c->limits.max_line_size,
      .max_match = c->limits.max_match,
      .max_query_samples = c->limits.max_query_samples,
      .query_timeout_ms = c->limits.query_timeout_ms,
      .max_render_series = c->limits.max_render_series,
      .max_connections = (unsigned)c->server.max_connections,
      .max_connections_per_ip = (unsigned)c->server.max_connections_per_ip,
      .idle_timeout_s = (unsigned)((c->server.idle_timeout_ms + 999) / 1000),
      .request_timeout_s = (unsigned)((c->server.request_timeout_ms + 999) / 1000),
    },
    .db = n.db,
    .query_cache = n.qcache,
    .logs = n.logs,
    .rules = n.rules,
    .am = n.am,
    .ui_dir = ui_dir,
    .orch = n.orc,
    .autoscaler = n.autoscaler,
    .config = c,
  };
  lk_diag d = {0};
  if (web_start(&wo, &n.w, &d)) {
    fprintf(stderr, "lookout %s: %s\n", cmd, d.msg);
    node_close(&n);
    return 1;
  }
  const char *colon = strrchr(c->listen, ':');
  lk_info("listening on %s://%.*s:%d data=%s", c->tls.cert_file ? "https" : "http", (int)(colon - c->listen),
          c->listen, web_port(n.w), c->data);
  bool rules_up = !alerting_manager_start(n.rules, self_page, n.w, &d);
  if (!rules_up)
    lk_error("%s", d.msg);
  bool up = !strcmp(cmd, "up");
  collector *agent = up && rules_up ? lookout_agent_start_local(c, n.db) : NULL;
  atomic_store(&n.agent, agent);
  n.tailer = agent ? lookout_logs_start_local(c, n.logs) : NULL;
  bool meter_pods = n.orc && c->collector.flows.pods && geteuid() == 0; /* pods get veths only as root */
  if (agent && (c->collector.pcap_interfaces.n || meter_pods))
    n.flows = lookout_flows_start(c, (collector_sink){lookout_agent_tsdb_sink, n.db});
  if (n.flows && meter_pods)
    pod_flows_attach(n.pods, n.flows);
  bool started_all = rules_up && (!up || (agent && n.tailer)); /* a failure was logged, naming the part */
  if (started_all)
    wait_for_stop(n.rules);
  node_close(&n);
  lk_info("stopped");
  return started_all ? 0 : 1;
}

/* Blocks below this come from malloc's arenas (reused), not fresh mappings,
 * and each arena keeps up to this much free memory at its top for the next
 * query. Larger values bought no speed and kept ~10 MiB more after a bulk
 * import. */
#define MALLOC_KEEP ((int)8 << 20)

/* An arena keeps up to MALLOC_KEEP free at its top (malloc_trim returns
 * only the main arena's top), and every connection has its own thread:
 * with glibc's 8 arenas per CPU the connections spread over all of them
 * and each grew its top to the bound, so the arenas are one per CPU (at
 * least 2). */
static void tune_malloc(void)
{
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  mallopt(M_ARENA_MAX, cpus > 2 ? (int)cpus : 2);
  mallopt(M_MMAP_THRESHOLD, MALLOC_KEEP);
  mallopt(M_TRIM_THRESHOLD, MALLOC_KEEP);
}

int lookout_serve(const char *cmd, int argc, char **argv, const char *extra_help)
{
  serve_flags f = {0};
  int rc = parse_flags(cmd, argc, argv, &f, extra_help);
  if (rc)
    return rc > 0 ? 0 : 2;
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  unsigned reader = !strcmp(cmd, "up") ? LK_CONFIG_UP : LK_CONFIG_SERVER;
  if (f.config && lk_config_load(&c, f.config, reader, &d)) {
    fprintf(stderr, "lookout %s: %s\n", cmd, d.msg);
    lk_config_fini(&c);
    return 2;
  }
  if (f.data)
    lk_config_set(&c.data, f.data);
  if (f.listen)
    lk_config_set(&c.listen, f.listen);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread exists */
  signal(SIGPIPE, SIG_IGN);
  tune_malloc();
  rc = run(cmd, &c, f.ui_dir);
  lk_config_fini(&c);
  return rc;
}

int cmd_server(int argc, char **argv)
{
  return lookout_serve("server", argc, argv, "Runs the central server: storage and the HTTP API.\n");
}
