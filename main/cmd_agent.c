/* cmd_agent.c — `lookout agent --server URL`: the node collector as its own
 * process. Every interval it collects container, node and target metrics,
 * queues them on disk as remote_write requests and pushes them to URL (a
 * Lookout server or any remote_write receiver), and ships container logs
 * through a second on-disk queue; metrics and logs may go to different
 * places (--metrics-url, --logs-url: a VictoriaMetrics or Mimir cluster and
 * a Loki). It also serves what it last collected at /metrics for a plain
 * Prometheus to scrape.
 *
 * Threads: the collector's thread (cycles, sink), the pusher's sender, the
 * HTTP server's connection threads (read the last page under page_lock), and
 * the main thread waiting for SIGINT/SIGTERM. page_lock guards `page`.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "lib/lk_alloc.h"
#include "lib/lk_config.h"
#include "lib/lk_http.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "lib/lk_token.h"
#include "main/agent.h"
#include "main/cmd.h"
#include "main/logs_local.h"

typedef struct agent {
  collector_pusher *pusher;
  pthread_mutex_t page_lock;
  lk_buf page;                  /* the last cycle as exposition text */
} agent;

static const char usage_text[] =
  "usage: lookout agent --server URL [--config FILE] [flags]\n"
  "       lookout agent --metrics-url URL --logs-url URL [--config FILE] [flags]\n\n"
  "Collects container metrics (cgroup v1 and v2, Kubernetes/Docker/systemd/Lookout\n"
  "pods), node metrics and configured scrape targets, and pushes them with\n"
  "remote_write 0.1.0 through a bounded on-disk queue (nothing is lost while the\n"
  "server is down, up to the queue's size). Serves the last cycle at /metrics.\n\n"
  "  --server URL          a Lookout server (agent.server): metrics and logs go there\n"
  "  --metrics-url URL     remote_write endpoint instead (agent.metrics_url; e.g. VictoriaMetrics's\n"
  "                        /api/v1/write or vminsert's); a bare http://host:port gets /api/v1/write\n"
  "  --logs-url URL        Loki push receiver instead (agent.logs_url): a Lookout server or Loki\n"
  "  --config FILE         YAML config (data:, collector:, global:, scrape_configs:)\n"
  "  --interval D          collection interval (collector.interval, default 5s)\n"
  "  --cgroup-root DIR     cgroup mount root (collector.cgroup_root, default /sys/fs/cgroup)\n"
  "  --log-root DIR        where pods/ and containers/ logs live (default /var/log)\n"
  "  --node NAME           `node` label (default: host name)\n"
  "  --kubelet-url URL     kubelet pod list for names and images (http://127.0.0.1:10255/pods)\n"
  "  --queue-dir DIR       on-disk queue (default <data>/agent-queue)\n"
  "  --queue-max-size SIZE queue bound, oldest dropped first (default 256MiB)\n"
  "  --token-file F        send `Authorization: Bearer <first token of F>` (alias --bearer-token-file)\n"
  "  --ca-file F           https:// server: trust the CA certificate(s) in F (PEM)\n"
  "  --listen ADDR         serve /metrics here (default 127.0.0.1:9471; \"none\" to disable)\n"
  "  --no-node-metrics     container metrics only\n";

static int page_sink(void *ctx, const lk_series *s, size_t n)
{
  agent *a = ctx;
  lk_buf page = {0};
  collector_format_metrics(s, n, &page);
  collector_push_stats st;
  collector_pusher_stats_get(a->pusher, &st);
  const struct { const char *name, *type; uint64_t v; } m[] = {
    {"lookout_agent_sent_samples_total", "counter", st.sent_samples},
    {"lookout_agent_failed_attempts_total", "counter", st.failed_attempts},
    {"lookout_agent_rejected_samples_total", "counter", st.rejected_samples},
    {"lookout_agent_dropped_samples_total", "counter", st.dropped_samples},
    {"lookout_agent_queued_requests", "gauge", st.queued_requests},
    {"lookout_agent_queued_bytes", "gauge", st.queued_bytes},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    lk_buf_printf(&page, "# HELP %s Lookout agent push path.\n# TYPE %s %s\n%s %llu\n", m[i].name,
                  m[i].name, m[i].type, m[i].name, (unsigned long long)m[i].v);
  pthread_mutex_lock(&a->page_lock);
  lk_buf_fini(&a->page);
  a->page = page;
  pthread_mutex_unlock(&a->page_lock);
  collector_sink push = collector_pusher_sink(a->pusher);
  return push.fn(push.ctx, s, n);
}

static void serve_metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  agent *a = ctx;
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
  pthread_mutex_lock(&a->page_lock);
  if (a->page.len)
    lk_buf_append(&resp->body, a->page.data, a->page.len);
  pthread_mutex_unlock(&a->page_lock);
}

static void serve_health(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  resp->content_type = "text/plain";
  lk_buf_puts(&resp->body, "OK\n");
}

static const lk_http_route routes[] = {
  {"GET", "/metrics", LK_AUTH_NONE, 0, serve_metrics, NULL, "/metrics"},
  {"GET", "/-/healthy", LK_AUTH_NONE, 0, serve_health, NULL, "/-/healthy"},
};

typedef struct flags {
  const char *server, *metrics_url, *logs_url, *config, *interval, *cgroup_root, *log_root,
      *node, *queue_dir, *queue_max, *token_file, *listen, *kubelet_url, *ca_file;
  bool no_node;
} flags;

static int parse_flags(int argc, char **argv, flags *f)
{
  static const struct { const char *name; size_t off; } opt[] = {
    {"--server", offsetof(flags, server)}, {"--metrics-url", offsetof(flags, metrics_url)},
    {"--logs-url", offsetof(flags, logs_url)}, {"--config", offsetof(flags, config)},
    {"--interval", offsetof(flags, interval)}, {"--cgroup-root", offsetof(flags, cgroup_root)},
    {"--log-root", offsetof(flags, log_root)}, {"--node", offsetof(flags, node)},
    {"--queue-dir", offsetof(flags, queue_dir)}, {"--queue-max-size", offsetof(flags, queue_max)},
    {"--bearer-token-file", offsetof(flags, token_file)}, {"--token-file", offsetof(flags, token_file)},
    {"--ca-file", offsetof(flags, ca_file)}, {"--listen", offsetof(flags, listen)},
    {"--kubelet-url", offsetof(flags, kubelet_url)}};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_text, stdout);
      return 1;
    }
    if (!strcmp(argv[i], "--no-node-metrics")) {
      f->no_node = true;
      continue;
    }
    size_t k = 0;
    while (k < sizeof opt / sizeof opt[0] && strcmp(argv[i], opt[k].name))
      k++;
    if (k == sizeof opt / sizeof opt[0] || i + 1 == argc) {
      fprintf(stderr, "lookout agent: %s \"%s\" (see --help)\n",
              k == sizeof opt / sizeof opt[0] ? "unknown flag" : "missing value for", argv[i]);
      return 2;
    }
    *(const char **)((char *)f + opt[k].off) = argv[++i];
  }
  return 0;
}

/* http://host:port -> http://host:port/api/v1/write; URLs with a path stay. */
static char *write_url(const char *server)
{
  const char *p = strstr(server, "://");
  bool has_path = p && strchr(p + 3, '/') && strchr(p + 3, '/')[1];
  size_t n = strlen(server) + 16;
  char *u = lk_xmalloc(n);
  size_t l = strlen(server);
  if (has_path)
    snprintf(u, n, "%s", server);
  else
    snprintf(u, n, "%.*s/api/v1/write", (int)(l && server[l - 1] == '/' ? l - 1 : l), server);
  return u;
}

static char *read_token(const char *path)
{
  char buf[4096];
  lk_diag d = {0};
  return lk_token_read_first(path, buf, sizeof buf, &d) ? NULL : lk_xstrdup(buf);
}

/* Where metrics and logs go: each flag, then its config key, then the
 * server (flag, then key). NULL: nowhere named. */
static const char *target(const char *flag, const char *key, const flags *f, const lk_config *cfg)
{
  return flag ? flag : key ? key : f->server ? f->server : cfg->agent.server;
}

static int run_agent(const flags *f, lk_config *cfg)
{
  lk_diag d = {0};
  const char *metrics = target(f->metrics_url, cfg->agent.metrics_url, f, cfg);
  const char *logs_to = target(f->logs_url, cfg->agent.logs_url, f, cfg);
  if (!metrics || !logs_to) {
    fprintf(stderr, "lookout agent: nowhere to send %s: give --server URL (or agent.server), or "
            "--metrics-url and --logs-url (see --help)\n", metrics ? "logs" : "metrics");
    return 2;
  }
  lookout_agent_cfg ac;
  lookout_agent_config(cfg, &ac);
  ac.opts.log_root = f->log_root;
  ac.opts.node = f->node;
  ac.opts.kubelet_url = f->kubelet_url;
  ac.opts.no_node = f->no_node;
  char qdir[4096];
  snprintf(qdir, sizeof qdir, "%s/agent-queue", cfg->data);
  uint64_t qmax = 0;
  char *url = write_url(metrics), *token = f->token_file ? read_token(f->token_file) : NULL;
  int rc = f->queue_max ? lk_parse_size(f->queue_max, &qmax, &d) : 0;
  agent a = {0};
  pthread_mutex_init(&a.page_lock, NULL);
  collector_push_opts po = {.url = url, .queue_dir = f->queue_dir ? f->queue_dir : qdir,
                            .queue_max_bytes = qmax, .bearer_token = token, .ca_file = f->ca_file};
  if (!rc && f->token_file && !token)
    rc = lk_diag_set(&d, LK_EINVAL, -1, "cannot read a token from %s", f->token_file);
  if (!rc)
    rc = collector_pusher_new(&po, &a.pusher, &d);
  collector *c = NULL;
  if (!rc)
    rc = collector_new(&ac.opts, (collector_sink){page_sink, &a}, &c, &d);
  lk_http_server *srv = NULL;
  const char *listen = f->listen ? f->listen : "127.0.0.1:9471";
  if (!rc && strcmp(listen, "none")) {
    lk_http_opts ho = {.listen = listen};
    rc = lk_http_start(&ho, routes, sizeof routes / sizeof routes[0], &a, NULL, &srv, &d);
  }
  if (!rc && (rc = collector_pusher_start(a.pusher)))
    lk_diag_set(&d, rc, -1, "cannot start the remote_write sender thread: %s", lk_strerror(rc));
  if (!rc)
    collector_raise_fd_limit();
  if (!rc && (rc = collector_start(c)))
    lk_diag_set(&d, rc, -1, "cannot start the collector thread: %s", lk_strerror(rc));
  collector_flows *flows = rc || !cfg->collector.pcap_interfaces.n ? NULL
                                                                    : lookout_flows_start(cfg, collector_pusher_sink(a.pusher));
  lookout_logs *logs = NULL;
  if (!rc && !(logs = lookout_logs_start_agent(cfg, logs_to, token, f->ca_file)))
    rc = lk_diag_set(&d, LK_EUNAVAIL, -1, "log shipping did not start (the line above says why)");
  if (!rc) {
    lk_info("agent: pushing to %s every %lld ms, /metrics on %s", url,
            (long long)(ac.opts.interval_ms ? ac.opts.interval_ms : 5000), srv ? listen : "(off)");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    sigwait(&set, &sig);
    lk_info("agent: stopping (signal %d)", sig);
    lookout_logs_stop(logs);
  } else
    fprintf(stderr, "lookout agent: %s\n", d.msg[0] ? d.msg : lk_strerror(rc));
  lk_http_stop(srv);
  collector_flows_free(flows);
  collector_free(c);
  collector_pusher_free(a.pusher);
  lk_buf_fini(&a.page);
  pthread_mutex_destroy(&a.page_lock);
  lookout_agent_config_fini(&ac);
  free(url);
  free(token);
  return rc ? 1 : 0;
}

int cmd_agent(int argc, char **argv)
{
  flags f = {0};
  int rc = parse_flags(argc, argv, &f);
  if (rc)
    return rc == 1 ? 0 : rc;
  /* signals go to sigwait in this thread only: block them before any thread starts */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  lk_config cfg;
  lk_config_init(&cfg);
  lk_diag d = {0};
  rc = f.config ? lk_config_load(&cfg, f.config, LK_CONFIG_AGENT, &d) : 0;
  int64_t iv = 0;
  if (!rc && f.interval && !(rc = lk_parse_duration(f.interval, &iv, &d)))
    cfg.collector.interval_ms = iv;
  if (!rc && f.cgroup_root)
    lk_config_set(&cfg.collector.cgroup_root, f.cgroup_root);
  if (rc) {
    fprintf(stderr, "lookout agent: %s\n", d.msg);
    lk_config_fini(&cfg);
    return 2;
  }
  rc = run_agent(&f, &cfg);
  lk_config_fini(&cfg);
  return rc;
}
