/* lk_config.c — YAML config loading, see lk_config.h.
 *
 * libyaml loads the file into a node tree (with line marks); a walker then
 * applies it to a fresh lk_config holding defaults, driven by one key table
 * per section (key, type, field offset, which programs act on the key).
 * A key no program acts on yet, or one the reading program ignores, is
 * refused from the table's used_by column alone. Sections another module
 * reads from the same file (F_DELEGATED) are only accepted here. Lists of
 * objects (scrape_configs, static_configs) have small
 * custom walkers with their own tables. Parsing happens into a temporary config that replaces the
 * caller's only on success, so a bad file changes nothing.
 */
#include "lib/lk_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_fs.h"
#include "lib/lk_time.h"

typedef struct walk {
  yaml_document_t *doc;
  const char *file;
  unsigned reader; /* LK_CONFIG_SERVER / _AGENT bits: the program reading the file */
  lk_diag *d;
} walk;

/* F_DELEGATED: a key another module reads and checks from the same file
 * (c->path); accepted here as it is. */
enum ftype { F_STR, F_DUR, F_SIZE, F_UINT, F_BOOL, F_STRLIST, F_SECTION, F_CUSTOM, F_DELEGATED };

typedef struct field field;
typedef int (*custom_fn)(walk *w, yaml_node_t *n, void *base, const char *key);
struct field {
  const char *key;
  enum ftype t;
  size_t off;
  const field *sub;   /* F_SECTION */
  custom_fn custom;   /* F_CUSTOM */
  unsigned used_by;   /* programs that act on the key; NOT_YET: none, a non-empty value is refused */
  bool positive;      /* F_DUR/F_SIZE/F_UINT: 0 is refused (it would silently mean "the default") */
};

/* Who acts on a key (the `used_by` column). Keys of modules that do not
 * exist yet are NOT_YET: refused unless empty, until the module lands and
 * the row says who reads it. */
#define NOT_YET 0u
#define SRV LK_CONFIG_SERVER
#define AGT LK_CONFIG_COLLECT
#define PUSH LK_CONFIG_PUSH
#define ALL (LK_CONFIG_SERVER | LK_CONFIG_AGENT)

static int werr(walk *w, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int werr(walk *w, const yaml_node_t *n, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lk_diag_set(w->d, LK_EINVAL, -1, "%s:%zu: %s", w->file, n ? n->start_mark.line + 1 : 0, msg);
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool is_null(const yaml_node_t *n)
{
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *s = scalar(n);
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null");
}

void lk_config_set(char **dst, const char *v)
{
  free(*dst);
  *dst = v ? lk_xstrdup(v) : NULL;
}

static void strlist_free(lk_strlist *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static void strlist_add(lk_strlist *l, const char *s)
{
  l->v = lk_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = lk_xstrdup(s);
}

int lk_parse_size(const char *s, uint64_t *out, lk_diag *d)
{
  static const struct { const char *u; uint64_t m; } units[] = {
    {"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000ULL},
    {"TB", 1000000000000ULL}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
    {"TiB", 1ULL << 40}, {"K", 1ULL << 10}, {"M", 1ULL << 20}, {"G", 1ULL << 30},
  };
  char *end;
  if (!s || s[0] < '0' || s[0] > '9')
    return lk_diag_set(d, LK_EPARSE, 0, "bad size \"%s\" (expected e.g. 512, 64KiB, 16MiB, 1GB)", s ? s : "");
  unsigned long long v = strtoull(s, &end, 10);
  while (*end == ' ')
    end++;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcasecmp(end, units[i].u)) {
      if (v > UINT64_MAX / units[i].m)
        return lk_diag_set(d, LK_EPARSE, 0, "size \"%s\" is too large", s);
      *out = v * units[i].m;
      return 0;
    }
  return lk_diag_set(d, LK_EPARSE, 0, "bad size \"%s\" (expected e.g. 512, 64KiB, 16MiB, 1GB)", s);
}

/*---- typed values ----*/

static int want_scalar(walk *w, yaml_node_t *n, const char *key)
{
  if (n->type != YAML_SCALAR_NODE)
    return werr(w, n, "%s: expected a single value, not a %s", key,
                n->type == YAML_MAPPING_NODE ? "mapping" : "list");
  return 0;
}

static int set_strlist(walk *w, yaml_node_t *n, lk_strlist *l, const char *key)
{
  lk_strlist tmp = {0};
  if (is_null(n)) {
    strlist_free(l);
    return 0;
  }
  if (n->type != YAML_SEQUENCE_NODE)
    return werr(w, n, "%s: expected a list", key);
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    yaml_node_t *e = yaml_document_get_node(w->doc, *it);
    if (e->type != YAML_SCALAR_NODE) {
      strlist_free(&tmp);
      return werr(w, e, "%s: list items must be strings", key);
    }
    strlist_add(&tmp, scalar(e));
  }
  strlist_free(l);
  *l = tmp;
  return 0;
}

/* A number field's value once set; 0 for other types. */
static bool is_zero(const field *f, const char *p)
{
  if (f->t == F_DUR)
    return *(const int64_t *)p == 0;
  return (f->t == F_SIZE || f->t == F_UINT) && *(const uint64_t *)p == 0;
}

static int set_scalar(walk *w, yaml_node_t *n, const field *f, char *p)
{
  lk_diag vd = {0};
  const char *s = scalar(n);
  switch (f->t) {
  case F_STR:
    lk_config_set((char **)p, is_null(n) ? NULL : s);
    return 0;
  case F_DUR:
    if (lk_parse_duration(s, (int64_t *)p, &vd))
      return werr(w, n, "%s: %s", f->key, vd.msg);
    return 0;
  case F_SIZE:
    if (lk_parse_size(s, (uint64_t *)p, &vd))
      return werr(w, n, "%s: %s", f->key, vd.msg);
    return 0;
  case F_UINT: {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || *end || s[0] == '-')
      return werr(w, n, "%s: expected a non-negative integer, got \"%s\"", f->key, s);
    *(uint64_t *)p = v;
    return 0;
  }
  case F_BOOL:
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
      *(bool *)p = true;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
      *(bool *)p = false;
    else
      return werr(w, n, "%s: expected true or false, got \"%s\"", f->key, s);
    return 0;
  default:
    return werr(w, n, "%s: internal: bad field type", f->key);
  }
}

static int set_value(walk *w, yaml_node_t *n, const field *f, void *base)
{
  char *p = (char *)base + f->off;
  if (f->t == F_STRLIST)
    return set_strlist(w, n, (lk_strlist *)p, f->key);
  if (want_scalar(w, n, f->key))
    return LK_EINVAL;
  int rc = set_scalar(w, n, f, p);
  if (!rc && f->positive && is_zero(f, p))
    return werr(w, n, "%s: must be greater than 0", f->key);
  return rc;
}

static void list_keys(const field *t, char *buf, size_t sz)
{
  size_t o = 0;
  buf[0] = 0;
  for (; t->key && o < sz; t++)
    o += (size_t)snprintf(buf + o, sz - o, "%s%s", o ? ", " : "", t->key);
}

static const char top_where[] = "the config file";

/* Null, [] or {}: a value that changes nothing. */
static bool is_empty(const yaml_node_t *n)
{
  if (n->type == YAML_SEQUENCE_NODE)
    return n->data.sequence.items.top == n->data.sequence.items.start;
  if (n->type == YAML_MAPPING_NODE)
    return n->data.mapping.pairs.top == n->data.mapping.pairs.start;
  return is_null(n);
}

/* A key the program reading the file would ignore: stop rather than
 * pretend. `where` is the section (top_where at the top level). */
static int refuse(walk *w, const yaml_node_t *k, const field *f, const char *where)
{
  char name[200];
  snprintf(name, sizeof name, "%s%s%s", where == top_where ? "" : where, where == top_where ? "" : ".", f->key);
  if (f->used_by == NOT_YET)
    return werr(w, k, "key %s is not supported yet", name);
  const char *reader = w->reader == LK_CONFIG_UP ? "up" : w->reader == SRV ? "server" : "agent";
  const char *readers = f->used_by == SRV    ? "lookout server and lookout up read it"
                        : f->used_by == PUSH ? "only lookout agent reads it"
                                             : "lookout agent and lookout up read it";
  return werr(w, k, "key %s is not used by lookout %s (%s)", name, reader, readers);
}

/* Apply a mapping node to base through table t; `where` names the section. */
static int apply_map(walk *w, yaml_node_t *n, const field *t, void *base, const char *where)
{
  if (is_null(n))
    return 0;
  if (n->type != YAML_MAPPING_NODE)
    return werr(w, n, "%s: expected a mapping of keys", where);
  for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(w->doc, pr->value);
    if (k->type != YAML_SCALAR_NODE)
      return werr(w, k, "%s: keys must be plain names", where);
    const field *f = t;
    while (f->key && strcmp(f->key, scalar(k)))
      f++;
    if (!f->key) {
      char known[600];
      list_keys(t, known, sizeof known);
      return werr(w, k, "unknown key \"%s\" in %s (known keys: %s)", scalar(k), where, known);
    }
    if (!(f->used_by & w->reader) && !is_empty(v))
      return refuse(w, k, f, where);
    int rc = f->t == F_SECTION    ? apply_map(w, v, f->sub, base, f->key)
             : f->t == F_CUSTOM   ? f->custom(w, v, base, f->key)
             : f->t == F_DELEGATED ? 0
                                  : set_value(w, v, f, base);
    if (rc)
      return rc;
  }
  return 0;
}

/*---- lists of objects ----*/

static int seq_items(walk *w, yaml_node_t *n, const char *key, size_t *count)
{
  if (is_null(n)) {
    *count = 0;
    return 0;
  }
  if (n->type != YAML_SEQUENCE_NODE)
    return werr(w, n, "%s: expected a list", key);
  *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  return 0;
}

static yaml_node_t *seq_item(walk *w, yaml_node_t *n, size_t i)
{
  return yaml_document_get_node(w->doc, n->data.sequence.items.start[i]);
}

static void labels_free(lk_label *ls, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free((char *)ls[i].name);
    free((char *)ls[i].value);
  }
  free(ls);
}

static void static_free(lk_static_config *s)
{
  strlist_free(&s->targets);
  labels_free(s->labels, s->nlabels);
}

/* A mapping of label names to values into an owned label array (appended). */
static int parse_label_map(walk *w, yaml_node_t *n, const char *key, lk_label **ls, size_t *nls)
{
  if (is_null(n))
    return 0;
  if (n->type != YAML_MAPPING_NODE)
    return werr(w, n, "%s: expected a mapping of label names to values", key);
  for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(w->doc, pr->value);
    if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
      return werr(w, k, "%s: names and values must be strings", key);
    if (!lk_label_name_valid(scalar(k)))
      return werr(w, k, "%s: invalid label name \"%s\"", key, scalar(k));
    *ls = lk_xrealloc(*ls, (*nls + 1) * sizeof **ls);
    (*ls)[(*nls)++] = (lk_label){lk_xstrdup(scalar(k)), lk_xstrdup(scalar(v))};
  }
  return 0;
}

static int parse_labels(walk *w, yaml_node_t *n, void *base, const char *key)
{
  lk_static_config *s = base;
  return parse_label_map(w, n, key, &s->labels, &s->nlabels);
}

static const field static_fields[] = {
  {"targets", F_STRLIST, offsetof(lk_static_config, targets), NULL, NULL, .used_by = ALL},
  /* parsed, but the scraper does not attach them to the samples yet */
  {"labels", F_CUSTOM, 0, NULL, parse_labels, .used_by = NOT_YET},
  {0},
};

static int parse_static_configs(walk *w, yaml_node_t *n, void *base, const char *key)
{
  lk_scrape_config *sc = base;
  size_t cnt = 0;
  int rc = seq_items(w, n, key, &cnt);
  for (size_t i = 0; !rc && i < cnt; i++) {
    sc->static_configs = lk_xrealloc(sc->static_configs, (sc->nstatic + 1) * sizeof *sc->static_configs);
    lk_static_config *s = &sc->static_configs[sc->nstatic++];
    memset(s, 0, sizeof *s);
    rc = apply_map(w, seq_item(w, n, i), static_fields, s, "static_configs");
  }
  return rc;
}

static const field scrape_fields[] = {
  {"job_name", F_STR, offsetof(lk_scrape_config, job_name), NULL, NULL, .used_by = ALL},
  {"scrape_interval", F_DUR, offsetof(lk_scrape_config, scrape_interval_ms), NULL, NULL, .used_by = ALL},
  {"scrape_timeout", F_DUR, offsetof(lk_scrape_config, scrape_timeout_ms), NULL, NULL, .used_by = ALL},
  {"metrics_path", F_STR, offsetof(lk_scrape_config, metrics_path), NULL, NULL, .used_by = ALL},
  {"scheme", F_STR, offsetof(lk_scrape_config, scheme), NULL, NULL, .used_by = ALL},
  {"static_configs", F_CUSTOM, 0, NULL, parse_static_configs, .used_by = ALL},
  {0},
};

static void scrape_free(lk_scrape_config *s)
{
  free(s->job_name);
  free(s->metrics_path);
  free(s->scheme);
  for (size_t i = 0; i < s->nstatic; i++)
    static_free(&s->static_configs[i]);
  free(s->static_configs);
}

static int parse_scrape_configs(walk *w, yaml_node_t *n, void *base, const char *key)
{
  lk_config *c = base;
  size_t cnt = 0;
  int rc = seq_items(w, n, key, &cnt);
  for (size_t i = 0; !rc && i < cnt; i++) {
    yaml_node_t *item = seq_item(w, n, i);
    c->scrape_configs = lk_xrealloc(c->scrape_configs, (c->nscrape_configs + 1) * sizeof *c->scrape_configs);
    lk_scrape_config *s = &c->scrape_configs[c->nscrape_configs++];
    memset(s, 0, sizeof *s);
    rc = apply_map(w, item, scrape_fields, s, "scrape_configs");
    if (!rc && (!s->job_name || !s->job_name[0]))
      rc = werr(w, item, "scrape_configs: every entry needs a job_name");
    if (!rc && s->scheme && strcmp(s->scheme, "http"))
      rc = werr(w, item, "scrape_configs: job \"%s\": scheme \"%s\" is not supported yet (only http)", s->job_name,
                s->scheme);
    for (size_t j = 0; !rc && j + 1 < c->nscrape_configs; j++)
      if (!strcmp(c->scrape_configs[j].job_name, s->job_name))
        rc = werr(w, item, "scrape_configs: duplicate job_name \"%s\"", s->job_name);
  }
  return rc;
}

static const field external_metric_fields[] = {
  {"name", F_STR, offsetof(lk_external_metric, name), NULL, NULL, .used_by = SRV},
  {"query", F_STR, offsetof(lk_external_metric, query), NULL, NULL, .used_by = SRV},
  {0},
};

/* Kubernetes metric names: lower-case letters, digits, '-', '_' and '.'. */
static bool metric_name_ok(const char *s)
{
  if (!s || !*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
      return false;
  return true;
}

static int parse_external_metrics(walk *w, yaml_node_t *n, void *base, const char *key)
{
  lk_config *c = base;
  size_t cnt = 0;
  int rc = seq_items(w, n, key, &cnt);
  for (size_t i = 0; !rc && i < cnt; i++) {
    yaml_node_t *item = seq_item(w, n, i);
    c->external_metrics = lk_xrealloc(c->external_metrics, (c->nexternal_metrics + 1) * sizeof *c->external_metrics);
    lk_external_metric *m = &c->external_metrics[c->nexternal_metrics++];
    memset(m, 0, sizeof *m);
    rc = apply_map(w, item, external_metric_fields, m, "external_metrics");
    if (!rc && !metric_name_ok(m->name))
      rc = werr(w, item, "external_metrics: every entry needs a name of lower-case letters, digits, '-', '_' or '.'");
    if (!rc && (!m->query || !m->query[0]))
      rc = werr(w, item, "external_metrics: %s: a query is required", m->name);
    for (size_t j = 0; !rc && j + 1 < c->nexternal_metrics; j++)
      if (!strcmp(c->external_metrics[j].name, m->name))
        rc = werr(w, item, "external_metrics: duplicate name \"%s\"", m->name);
  }
  return rc;
}

/*---- top level ----*/

#define C(f) offsetof(lk_config, f)
static const field storage_fields[] = {
  {"retention", F_DUR, C(storage.retention_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"retention_size", F_SIZE, C(storage.retention_size), NULL, NULL, .used_by = SRV},
  {"rollup_retention", F_DUR, C(storage.rollup_retention_ms), NULL, NULL, .used_by = SRV},
  {"ooo_window", F_DUR, C(storage.ooo_window_ms), NULL, NULL, .used_by = SRV},
  {"fsync", F_STR, C(storage.fsync), NULL, NULL, .used_by = SRV},
  {"block_range", F_DUR, C(storage.block_range_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"query_cache_size", F_SIZE, C(storage.query_cache_size), NULL, NULL, .used_by = SRV},
  {"log_block_size", F_SIZE, C(storage.log_block_size), NULL, NULL, .used_by = SRV},
  {"log_wal_size", F_SIZE, C(storage.log_wal_size), NULL, NULL, .used_by = SRV},
  {"log_segment_size", F_SIZE, C(storage.log_segment_size), NULL, NULL, .used_by = SRV},
  {0},
};
static const field collector_flows_fields[] = {
  {"bpf_filter", F_STR, C(collector.flows.bpf_filter), NULL, NULL, .used_by = AGT},
  {"snaplen", F_UINT, C(collector.flows.snaplen), NULL, NULL, .used_by = AGT, .positive = true},
  {"buffer_size", F_SIZE, C(collector.flows.buffer_size), NULL, NULL, .used_by = AGT, .positive = true},
  {"max_flows", F_UINT, C(collector.flows.max_flows), NULL, NULL, .used_by = AGT, .positive = true},
  {"idle_timeout", F_DUR, C(collector.flows.idle_timeout_ms), NULL, NULL, .used_by = AGT, .positive = true},
  {"active_timeout", F_DUR, C(collector.flows.active_timeout_ms), NULL, NULL, .used_by = AGT, .positive = true},
  {"max_pairs", F_UINT, C(collector.flows.max_pairs), NULL, NULL, .used_by = AGT, .positive = true},
  {"pods", F_BOOL, C(collector.flows.pods), NULL, NULL, .used_by = SRV},
  {0},
};
static const field collector_fields[] = {
  {"interval", F_DUR, C(collector.interval_ms), NULL, NULL, .used_by = AGT, .positive = true},
  {"detail_interval", F_DUR, C(collector.detail_interval_ms), NULL, NULL, .used_by = AGT, .positive = true},
  {"cgroup_root", F_STR, C(collector.cgroup_root), NULL, NULL, .used_by = AGT},
  {"log_paths", F_STRLIST, C(collector.log_paths), NULL, NULL, .used_by = AGT},
  {"pcap_interfaces", F_STRLIST, C(collector.pcap_interfaces), NULL, NULL, .used_by = AGT},
  {"flows", F_SECTION, 0, collector_flows_fields, NULL, .used_by = AGT},
  {0},
};
/* `lookout agent`'s push targets (its --server/--metrics-url/--logs-url). */
static const field agent_fields[] = {
  {"server", F_STR, C(agent.server), NULL, NULL, .used_by = PUSH},
  {"metrics_url", F_STR, C(agent.metrics_url), NULL, NULL, .used_by = PUSH},
  {"logs_url", F_STR, C(agent.logs_url), NULL, NULL, .used_by = PUSH},
  {0},
};
static int parse_external_labels(walk *w, yaml_node_t *n, void *base, const char *key)
{
  lk_config *c = base;
  labels_free(c->global.external_labels, c->global.nexternal_labels);
  c->global.external_labels = NULL;
  c->global.nexternal_labels = 0;
  return parse_label_map(w, n, key, &c->global.external_labels, &c->global.nexternal_labels);
}

/* scrape_* are the defaults of scrape_configs entries (lk_config.h);
 * evaluation_interval the default of rule groups. */
static const field global_fields[] = {
  {"scrape_interval", F_DUR, C(global.scrape_interval_ms), NULL, NULL, .used_by = AGT, .positive = true},
  {"scrape_timeout", F_DUR, C(global.scrape_timeout_ms), NULL, NULL, .used_by = AGT},
  {"evaluation_interval", F_DUR, C(evaluation_interval_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"external_labels", F_CUSTOM, 0, NULL, parse_external_labels, .used_by = SRV},
  {"resolve_timeout", F_DELEGATED, 0, NULL, NULL, .used_by = SRV}, /* alerting/am_config.c */
  {0},
};
static const field orchestrator_fields[] = {
  {"enabled", F_BOOL, C(orchestrator.enabled), NULL, NULL, .used_by = SRV},
  {"runtime", F_STR, C(orchestrator.runtime), NULL, NULL, .used_by = SRV},
  {"pod_cidr", F_STR, C(orchestrator.pod_cidr), NULL, NULL, .used_by = SRV},
  {"manifests", F_STRLIST, C(orchestrator.manifests), NULL, NULL, .used_by = SRV},
  {"sync_period", F_DUR, C(orchestrator.sync_period_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"hpa_sync_period", F_DUR, C(orchestrator.hpa_sync_period_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"hpa_cpu_initialization_period", F_DUR, C(orchestrator.hpa_cpu_initialization_period_ms), NULL, NULL,
   .used_by = SRV, .positive = true},
  {"hpa_initial_readiness_delay", F_DUR, C(orchestrator.hpa_initial_readiness_delay_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"hpa_downscale_stabilization", F_DUR, C(orchestrator.hpa_downscale_stabilization_ms), NULL, NULL,
   .used_by = SRV, .positive = true},
  {"hpa_metric_window", F_DUR, C(orchestrator.hpa_metric_window_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {0},
};
static const field auth_fields[] = {
  {"token_file", F_STR, C(auth.token_file), NULL, NULL, .used_by = SRV},
  {"require_token", F_BOOL, C(auth.require_token), NULL, NULL, .used_by = SRV},
  {"require_read_token", F_BOOL, C(auth.require_read_token), NULL, NULL, .used_by = SRV},
  {0},
};
static const field server_fields[] = {
  {"max_connections", F_UINT, C(server.max_connections), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_connections_per_ip", F_UINT, C(server.max_connections_per_ip), NULL, NULL, .used_by = SRV, .positive = true},
  {"idle_timeout", F_DUR, C(server.idle_timeout_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"request_timeout", F_DUR, C(server.request_timeout_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {0},
};
static const field tls_fields[] = {
  {"cert_file", F_STR, C(tls.cert_file), NULL, NULL, .used_by = SRV},
  {"key_file", F_STR, C(tls.key_file), NULL, NULL, .used_by = SRV},
  {0},
};
/* 0 would silently mean "the built-in default" further down: refused. */
static const field limits_fields[] = {
  {"max_body_size", F_SIZE, C(limits.max_body_size), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_decoded_size", F_SIZE, C(limits.max_decoded_size), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_import_size", F_SIZE, C(limits.max_import_size), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_line_size", F_SIZE, C(limits.max_line_size), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_labels", F_UINT, C(limits.max_labels), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_label_name_length", F_UINT, C(limits.max_label_name_length), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_label_value_length", F_UINT, C(limits.max_label_value_length), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_series", F_UINT, C(limits.max_series), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_match", F_UINT, C(limits.max_match), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_query_samples", F_UINT, C(limits.max_query_samples), NULL, NULL, .used_by = SRV, .positive = true},
  {"query_timeout", F_DUR, C(limits.query_timeout_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"max_render_series", F_UINT, C(limits.max_render_series), NULL, NULL, .used_by = SRV, .positive = true},
  {0},
};
/* A section row's used_by gates the whole section; its rows then gate
 * each key. */
static const field top_fields[] = {
  {"listen", F_STR, C(listen), NULL, NULL, .used_by = SRV},
  {"data", F_STR, C(data), NULL, NULL, .used_by = ALL},
  {"storage", F_SECTION, 0, storage_fields, NULL, .used_by = SRV},
  {"collector", F_SECTION, 0, collector_fields, NULL, .used_by = AGT},
  {"agent", F_SECTION, 0, agent_fields, NULL, .used_by = PUSH},
  {"global", F_SECTION, 0, global_fields, NULL, .used_by = ALL},
  {"scrape_configs", F_CUSTOM, 0, NULL, parse_scrape_configs, .used_by = AGT},
  {"rule_files", F_STRLIST, C(rule_files), NULL, NULL, .used_by = SRV},
  {"evaluation_interval", F_DUR, C(evaluation_interval_ms), NULL, NULL, .used_by = SRV, .positive = true},
  {"builtin_rules", F_BOOL, C(builtin_rules), NULL, NULL, .used_by = SRV},
  {"external_url", F_STR, C(external_url), NULL, NULL, .used_by = SRV},
  /* Alertmanager's and Prometheus's sections: alerting/am_config.c */
  {"route", F_DELEGATED, 0, NULL, NULL, .used_by = SRV},
  {"receivers", F_DELEGATED, 0, NULL, NULL, .used_by = SRV},
  {"inhibit_rules", F_DELEGATED, 0, NULL, NULL, .used_by = SRV},
  {"time_intervals", F_DELEGATED, 0, NULL, NULL, .used_by = SRV},
  {"mute_time_intervals", F_DELEGATED, 0, NULL, NULL, .used_by = SRV},
  {"alerting", F_DELEGATED, 0, NULL, NULL, .used_by = SRV},
  {"orchestrator", F_SECTION, 0, orchestrator_fields, NULL, .used_by = SRV},
  {"external_metrics", F_CUSTOM, 0, NULL, parse_external_metrics, .used_by = SRV},
  {"auth", F_SECTION, 0, auth_fields, NULL, .used_by = SRV},
  {"tls", F_SECTION, 0, tls_fields, NULL, .used_by = SRV},
  {"server", F_SECTION, 0, server_fields, NULL, .used_by = SRV},
  {"limits", F_SECTION, 0, limits_fields, NULL, .used_by = SRV},
  {0},
};
#undef C

void lk_config_init(lk_config *c)
{
  memset(c, 0, sizeof *c);
  c->listen = lk_xstrdup("127.0.0.1:9470");
  c->data = lk_xstrdup("./data");
  c->storage.retention_ms = 15LL * 24 * 3600 * 1000;
  c->storage.fsync = lk_xstrdup("interval");
  c->storage.query_cache_size = 64ULL << 20;
  c->collector.interval_ms = 5000;
  c->collector.flows.pods = true;
  c->collector.detail_interval_ms = 10000;
  c->collector.cgroup_root = lk_xstrdup("/sys/fs/cgroup");
  strlist_add(&c->collector.log_paths, "/var/log/pods/*/*/*.log");
  c->collector.flows.snaplen = 128;
  c->collector.flows.buffer_size = 4u << 20;
  c->collector.flows.max_flows = 65536;
  c->collector.flows.idle_timeout_ms = 60000;
  c->collector.flows.active_timeout_ms = 300000;
  c->collector.flows.max_pairs = 10000;
  c->global.scrape_interval_ms = 15000;
  c->global.scrape_timeout_ms = 10000;
  c->evaluation_interval_ms = 15000;
  c->builtin_rules = true;
  c->orchestrator.enabled = true;
  c->orchestrator.runtime = lk_xstrdup("runc");
  c->orchestrator.pod_cidr = lk_xstrdup("10.88.0.0/16");
  c->orchestrator.sync_period_ms = 1000;
  c->orchestrator.hpa_sync_period_ms = 15000;
  c->orchestrator.hpa_cpu_initialization_period_ms = 5 * 60000;
  c->orchestrator.hpa_initial_readiness_delay_ms = 30000;
  c->orchestrator.hpa_downscale_stabilization_ms = 5 * 60000;
  c->orchestrator.hpa_metric_window_ms = 60000;
  c->limits.max_body_size = 16ULL << 20;
  c->limits.max_decoded_size = 256ULL << 20;
  c->limits.max_import_size = 64ULL << 30;
  c->limits.max_line_size = 1ULL << 20;
  c->limits.max_labels = 64;
  c->limits.max_label_name_length = 256;
  c->limits.max_label_value_length = 4096;
  c->limits.max_series = 5000000;
  c->limits.max_match = 64;
  c->limits.max_query_samples = 50000000;
  c->limits.query_timeout_ms = 120000;
  c->limits.max_render_series = 20;
  c->server.max_connections = 1024;
  c->server.max_connections_per_ip = 256;
  c->server.idle_timeout_ms = 120000;
  c->server.request_timeout_ms = 300000;
}

/* The node a cross-field error is reported at: the key at `path` under
 * `n` (segments split by '.', each a mapping key or a sequence index, e.g.
 * "storage.fsync" or "scrape_configs.2.scrape_timeout"), else the deepest
 * part of that path the file has, else `n` itself (defaults broke a rule). */
static const yaml_node_t *key_node(walk *w, yaml_node_t *n, const char *path)
{
  const yaml_node_t *at = n;
  while (n && *path) {
    size_t len = strcspn(path, ".");
    yaml_node_t *next = NULL;
    if (n->type == YAML_MAPPING_NODE) {
      for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; !next && pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        if (k->type == YAML_SCALAR_NODE && k->data.scalar.length == len && !memcmp(scalar(k), path, len)) {
          at = k;
          next = yaml_document_get_node(w->doc, pr->value);
        }
      }
    } else if (n->type == YAML_SEQUENCE_NODE) {
      size_t i = strtoul(path, NULL, 10);
      if (i < (size_t)(n->data.sequence.items.top - n->data.sequence.items.start))
        at = next = seq_item(w, n, i);
    }
    n = next;
    path += len + (path[len] == '.');
  }
  return at;
}

static int check_scrape_jobs(walk *w, lk_config *c, yaml_node_t *root)
{
  for (size_t i = 0; i < c->nscrape_configs; i++) {
    lk_scrape_config *s = &c->scrape_configs[i];
    if (!s->scrape_interval_ms)
      s->scrape_interval_ms = c->global.scrape_interval_ms;
    if (!s->scrape_timeout_ms)
      s->scrape_timeout_ms = c->global.scrape_timeout_ms < s->scrape_interval_ms
                                 ? c->global.scrape_timeout_ms : s->scrape_interval_ms;
    if (s->scrape_timeout_ms > s->scrape_interval_ms) {
      char path[64];
      snprintf(path, sizeof path, "scrape_configs.%zu.scrape_timeout", i);
      return werr(w, key_node(w, root, path), "scrape_configs: job \"%s\": scrape_timeout is greater than scrape_interval",
                  s->job_name);
    }
    if (!s->metrics_path)
      s->metrics_path = lk_xstrdup("/metrics");
    if (!s->scheme)
      s->scheme = lk_xstrdup("http");
  }
  return 0;
}

/* Cross-field checks and derived defaults, after the walk; each error names
 * the line of the key it is about (key_node). */
static int finish(walk *w, lk_config *c, yaml_node_t *root)
{
  if (!c->listen || !c->listen[0] || !strchr(c->listen, ':'))
    return werr(w, key_node(w, root, "listen"), "listen: expected host:port, got \"%s\"",
                c->listen ? c->listen : "");
  if (!c->data || !c->data[0])
    return werr(w, key_node(w, root, "data"), "data: must name a directory");
  const char *fs = c->storage.fsync ? c->storage.fsync : "";
  if (strcmp(fs, "interval") && strcmp(fs, "batch") && strcmp(fs, "never"))
    return werr(w, key_node(w, root, "storage.fsync"), "storage.fsync: expected interval, batch or never, got \"%s\"",
                fs);
  if (c->storage.rollup_retention_ms && c->storage.rollup_retention_ms <= c->storage.retention_ms)
    return werr(w, key_node(w, root, "storage.rollup_retention"),
                "storage.rollup_retention (%gh) must be 0 or longer than storage.retention (%gh): "
                "rollups are kept past the raw samples, never less long",
                (double)c->storage.rollup_retention_ms / 3600000, (double)c->storage.retention_ms / 3600000);
  int rc = check_scrape_jobs(w, c, root);
  if (rc)
    return rc;
  if ((c->tls.cert_file != NULL) != (c->tls.key_file != NULL))
    return werr(w, key_node(w, root, c->tls.cert_file ? "tls.cert_file" : "tls.key_file"),
                "tls: both cert_file and key_file are needed");
  return 0;
}

static int load_doc(yaml_document_t *doc, const char *text, size_t len, const char *name, lk_diag *d)
{
  yaml_parser_t p;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int ok = yaml_parser_load(&p, doc);
  int rc = 0;
  if (!ok)
    rc = lk_diag_set(d, LK_EPARSE, (long)p.problem_mark.index, "%s:%zu: YAML syntax error: %s%s%s", name,
                     p.problem_mark.line + 1, p.problem ? p.problem : "unknown problem",
                     p.context ? " " : "", p.context ? p.context : "");
  yaml_parser_delete(&p);
  return rc;
}

int lk_config_parse(lk_config *c, const char *text, size_t len, const char *name, unsigned reader,
                    lk_diag *d)
{
  yaml_document_t doc;
  int rc = load_doc(&doc, text, len, name, d);
  if (rc)
    return rc;
  lk_config tmp;
  lk_config_init(&tmp);
  walk w = {&doc, name, reader, d};
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root)
    rc = apply_map(&w, root, top_fields, &tmp, top_where);
  if (!rc)
    rc = finish(&w, &tmp, root);
  yaml_document_delete(&doc);
  if (rc) {
    lk_config_fini(&tmp);
    return rc;
  }
  tmp.path = c->path ? lk_xstrdup(c->path) : NULL;
  lk_config_fini(c);
  *c = tmp;
  return 0;
}

int64_t lk_config_block_range(const lk_config *c, unsigned reader)
{
  if (c->storage.block_range_ms)
    return c->storage.block_range_ms;
  return reader == LK_CONFIG_UP ? LK_BLOCK_RANGE_UP_MS : LK_BLOCK_RANGE_SERVER_MS;
}

int lk_config_load(lk_config *c, const char *path, unsigned reader, lk_diag *d)
{
  char *buf;
  size_t len;
  int rc = lk_read_file(path, 16u << 20, &buf, &len, d);
  if (rc)
    return rc;
  rc = lk_config_parse(c, buf, len, path, reader, d);
  free(buf);
  if (!rc)
    lk_config_set(&c->path, path);
  return rc;
}

void lk_config_fini(lk_config *c)
{
  free(c->path);
  free(c->listen);
  free(c->data);
  free(c->storage.fsync);
  free(c->collector.cgroup_root);
  strlist_free(&c->collector.log_paths);
  strlist_free(&c->collector.pcap_interfaces);
  free(c->collector.flows.bpf_filter);
  for (size_t i = 0; i < c->nscrape_configs; i++)
    scrape_free(&c->scrape_configs[i]);
  free(c->scrape_configs);
  strlist_free(&c->rule_files);
  labels_free(c->global.external_labels, c->global.nexternal_labels);
  free(c->external_url);
  strlist_free(&c->orchestrator.manifests);
  for (size_t i = 0; i < c->nexternal_metrics; i++) {
    free(c->external_metrics[i].name);
    free(c->external_metrics[i].query);
  }
  free(c->external_metrics);
  free(c->orchestrator.runtime);
  free(c->agent.server);
  free(c->agent.metrics_url);
  free(c->agent.logs_url);
  free(c->orchestrator.pod_cidr);
  free(c->auth.token_file);
  free(c->tls.cert_file);
  free(c->tls.key_file);
  memset(c, 0, sizeof *c);
}

static bool config_name_char(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* The length of the secret key (then optional spaces and ':') at p, or 0. */
static size_t secret_key_at(const char *text, const char *p)
{
  static const char *const keys[] = {"password", "credentials", "bearer_token", "token", "secret", "api_key",
                                     "smtp_auth_password"};
  if (p != text && config_name_char(p[-1]))
    return 0;
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    size_t kl = strlen(keys[k]);
    const char *q = p + kl;
    while (*q == ' ')
      q++;
    if (!strncmp(p, keys[k], kl) && *q == ':')
      return kl;
  }
  return 0;
}

char *lk_config_mask_secrets(const char *text)
{
  lk_buf b = {0};
  for (const char *p = text; *p;) {
    if (!secret_key_at(text, p)) {
      lk_buf_putc(&b, (uint8_t)*p++);
      continue;
    }
    const char *colon = strchr(p, ':');
    lk_buf_append(&b, p, (size_t)(colon - p) + 1);
    lk_buf_puts(&b, " <secret>");
    p = colon + 1;
    while (*p && *p != '\n' && *p != ',' && *p != '}')
      p++;
  }
  lk_buf_putc(&b, 0);
  return (char *)lk_buf_take(&b, NULL);
}
