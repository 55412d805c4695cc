/* discover.c — what a cgroup path and the log layout say about a
 * container: classification of a cgroup path (Kubernetes cgroupfs and
 * systemd drivers, Docker, systemd services, Lookout's own pods) and the
 * names from the kubelet log layout (/var/log/pods/<ns>_<pod>_<uid>/ and
 * /var/log/containers/<pod>_<ns>_<container>-<id>.log). rescan.c walks the
 * hierarchies and applies both.
 *
 * Why by path and logs: these are what every node has without talking to
 * the kubelet or the runtime, and re-reading them on each rescan follows pods
 * as they come and go. Pod, namespace and container names cannot contain
 * '_' (DNS labels), which makes the `_`-joined names unambiguous.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector_int.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"

#define MAX_DEPTH 24

/*---- classification by path ----*/

static bool is_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

static bool has_prefix(const char *s, size_t n, const char *pfx)
{
  size_t l = strlen(pfx);
  return n >= l && !memcmp(s, pfx, l);
}

static bool has_suffix(const char *s, size_t n, const char *sfx)
{
  size_t l = strlen(sfx);
  return n >= l && !memcmp(s + n - l, sfx, l);
}

static void copy_part(char *dst, size_t cap, const char *s, size_t n)
{
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, s, n);
  dst[n] = 0;
}

/* `<prefix><64hex>.scope` for the runtimes runc's systemd driver names. */
static bool runtime_scope(const char *leaf, size_t n, char *id)
{
  static const char *const pfx[] = {"cri-containerd-", "crio-", "docker-"};
  for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++) {
    size_t pl = strlen(pfx[i]);
    if (n == pl + 64 + 6 && has_prefix(leaf, n, pfx[i]) && has_suffix(leaf, n, ".scope") &&
        is_hex(leaf + pl, 64)) {
      copy_part(id, 72, leaf + pl, 64);
      return true;
    }
  }
  return false;
}

/* k8s systemd pod slice `kubepods[-qos]-pod<uid_>.slice` -> uid with dashes. */
static bool systemd_pod(const char *s, size_t n, char *uid)
{
  if (!has_prefix(s, n, "kubepods") || !has_suffix(s, n, ".slice"))
    return false;
  const char *p = NULL;
  for (size_t i = 0; i + 4 <= n; i++)
    if (!memcmp(s + i, "-pod", 4))
      p = s + i + 4;
  if (!p)
    return false;
  size_t l = (size_t)(s + n - 6 - p);
  copy_part(uid, 64, p, l);
  for (char *q = uid; *q; q++)
    if (*q == '_')
      *q = '-';
  return l > 0;
}

static bool lookout_pod(const char *s, size_t n, collector__cinfo *out)
{
  const char *u1 = memchr(s, '_', n);
  const char *u2 = u1 ? memchr(u1 + 1, '_', (size_t)(s + n - u1 - 1)) : NULL;
  if (!u2 || u1 == s || u2 == u1 + 1 || u2 + 1 == s + n)
    return false;
  copy_part(out->ns, sizeof out->ns, s, (size_t)(u1 - s));
  copy_part(out->pod, sizeof out->pod, u1 + 1, (size_t)(u2 - u1 - 1));
  copy_part(out->pod_uid, sizeof out->pod_uid, u2 + 1, (size_t)(s + n - u2 - 1));
  return true;
}

void collector__classify(const char *path, collector__cinfo *out)
{
  memset(out, 0, sizeof *out);
  const char *part[MAX_DEPTH + 1];
  size_t len[MAX_DEPTH + 1], n = 0;
  bool under_kubepods = false;
  for (const char *p = path; *p && n <= MAX_DEPTH;) {
    while (*p == '/')
      p++;
    if (!*p)
      break;
    const char *e = strchr(p, '/');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (has_prefix(p, l, "kubepods"))
      under_kubepods = true;
    part[n] = p;
    len[n++] = l;
    p += l;
  }
  if (n < 2 || n > MAX_DEPTH)
    return;
  const char *leaf = part[n - 1], *par = part[n - 2];
  size_t ll = len[n - 1], pl = len[n - 2];
  if (n >= 3 && len[n - 3] == 7 && !memcmp(part[n - 3], "lookout", 7) &&
      lookout_pod(par, pl, out)) {
    out->kind = CK_LOOKOUT;
    copy_part(out->container, sizeof out->container, leaf, ll);
  } else if (under_kubepods && ll == 64 && is_hex(leaf, 64) && has_prefix(par, pl, "pod")) {
    out->kind = CK_K8S;
    copy_part(out->id, sizeof out->id, leaf, 64);
    copy_part(out->pod_uid, sizeof out->pod_uid, par + 3, pl - 3);
  } else if (under_kubepods && systemd_pod(par, pl, out->pod_uid) &&
             runtime_scope(leaf, ll, out->id)) {
    out->kind = CK_K8S;
  } else if (!under_kubepods && ((pl == 6 && !memcmp(par, "docker", 6) && ll == 64 &&
                                  is_hex(leaf, 64)) ||
                                 (has_prefix(leaf, ll, "docker-") && runtime_scope(leaf, ll, out->id)))) {
    out->kind = CK_DOCKER;
    if (!out->id[0])
      copy_part(out->id, sizeof out->id, leaf, 64);
  } else if (pl == 12 && !memcmp(par, "system.slice", 12) && has_suffix(leaf, ll, ".service")) {
    out->kind = CK_SERVICE;
  }
  if (out->kind == CK_NONE)
    memset(out, 0, sizeof *out);
}

/*---- metadata from the log layout ----*/

static int ent_cmp(const void *a, const void *b)
{
  return strcmp(((const collector__meta_ent *)a)->key, ((const collector__meta_ent *)b)->key);
}

static void add_ent(collector__meta_ent **v, size_t *n, size_t *cap, const char *key, size_t kl,
                    const char *ns, size_t nsl, const char *pod, size_t podl, const char *ctr,
                    size_t cl)
{
  *v = lk_xgrow(*v, cap, *n + 1, sizeof **v);
  collector__meta_ent *e = &(*v)[(*n)++];
  e->key = lk_xstrndup(key, kl);
  e->ns = lk_xstrndup(ns, nsl);
  e->pod = lk_xstrndup(pod, podl);
  e->container = ctr ? lk_xstrndup(ctr, cl) : NULL;
  e->image = NULL;
}

void collector__meta_add(collector__meta *m, bool pod, const char *key, const char *ns,
                         const char *podname, const char *ctr, const char *image)
{
  collector__meta_ent **v = pod ? &m->pods : &m->ctrs;
  size_t *n = pod ? &m->npods : &m->nctrs, *cap = pod ? &m->pods_cap : &m->ctrs_cap;
  add_ent(v, n, cap, key, strlen(key), ns, strlen(ns), podname, strlen(podname), ctr,
          ctr ? strlen(ctr) : 0);
  (*v)[*n - 1].image = image ? lk_xstrdup(image) : NULL;
}

static void ent_free(collector__meta_ent *e)
{
  free(e->key);
  free(e->ns);
  free(e->pod);
  free(e->container);
  free(e->image);
}

/* Sort by key; of equal keys keep one, preferring an entry with an image. */
static void sort_dedupe(collector__meta_ent *v, size_t *n)
{
  if (!*n)
    return;
  qsort(v, *n, sizeof *v, ent_cmp);
  size_t o = 0;
  for (size_t i = 0; i < *n; i++) {
    if (o && !strcmp(v[o - 1].key, v[i].key)) {
      if (!v[o - 1].image && v[i].image) {
        ent_free(&v[o - 1]);
        v[o - 1] = v[i];
      } else
        ent_free(&v[i]);
    } else
      v[o++] = v[i];
  }
  *n = o;
}

/* <dir>/<ns>_<pod>_<uid> entries. */
static void load_pods(collector__meta *m, const char *dir)
{
  size_t *cap = &m->pods_cap;
  DIR *d = dir ? opendir(dir) : NULL;
  struct dirent *de;
  while (d && (de = readdir(d))) {
    collector__cinfo ci;
    if (de->d_name[0] != '.' && lookout_pod(de->d_name, strlen(de->d_name), &ci))
      add_ent(&m->pods, &m->npods, cap, ci.pod_uid, strlen(ci.pod_uid), ci.ns, strlen(ci.ns),
              ci.pod, strlen(ci.pod), NULL, 0);
  }
  if (d)
    closedir(d);
}

/* <dir>/<pod>_<ns>_<container>-<64hex>.log entries. */
static void load_ctrs(collector__meta *m, const char *dir)
{
  size_t *cap = &m->ctrs_cap;
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    const char *s = de->d_name;
    size_t n = strlen(s);
    if (n < 4 + 65 + 5 || !has_suffix(s, n, ".log") || s[n - 4 - 65] != '-' ||
        !is_hex(s + n - 4 - 64, 64))
      continue;
    const char *u1 = memchr(s, '_', n), *end = s + n - 4 - 65;
    const char *u2 = u1 ? memchr(u1 + 1, '_', (size_t)(end - u1 - 1)) : NULL;
    if (!u2 || u1 == s || u2 == u1 + 1 || u2 + 1 >= end)
      continue;
    add_ent(&m->ctrs, &m->nctrs, cap, s + n - 4 - 64, 64, u1 + 1, (size_t)(u2 - u1 - 1), s,
            (size_t)(u1 - s), u2 + 1, (size_t)(end - u2 - 1));
  }
  if (d)
    closedir(d);
}

void collector__meta_free(collector__meta *m)
{
  collector__meta_ent *v[2] = {m->pods, m->ctrs};
  size_t n[2] = {m->npods, m->nctrs};
  for (int j = 0; j < 2; j++) {
    for (size_t i = 0; i < n[j]; i++)
      ent_free(&v[j][i]);
    free(v[j]);
  }
  memset(m, 0, sizeof *m);
}

static int load_kubelet(collector__meta *m, const char *url)
{
  lk_httpc_resp resp = {0};
  lk_diag d = {0};
  int rc = lk_httpc_get(url, 5000, &resp, &d);
  if (!rc && resp.status != 200)
    rc = lk_diag_set(&d, LK_EIO, -1, "HTTP status %d", resp.status);
  if (!rc)
    rc = collector__kubelet_parse(m, (const char *)resp.body.data, resp.body.len);
  if (rc)
    lk_warn("collector: kubelet pod list %s unusable: %s: %s", url, lk_strerror(rc), d.msg);
  lk_httpc_resp_fini(&resp);
  return rc ? LK_EIO : 0;
}

int collector__meta_load(collector__meta *m, const char *log_root, const char *pod_log_dir,
                         const char *kubelet_url)
{
  char p[4096];
  collector__meta_free(m);
  snprintf(p, sizeof p, "%s/pods", log_root);
  load_pods(m, p);
  load_pods(m, pod_log_dir);
  snprintf(p, sizeof p, "%s/containers", log_root);
  load_ctrs(m, p);
  int rc = kubelet_url ? load_kubelet(m, kubelet_url) : 0;
  sort_dedupe(m->pods, &m->npods);
  sort_dedupe(m->ctrs, &m->nctrs);
  return rc;
}

const collector__meta_ent *collector__meta_find(const collector__meta_ent *v, size_t n,
                                                const char *key)
{
  collector__meta_ent k = {.key = (char *)key};
  return n ? bsearch(&k, v, n, sizeof *v, ent_cmp) : NULL;
}
