/* rescan.c — rediscovering containers: walk every hierarchy, merge what was
 * found into the sorted container table, (re)name containers from the log
 * metadata, refresh their limits now and then and find a process inside for
 * the network namespace.
 *
 * Cost: one readdir per cgroup directory per hierarchy (container leaves are
 * not descended), limits re-read every SPEC_EVERY rescans, /proc lookups only
 * for containers without a known process. Runs between cycles, so freeing a
 * vanished container cannot leave a batch pointing at its labels.
 *
 * The walk is skipped when nothing changed: every directory it crosses gets
 * an inotify watch (before its readdir, so nothing created in between is
 * missed) for entries created, deleted or moved, as cAdvisor watches
 * cgroups; mkdir and rmdir of a cgroup are such events. The next rescan
 * walks again only when an event (or a queue overflow) arrived, when a
 * watch could not be added (the inotify limits), or when a container was
 * marked gone; otherwise it refreshes names and limits of the containers
 * it has.
 */
#include <sys/inotify.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/collector_int.h"
#include "lib/lk_log.h"

#define SPEC_EVERY 6
#define MAX_DEPTH 24
#define MAX_FOUND 200000

typedef struct found {
  char *path;
  unsigned mask;
} found;

typedef struct walk {
  found *v;
  size_t n, cap;
  unsigned mask;
  const char *root;           /* absolute path of the hierarchy being walked */
  int watch_fd;               /* -1: no watches */
  bool watch_complete;        /* every directory crossed is watched */
  char path[4096];
} walk;

#define WATCH_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
                      IN_MOVE_SELF | IN_ONLYDIR)

static void watch_dir(walk *w, size_t plen)
{
  char abs[8192];
  if (w->watch_fd < 0 ||
      snprintf(abs, sizeof abs, "%s%.*s", w->root, (int)plen, w->path) >= (int)sizeof abs ||
      inotify_add_watch(w->watch_fd, abs, WATCH_EVENTS) < 0)
    w->watch_complete = false;
}

static bool is_dir(int dfd, const struct dirent *de)
{
  if (de->d_type == DT_DIR)
    return true;
  if (de->d_type != DT_UNKNOWN)
    return false;
  struct stat st;
  return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Walk the directory open as dfd whose relative path is w->path[0..plen). */
static void walk_dir(walk *w, int dfd, size_t plen, int depth)
{
  watch_dir(w, plen);
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || !is_dir(dirfd(d), de))
      continue;
    size_t nl = strlen(de->d_name);
    if (plen + 1 + nl + 1 > sizeof w->path || w->n >= MAX_FOUND)
      continue;
    w->path[plen] = '/';
    memcpy(w->path + plen + 1, de->d_name, nl + 1);
    collector__cinfo ci;
    collector__classify(w->path, &ci);
    if (ci.kind != CK_NONE) {
      w->v = lk_xgrow(w->v, &w->cap, w->n + 1, sizeof *w->v);
      w->v[w->n++] = (found){lk_xstrdup(w->path), w->mask};
    } else if (depth < MAX_DEPTH) {
      int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sub >= 0)
        walk_dir(w, sub, plen + 1 + nl, depth + 1);
    }
  }
  closedir(d);
}

static int found_cmp(const void *a, const void *b)
{
  return strcmp(((const found *)a)->path, ((const found *)b)->path);
}

/* Hierarchy roots that are the same directory (co-mounted cpu,cpuacct) are
 * walked once with both bits. */
static void walk_all(collector *c, walk *w)
{
  char real[H_COUNT][4096];
  for (int h = 0; h < H_COUNT; h++) {
    if (!c->hier[h] || !realpath(c->hier[h], real[h])) {
      real[h][0] = 0;
      continue;
    }
    bool dup = false;
    for (int g = 0; g < h; g++)
      dup |= real[g][0] && !strcmp(real[g], real[h]);
    if (dup)
      continue;
    w->mask = 1u << h;
    for (int g = h + 1; g < H_COUNT; g++)
      if (c->hier[g] && !strcmp(c->hier[g], c->hier[h]))
        w->mask |= 1u << g;
    char r2[4096];
    for (int g = h + 1; g < H_COUNT; g++)
      if (c->hier[g] && realpath(c->hier[g], r2) && !strcmp(r2, real[h]))
        w->mask |= 1u << g;
    int dfd = open(c->hier[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    w->root = c->hier[h];
    if (dfd >= 0)
      walk_dir(w, dfd, 0, 0);
    else
      w->watch_complete = false;
  }
  if (w->n)
    qsort(w->v, w->n, sizeof *w->v, found_cmp);
  size_t o = 0; /* merge equal paths */
  for (size_t i = 0; i < w->n; i++) {
    if (o && !strcmp(w->v[o - 1].path, w->v[i].path)) {
      w->v[o - 1].mask |= w->v[i].mask;
      free(w->v[i].path);
    } else
      w->v[o++] = w->v[i];
  }
  w->n = o;
}

void collector__ctr_free(collector__ctr *k)
{
  if (!k)
    return;
  collector__ctr_close(k);
  collector__snap_free(k->snap);
  free(k->path);
  free(k->ns);
  free(k->pod);
  free(k->name);
  free(k->image);
  free(k);
}

static collector__ctr *ctr_new(char *path, unsigned mask, unsigned stagger)
{
  collector__ctr *k = lk_xcalloc(1, sizeof *k);
  k->stagger = stagger;
  k->inactive_file = -1;
  k->path = path;
  k->hmask = mask;
  collector__classify(path, &k->info);
  for (int f = 0; f < CF_COUNT; f++)
    k->fd[f] = COLLECTOR__FD_UNOPENED;
  return k;
}

static void set_str(char **dst, const char *s)
{
  if (*dst && s && !strcmp(*dst, s))
    return;
  free(*dst);
  *dst = s && *s ? lk_xstrdup(s) : NULL;
}

/* Resolve namespace/pod/container and rebuild the label array. */
static void name_ctr(collector *c, collector__ctr *k)
{
  const collector__cinfo *ci = &k->info;
  const char *ns = NULL, *pod = NULL, *name = NULL, *image = NULL;
  if (ci->kind == CK_LOOKOUT) {
    ns = ci->ns;
    pod = ci->pod;
    name = ci->container;
  } else if (ci->kind == CK_K8S) {
    const collector__meta_ent *e = collector__meta_find(c->meta.ctrs, c->meta.nctrs, ci->id);
    if (!e)
      e = collector__meta_find(c->meta.pods, c->meta.npods, ci->pod_uid);
    if (e) {
      ns = e->ns;
      pod = e->pod;
      name = e->container;
      image = e->image;
    }
  }
  set_str(&k->ns, ns);
  set_str(&k->pod, pod);
  set_str(&k->name, name);
  set_str(&k->image, image);
  size_t n = 0;
  k->labels[n++] = (lk_label){"id", k->path};
  if (c->node[0])
    k->labels[n++] = (lk_label){"node", c->node};
  if (k->ns)
    k->labels[n++] = (lk_label){"namespace", k->ns};
  if (k->pod)
    k->labels[n++] = (lk_label){"pod", k->pod};
  if (k->name)
    k->labels[n++] = (lk_label){"container", k->name};
  if (k->image)
    k->labels[n++] = (lk_label){"image", k->image};
  k->nlabels = n;
}

static uint64_t netns_of(const char *proc_root, const char *pid)
{
  char p[4096], link[128];
  snprintf(p, sizeof p, "%s/%s/ns/net", proc_root, pid);
  ssize_t n = readlink(p, link, sizeof link - 1);
  if (n <= 0)
    return 0;
  link[n] = 0;
  unsigned long long ino;
  return sscanf(link, "net:[%llu]", &ino) == 1 ? ino : 0;
}

/* A process inside (the first of cgroup.procs) and its netns. */
static void find_pid(collector *c, collector__ctr *k)
{
  for (int h = H_COUNT - 1; h >= 0 && !k->pid; h--) {
    if (!c->hier[h] || !(k->hmask & (1u << h)))
      continue;
    char p[4096], buf[64];
    size_t len;
    snprintf(p, sizeof p, "%s%s/cgroup.procs", c->hier[h], k->path);
    if (collector__read_path(p, buf, sizeof buf, &len) == 0)
      k->pid = atoi(buf);
  }
  char pid[16];
  snprintf(pid, sizeof pid, "%d", k->pid);
  uint64_t ns = k->pid > 0 ? netns_of(c->proc_root, pid) : 0;
  k->netns = ns && ns != c->host_netns ? ns : 0;
}

static void refresh(collector *c, collector__ctr *k, bool fresh)
{
  size_t nlabels = k->nlabels;
  name_ctr(c, k);
  if (k->nlabels != nlabels) { /* the snapshot's extras sit after the base labels */
    collector__snap_free(k->snap);
    k->snap = NULL;
  }
  if (fresh || c->gen % SPEC_EVERY == 0) {
    memset(&k->spec, 0, sizeof k->spec);
    collector__spec_v1(c, k);
    collector__spec_v2(c, k);
    for (int f = 0; f < CF_COUNT; f++) /* retry files that were absent */
      if (k->fd[f] == COLLECTOR__FD_ABSENT)
        k->fd[f] = COLLECTOR__FD_UNOPENED;
  }
  if (!k->pid)
    find_pid(c, k);
}

/* Merge the sorted walk result into the sorted container table. */
static void merge(collector *c, walk *w)
{
  collector__ctr **out = lk_xcalloc(w->n ? w->n : 1, sizeof *out);
  size_t i = 0, j = 0, o = 0;
  while (i < c->nctrs || j < w->n) {
    int cmp = i == c->nctrs ? 1 : j == w->n ? -1 : strcmp(c->ctrs[i]->path, w->v[j].path);
    if (cmp < 0) {
      collector__ctr_free(c->ctrs[i++]);
    } else if (cmp > 0) {
      out[o] = ctr_new(w->v[j].path, w->v[j].mask, (unsigned)o);
      refresh(c, out[o++], true);
      j++;
    } else {
      collector__ctr *k = c->ctrs[i++];
      if (k->hmask != w->v[j].mask || k->gone) {
        collector__ctr_close(k);
        collector__snap_free(k->snap);
        k->snap = NULL;
        k->hmask = w->v[j].mask;
        k->gone = false;
        k->pid = 0;
      }
      free(w->v[j++].path);
      refresh(c, k, false);
      out[o++] = k;
    }
  }
  free(c->ctrs);
  c->ctrs = out;
  c->nctrs = o;
}

/* Whether the container table may be stale: see the file comment. Drains
 * the events. */
static bool walk_needed(collector *c)
{
  if (c->watch_fd < 0)
    c->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  bool need = c->watch_fd < 0 || !c->watch_complete;
  _Alignas(struct inotify_event) char ev[4096];
  while (c->watch_fd >= 0 && read(c->watch_fd, ev, sizeof ev) > 0)
    need = true;
  for (size_t i = 0; i < c->nctrs && !need; i++)
    need = c->ctrs[i]->gone;
  return need;
}

void collector__rescan(collector *c)
{
  walk w = {.watch_fd = -1};
  c->gen++;
  c->host_netns = netns_of(c->proc_root, "1"); /* init's, or ours when init's is hidden */
  if (!c->host_netns)
    c->host_netns = netns_of(c->proc_root, "self");
  if (collector__meta_load(&c->meta, c->log_root, c->pod_log_dir, c->kubelet_url))
    collector__note_error(c, NULL, "kubelet pod list", LK_EIO);
  collector__load_devnames(c);
  bool walked = walk_needed(c);
  if (walked) {
    w.watch_fd = c->watch_fd;
    w.watch_complete = true;
    walk_all(c, &w);
    c->watch_complete = w.watch_complete;
    merge(c, &w);
    free(w.v);
  } else
    for (size_t i = 0; i < c->nctrs; i++)
      refresh(c, c->ctrs[i], false);
  pthread_mutex_lock(&c->lock);
  c->stats.rescans++;
  c->stats.rescan_walks += walked;
  c->stats.containers = c->nctrs;
  pthread_mutex_unlock(&c->lock);
  lk_debug("collector rescan: %zu containers", c->nctrs);
}
