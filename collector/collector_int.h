/* collector_int.h — structures shared by the metrics collector's files.
 * Nothing outside collector/ includes this. */
#ifndef COLLECTOR_INT_H
#define COLLECTOR_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/collector.h"
#include "lib/lk_alloc.h"
#include "lib/lk_labels.h"

/*---- hierarchies and the files read every cycle ----*/

/* Where a container's files live. v1 controllers each have their own root
 * (cpu and cpuacct may be one co-mounted directory); H_V2 is the cgroup2
 * mount (the whole root on unified hosts, <root>/unified on hybrid ones). */
enum collector__hier { H_CPU, H_CPUACCT, H_MEMORY, H_BLKIO, H_PIDS, H_V2, H_COUNT };

/* Files read every cycle, each kept open (pread at offset 0 regenerates). */
enum collector__file {
  CF_CPUACCT_USAGE, CF_CPUACCT_STAT, CF_CPU_STAT, CF_MEM_USAGE, CF_MEM_STAT,
  CF_MEM_MAXUSAGE, CF_MEM_FAILCNT, CF_MEM_OOM, CF_BLK_BYTES, CF_BLK_OPS, CF_PIDS_CUR,
  CF2_CPU_STAT, CF2_MEM_CURRENT, CF2_MEM_STAT, CF2_MEM_PEAK, CF2_MEM_EVENTS,
  CF2_MEM_SWAP, CF2_IO_STAT, CF2_PIDS_CUR, CF2_CPU_PSI, CF2_MEM_PSI, CF2_IO_PSI,
  CF_COUNT
};

#define COLLECTOR__FD_UNOPENED (-1)
#define COLLECTOR__FD_ABSENT (-2)

/* Limits and weights, read at discovery and refreshed now and then. */
typedef struct collector__spec {
  double cpu_quota_us, cpu_period_us; /* quota <= 0: unlimited */
  double cpu_shares;                  /* v1 shares, or v2 weight mapped to shares */
  double mem_limit;                   /* 0: unlimited */
  double pids_max;                    /* 0: unlimited */
  bool have_cpu, have_mem, have_pids;
} collector__spec;

/* What a cgroup path says about itself (collector__classify). */
enum collector__kind { CK_NONE, CK_K8S, CK_DOCKER, CK_SERVICE, CK_LOOKOUT };
typedef struct collector__cinfo {
  enum collector__kind kind;
  char id[72];        /* container id (64 hex) when the runtime names one */
  char pod_uid[64];   /* k8s: pod UID with dashes */
  char ns[128], pod[256], container[128]; /* Lookout pods: from the path */
} collector__cinfo;

/* One container. Labels point into strings the container owns. */
typedef struct collector__ctr {
  char *path;                 /* relative cgroup path, leading '/', the `id` label */
  collector__cinfo info;
  char *ns, *pod, *name, *image; /* resolved metadata, or NULL */
  lk_label labels[6];         /* id, node, namespace, pod, container, image (those known) */
  size_t nlabels;
  unsigned hmask;             /* 1 << hier for every hierarchy holding the path */
  int fd[CF_COUNT];
  collector__spec spec;
  int pid;                    /* a process inside, for the network namespace; 0 none */
  uint64_t netns;             /* its netns inode when it differs from the host's, else 0 */
  unsigned seen_gen;          /* rescan generation that last found it */
  unsigned spec_gen;
  bool gone;                  /* vanished mid-cycle; skipped until the next rescan */
  unsigned stagger;           /* spreads detail cycles evenly over containers */
  double inactive_file;       /* from the last memory.stat read; < 0 unknown */
  struct collector__snap *snap; /* detail series of the last detail cycle, or NULL */
} collector__ctr;

/* The detail series of a container's last detail read, repeated (with the
 * current time) on the cycles in between, as cAdvisor repeats values
 * between housekeepings. Strings are copied into mem. */
typedef struct collector__snap_ent {
  const char *name;
  lk_label extra[2];
  size_t nextra;
  double v;
} collector__snap_ent;

typedef struct collector__snap {
  collector__snap_ent *e;
  size_t n;
  char *mem;
} collector__snap;

/*---- the batch of one cycle ----*/

typedef struct collector__batch {
  lk_arena *arena;            /* labels, samples and dynamic strings of the cycle */
  lk_series *series;
  size_t n, cap;
  int64_t t;
} collector__batch;

void collector__batch_init(collector__batch *b);
void collector__batch_fini(collector__batch *b);
void collector__batch_reset(collector__batch *b, int64_t t);
/* Add one series: __name__=name, then base, then extra labels, one sample v.
 * name and every label string must outlive the cycle (static, owned by the
 * collector, or copied with collector__batch_str). */
void collector__emit(collector__batch *b, const char *name, const lk_label *base, size_t nbase,
                     const lk_label *extra, size_t nextra, double v);
/* Add a series whose labels (with __name__) already live in the arena. */
void collector__emit_series(collector__batch *b, const lk_label *ls, size_t n, int64_t t, double v);
const char *collector__batch_str(collector__batch *b, const char *s, size_t n);

/*---- pod/container metadata from the kubelet log layout ----*/

typedef struct collector__meta_ent {
  char *key;                  /* pod uid, or container id */
  char *ns, *pod, *container; /* container is NULL for pod entries */
  char *image;                /* from the kubelet's pod list, or NULL */
} collector__meta_ent;

typedef struct collector__meta {
  collector__meta_ent *pods, *ctrs; /* sorted by key */
  size_t npods, nctrs, pods_cap, ctrs_cap;
} collector__meta;

/* Append an entry (strings copied); pod entries have no container. */
void collector__meta_add(collector__meta *m, bool pod, const char *key, const char *ns,
                         const char *podname, const char *ctr, const char *image);

/*---- the collector ----*/

/* Largest node file read (/proc/mounts, /proc/diskstats on a big host). */
#define COLLECTOR__READ_CAP (256 * 1024)

struct collector {
  char *hier[H_COUNT];        /* absolute roots, NULL when absent */
  char *proc_root, *sys_root, *log_root, *pod_log_dir, *node, *kubelet_url;
  int64_t interval_ms, rescan_ms;
  unsigned detail_every;      /* read detail files every Nth cycle of a container */
  uint64_t cycle;
  bool no_containers, no_node;
  collector_sink sink;
  void (*sink_fini)(void *ctx);

  collector__ctr **ctrs;      /* sorted by path */
  size_t nctrs;
  unsigned gen;               /* rescan generation */
  int watch_fd;               /* inotify on every directory the last walk crossed, or -1 */
  bool watch_complete;        /* the last walk watched every directory it crossed */
  int64_t last_rescan_ms;     /* monotonic ms of the last rescan; < 0 forces one */
  uint64_t host_netns;
  collector__meta meta;

  char (*devnames)[40];       /* block device names by index into devnums */
  uint32_t *devnums;          /* sorted (major << 20 | minor) */
  size_t ndevs;

  struct collector__scraper *scraper; /* NULL without targets */

  collector__batch batch;
  char *read_buf;             /* COLLECTOR__READ_CAP bytes: node files are read here, then
                                 copied into the batch arena at their real size */

  pthread_mutex_t lock;       /* guards stats, running, stop, rescan_requested; never held
                                 while collecting */
  collector_stats stats;
  pthread_t thread;
  bool running, stop, rescan_requested;
  pthread_cond_t wake;
};

/*---- file reading and parsing (cgroup_files.c) ----*/

/* Read a container's file through its cached descriptor into buf (NUL
 * terminated). 0 ok; LK_ENOENT the file does not exist (not an error);
 * LK_ECANCELED the cgroup vanished; LK_EIO other failures. */
int collector__ctr_read(collector *c, collector__ctr *k, enum collector__file f,
                        char *buf, size_t cap, size_t *out_len);
void collector__ctr_close(collector__ctr *k);
/* collector__ctr_read for the cgroup v1/v2 readers, whose buf holds
 * COLLECTOR__CG_BUFSZ bytes. 0 with data; 1 when absent or failed (failures
 * other than absence are counted with collector__note_error); a vanished
 * cgroup also sets *status to LK_ECANCELED. */
#define COLLECTOR__CG_BUFSZ 8192
int collector__cg_read(collector *c, collector__ctr *k, enum collector__file f, const char *what,
                       char *buf, int *status);
/* Read a whole small file (open/read/close). Same codes. */
int collector__read_path(const char *path, char *buf, size_t cap, size_t *out_len);

/* Flat keyed "key value" lines: fills vals[i] for keys[i] found and sets bit
 * i in *found (stops once every key is found). LK_EPARSE when a wanted
 * key's value is not a number. */
int collector__kv(const char *buf, const char *const *keys, size_t nkeys, double *vals,
                  uint32_t *found);
/* Single value: a number, or `max` (sets *is_max). */
int collector__single(const char *buf, double *out, bool *is_max);
/* PSI file: the `total` of `some` and of `full` lines, in microseconds. */
int collector__psi(const char *buf, double *some_us, double *full_us, bool *has_full);
/* Device name for MAJ:MIN ("sda"), or NULL. */
const char *collector__devname(collector *c, unsigned maj, unsigned min);
void collector__load_devnames(collector *c);

/*---- per-hierarchy readers ----*/

/* Core files (detail false) or detail files (true) of one container. */
void collector__read_v1(collector *c, collector__ctr *k, bool detail, int *status);
void collector__read_v2(collector *c, collector__ctr *k, bool detail, int *status);
void collector__spec_v1(collector *c, collector__ctr *k);
void collector__spec_v2(collector *c, collector__ctr *k);
/* Series both hierarchies' readers emit (cgroup_v1.c). */
void collector__emit_faults(collector *c, collector__ctr *k, double pgf_c, double pgmaj_c,
                            double pgf_h, double pgmaj_h);
typedef struct collector__blkdev {
  unsigned maj, min;
  double rb, wb, rio, wio;
} collector__blkdev;
#define COLLECTOR__MAXDEV 32
void collector__emit_blk(collector *c, collector__ctr *k, const collector__blkdev *d, size_t n);
void collector__emit_spec(collector *c, collector__ctr *k);
/* usage - inactive_file of the last memory.stat, floored at 0 (if known). */
void collector__emit_working_set(collector *c, collector__ctr *k, double usage);
void collector__read_net(collector *c, collector__ctr *k);
/* Record a failed read: counts it, logs the first few. Returns code. */
int collector__note_error(collector *c, collector__ctr *k, const char *what, int code);

/*---- discovery (discover.c) ----*/

void collector__classify(const char *path, collector__cinfo *out);
void collector__rescan(collector *c);
/* Names from the log layout, plus the kubelet's pod list when kubelet_url
 * is set (entries with an image win over log entries for the same key).
 * Returns LK_EIO when the kubelet could not be read (logs still loaded). */
int collector__meta_load(collector__meta *m, const char *log_root, const char *pod_log_dir,
                         const char *kubelet_url);
/* Add the pods and containers of a kubelet PodList JSON (kubelet.c). */
int collector__kubelet_parse(collector__meta *m, const char *json, size_t len);
void collector__meta_free(collector__meta *m);
const collector__meta_ent *collector__meta_find(const collector__meta_ent *v, size_t n,
                                                const char *key);
void collector__ctr_free(collector__ctr *k);
void collector__snap_free(collector__snap *s); /* NULL is fine */

/*---- node metrics (node.c) ----*/

void collector__read_node(collector *c);
/* Parse a /proc/net/dev style file and emit one set of counters per
 * interface (skipping names with any of the skip prefixes). */
int collector__emit_netdev(collector *c, const char *buf, const char *prefix,
                           const char *iface_label, const lk_label *base, size_t nbase,
                           bool skip_virtual);

/*---- target scraping (scrape.c) ----*/

struct collector__scraper *collector__scraper_new(const collector_target *t, size_t n,
                                                  int64_t default_interval_ms);
void collector__scraper_free(struct collector__scraper *s);
void collector__scrape(collector *c, int64_t now_ms);

#endif
