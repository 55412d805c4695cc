/* runtime_bundle.c — the OCI bundle of one container: config.json written
 * from the Pod's container spec with jansson, and the checks that refuse
 * what cannot run before anything starts.
 *
 * Root: `image: host` (or empty) is the host's `/`, bind-mounted recursively
 * and read-only onto the bundle's empty rootfs/ inside the container's mount
 * namespace (pivot_root on `/` itself fails); an absolute path is a rootfs
 * directory, read-only; registry images are refused. Every container gets a
 * private writable /tmp (tmpfs). emptyDir volumes are directories under the
 * pod's state dir, bind-mounted read-write.
 *
 * Resources (cgroup v1 through the runtime): CPU shares from requests.cpu
 * (else limits.cpu, else 2, as the kubelet), CFS quota from limits.cpu over
 * a 100 ms period, memory limit from limits.memory.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/lk_fs.h"
#include "orchestrator/runtime_int.h"

#define CFS_PERIOD_US 100000

static const char *const default_caps[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

static const char *const masked_paths[] = {
  "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"};

static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                             "/proc/sysrq-trigger"};

/*---- quantities ----*/

int orch__quantity(const char *s, int64_t mult, int64_t *out)
{
  static const struct {
    const char *sfx;
    double f;
  } units[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
               {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}, {"n", 1e-9},
               {"u", 1e-6}, {"m", 1e-3}, {"", 1}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9},
               {"T", 1e12}, {"P", 1e15}, {"E", 1e18}};
  if (!s || !*s || !strchr("0123456789.+", *s))
    return LK_EINVAL;
  char *end;
  double v = strtod(s, &end);
  if (end == s || !isfinite(v) || v < 0)
    return LK_EINVAL;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(end, units[i].sfx)) {
      double r = ceil(v * units[i].f * (double)mult - 1e-9);
      if (r > 9.2e18)
        return LK_EINVAL;
      *out = (int64_t)r;
      return 0;
    }
  return LK_EINVAL;
}

/*---- checks ----*/

static const char *str_of(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static bool is_dir(const char *p)
{
  struct stat st;
  return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static bool host_image(const char *image)
{
  return !image || !*image || !strcmp(image, "host");
}

static int check_image(const char *image, size_t i, lk_diag *d)
{
  if (host_image(image))
    return 0;
  if (image[0] != '/')
    return lk_diag_set(d, LK_EINVAL, -1,
                       "spec.containers[%zu].image: \"%s\": registry images are not supported "
                       "(use \"host\" or the absolute path of a root filesystem directory)",
                       i, image);
  if (!strcmp(image, "/"))
    return lk_diag_set(d, LK_EINVAL, -1, "spec.containers[%zu].image: \"/\" cannot be a root "
                       "directory (pivot_root on / fails); use \"host\" for the host's filesystem",
                       i);
  if (!is_dir(image))
    return lk_diag_set(d, LK_EINVAL, -1,
                       "spec.containers[%zu].image: image directory \"%s\" does not exist", i,
                       image);
  return 0;
}

static int check_resources(const json_t *res, size_t i, lk_diag *d)
{
  static const char *const kinds[] = {"requests", "limits"};
  for (int k = 0; k < 2; k++) {
    const json_t *m = json_object_get(res, kinds[k]);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)m, key, v) {
      int64_t q;
      const char *s = json_string_value(v);
      char num[32];
      if (json_is_number(v)) {
        snprintf(num, sizeof num, "%.17g", json_number_value(v));
        s = num;
      }
      if (orch__quantity(s, 1000, &q))
        return lk_diag_set(d, LK_EINVAL, -1,
                           "spec.containers[%zu].resources.%s.%s: \"%s\" is not a quantity", i,
                           kinds[k], key, s ? s : "");
    }
  }
  return 0;
}

static const json_t *find_volume(const json_t *spec, const char *name)
{
  size_t i;
  const json_t *v;
  json_array_foreach(json_object_get(spec, "volumes"), i, v)
    if (str_of(v, "name") && name && !strcmp(str_of(v, "name"), name))
      return v;
  return NULL;
}

static int check_mounts(const json_t *spec, const json_t *c, size_t i, lk_diag *d)
{
  size_t j;
  const json_t *m;
  json_array_foreach(json_object_get(c, "volumeMounts"), j, m) {
    const char *name = str_of(m, "name"), *path = str_of(m, "mountPath");
    const json_t *v = find_volume(spec, name);
    if (!v)
      return lk_diag_set(d, LK_EINVAL, -1,
                         "spec.containers[%zu].volumeMounts[%zu].name: no volume \"%s\"", i, j,
                         name ? name : "");
    if (!json_object_get(v, "emptyDir"))
      return lk_diag_set(d, LK_EINVAL, -1, "spec.volumes: volume \"%s\": only emptyDir volumes "
                         "are supported", name);
    if (!path || path[0] != '/')
      return lk_diag_set(d, LK_EINVAL, -1,
                         "spec.containers[%zu].volumeMounts[%zu].mountPath: must be absolute", i,
                         j);
    bool under_tmp = !strncmp(path, "/tmp/", 5) || !strcmp(path, "/tmp");
    if (host_image(str_of(c, "image")) && !under_tmp && !is_dir(path))
      return lk_diag_set(d, LK_EINVAL, -1,
                         "spec.containers[%zu].volumeMounts[%zu].mountPath: %s does not exist in "
                         "the read-only host root (use an existing directory or one under /tmp)",
                         i, j, path);
  }
  return 0;
}

int orch__bundle_check(const json_t *pod, lk_diag *d)
{
  const json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
  const char *uid = str_of(meta, "uid"), *name = str_of(meta, "name");
  if (!uid || !*uid || strchr(uid, '_') || strchr(uid, '/'))
    return lk_diag_set(d, LK_EINVAL, -1, "metadata.uid: missing or not usable in a path");
  if (!name || !*name || strchr(name, '_') || strchr(name, '/'))
    return lk_diag_set(d, LK_EINVAL, -1, "metadata.name: missing or not a DNS name");
  const json_t *ctrs = json_object_get(spec, "containers");
  if (!json_array_size(ctrs))
    return lk_diag_set(d, LK_EINVAL, -1, "spec.containers: at least one container is required");
  size_t i;
  const json_t *c;
  json_array_foreach(ctrs, i, c) {
    const char *cn = str_of(c, "name");
    if (!cn || !*cn || strchr(cn, '/') || strchr(cn, '_') || cn[0] == '.')
      return lk_diag_set(d, LK_EINVAL, -1, "spec.containers[%zu].name: missing or invalid", i);
    if (!json_array_size(json_object_get(c, "command")) && !json_array_size(json_object_get(c, "args")))
      return lk_diag_set(d, LK_EINVAL, -1,
                         "spec.containers[%zu]: command or args is required (images have no "
                         "entrypoint here)", i);
    int rc = check_image(str_of(c, "image"), i, d);
    if (!rc)
      rc = check_resources(json_object_get(c, "resources"), i, d);
    if (!rc)
      rc = check_mounts(spec, c, i, d);
    if (rc)
      return rc;
  }
  return 0;
}

/*---- config.json ----*/

static json_t *str_array(const char *const *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *process_json(const orch__pod *p, const json_t *c)
{
  json_t *args = json_array();
  size_t i;
  const json_t *v;
  json_array_foreach(json_object_get(c, "command"), i, v)
    json_array_append(args, (json_t *)v);
  json_array_foreach(json_object_get(c, "args"), i, v)
    json_array_append(args, (json_t *)v);
  json_t *env = json_array();
  json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  json_array_append_new(env, json_sprintf("HOSTNAME=%s", p->name));
  json_array_foreach(json_object_get(c, "env"), i, v) {
    const char *n = str_of(v, "name"), *val = str_of(v, "value");
    if (n)
      json_array_append_new(env, json_sprintf("%s=%s", n, val ? val : ""));
  }
  const char *cwd = str_of(c, "workingDir");
  size_t ncap = sizeof default_caps / sizeof default_caps[0];
  json_t *caps = json_object();
  static const char *const sets[] = {"bounding", "effective", "permitted"};
  for (int k = 0; k < 3; k++)
    json_object_set_new(caps, sets[k], str_array(default_caps, ncap));
  /* no rlimits: the container keeps Lookout's */
  return json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:b}", "terminal", 0, "user", "uid",
                   0, "gid", 0, "args", args, "env", env, "cwd", cwd && *cwd ? cwd : "/",
                   "capabilities", caps, "noNewPrivileges", 1);
}

static void add_mount(json_t *mounts, const char *dest, const char *type, const char *src,
                      const char *opts)
{
  json_t *o = json_array();
  char buf[256];
  snprintf(buf, sizeof buf, "%s", opts);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(o, json_string(t));
  json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type",
                                          type, "source", src, "options", o));
}

/* Mount point field of a mountinfo line, octal escapes (\040) decoded. */
static bool mountinfo_point(const char *line, char *out, size_t cap, bool *rw)
{
  const char *f = line;
  for (int i = 0; i < 4 && f; i++)
    f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
  if (!f)
    return false;
  size_t o = 0;
  for (; *f && *f != ' ' && o + 1 < cap; f++) {
    if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] && f[3]) {
      out[o++] = (char)((f[1] - '0') * 64 + (f[2] - '0') * 8 + (f[3] - '0'));
      f += 3;
    } else
      out[o++] = *f;
  }
  out[o] = 0;
  *rw = f[0] == ' ' && !strncmp(f + 1, "rw", 2) && (f[3] == ',' || f[3] == ' ');
  return true;
}

static bool under(const char *path, const char *dir)
{
  size_t n = strlen(dir);
  return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* The host root, read-only all the way down: `rbind,ro` makes only the top
 * mount read-only, so every writable mount below it is bound again
 * read-only (except what the container mounts its own /proc, /sys, /dev,
 * /tmp over). */
static void add_host_root(json_t *m)
{
  add_mount(m, "/", "bind", "/", "rbind,ro");
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[8192], mp[4096];
  bool rw;
  static const char *const own[] = {"/proc", "/sys", "/dev", "/tmp"};
  while (f && fgets(line, sizeof line, f)) {
    if (!mountinfo_point(line, mp, sizeof mp, &rw) || !rw || !strcmp(mp, "/"))
      continue;
    bool skip = false;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
      skip = skip || under(mp, own[i]);
    if (!skip)
      add_mount(m, mp, "bind", mp, "rbind,ro");
  }
  if (f)
    fclose(f);
}

static json_t *mounts_json(const orch__pod *p, const json_t *c)
{
  json_t *m = json_array();
  if (host_image(str_of(c, "image")))
    add_host_root(m);
  add_mount(m, "/proc", "proc", "proc", "nosuid,noexec,nodev");
  add_mount(m, "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k");
  add_mount(m, "/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5");
  add_mount(m, "/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k");
  add_mount(m, "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev");
  if (p->host_network) /* sysfs cannot be mounted outside a network namespace of one's own */
    add_mount(m, "/sys", "bind", "/sys", "rbind,nosuid,noexec,nodev,ro");
  else
    add_mount(m, "/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro");
  add_mount(m, "/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro");
  add_mount(m, "/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777");
  size_t j;
  const json_t *vm;
  json_array_foreach(json_object_get(c, "volumeMounts"), j, vm) {
    char src[4096];
    snprintf(src, sizeof src, "%s/volumes/%s", p->dir, str_of(vm, "name"));
    lk_mkdir_p(src);
    bool ro = json_is_true(json_object_get(vm, "readOnly"));
    add_mount(m, str_of(vm, "mountPath"), "bind", src, ro ? "rbind,ro" : "rbind,rw");
  }
  return m;
}

static int64_t quantity_of(const json_t *res, const char *kind, const char *key, int64_t mult)
{
  const json_t *v = json_object_get(json_object_get(res, kind), key);
  char num[32];
  const char *s = json_string_value(v);
  if (json_is_number(v)) {
    snprintf(num, sizeof num, "%.17g", json_number_value(v));
    s = num;
  }
  int64_t q;
  return s && !orch__quantity(s, mult, &q) ? q : -1;
}

static json_t *resources_json(const json_t *c)
{
  const json_t *res = json_object_get(c, "resources");
  int64_t req_cpu = quantity_of(res, "requests", "cpu", 1000);
  int64_t lim_cpu = quantity_of(res, "limits", "cpu", 1000);
  int64_t lim_mem = quantity_of(res, "limits", "memory", 1);
  int64_t shares_m = req_cpu >= 0 ? req_cpu : lim_cpu;
  int64_t shares = shares_m > 0 ? shares_m * 1024 / 1000 : 2;
  json_t *cpu = json_pack("{s:I}", "shares", (json_int_t)(shares < 2 ? 2 : shares));
  if (lim_cpu > 0) {
    int64_t quota = lim_cpu * CFS_PERIOD_US / 1000;
    json_object_set_new(cpu, "quota", json_integer(quota < 1000 ? 1000 : quota));
    json_object_set_new(cpu, "period", json_integer(CFS_PERIOD_US));
  }
  json_t *r = json_pack("{s:[{s:b, s:s}], s:o}", "devices", "allow", 0, "access", "rwm", "cpu", cpu);
  if (lim_mem > 0)
    json_object_set_new(r, "memory", json_pack("{s:I}", "limit", (json_int_t)lim_mem));
  return r;
}

static json_t *linux_json(const orch__pod *p, const orch__ctr *c, const json_t *cs)
{
  char ipc[4096], net[4096];
  orch__sandbox_path(p, "ipc", ipc, sizeof ipc);
  orch__sandbox_path(p, "net", net, sizeof net);
  json_t *ns = json_pack("[{s:s}, {s:s, s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc",
                         "path", ipc, "type", "uts", "type", "mount");
  if (!p->host_network)
    json_array_append_new(ns, json_pack("{s:s, s:s}", "type", "network", "path", net));
  char cg[1024];
  snprintf(cg, sizeof cg, "/lookout/%s_%s_%s/%s", p->ns, p->name, p->uid, c->name);
  return json_pack("{s:s, s:o, s:o, s:o, s:o}", "cgroupsPath", cg, "resources",
                   resources_json(cs), "namespaces", ns, "maskedPaths",
                   str_array(masked_paths, sizeof masked_paths / sizeof masked_paths[0]),
                   "readonlyPaths",
                   str_array(readonly_paths, sizeof readonly_paths / sizeof readonly_paths[0]));
}

int orch__bundle_write(const orch__pod *p, const orch__ctr *c, const json_t *cs,
                       lk_diag *d)
{
  const char *image = str_of(cs, "image");
  char rootfs[4096], path[4096];
  snprintf(rootfs, sizeof rootfs, "%s/rootfs", c->dir);
  if (lk_mkdir_p(rootfs) || lk_mkdir_p(c->log_dir))
    return lk_diag_set(d, LK_EIO, -1, "cannot create %s: %s", rootfs, strerror(errno));
  json_t *cfg = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2",
                          "process", process_json(p, cs), "root", "path",
                          host_image(image) ? rootfs : image, "readonly", 1, "hostname",
                          p->name, "mounts", mounts_json(p, cs), "linux",
                          linux_json(p, c, cs));
  snprintf(path, sizeof path, "%s/config.json", c->dir);
  int rc = cfg && !json_dump_file(cfg, path, JSON_INDENT(1)) ? 0 : LK_EIO;
  json_decref(cfg);
  if (rc)
    return lk_diag_set(d, rc, -1, "cannot write %s", path);
  return 0;
}
