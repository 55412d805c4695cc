/* cgroup_files.c — reading cgroup and proc files, and the small parsers for
 * their formats (single value, flat keyed, PSI).
 *
 * Why cached descriptors: opening a cgroup file costs about 6 µs, reading an
 * open one at offset 0 about 1 µs (the kernel regenerates the contents on
 * every read at offset 0). At 1,000 containers and ~15 files each, keeping
 * descriptors open is what makes a 1 s cycle cheap. When the process runs
 * out of descriptors a file is read with open/read/close instead.
 *
 * Descriptor states per container file: >= 0 open, COLLECTOR__FD_UNOPENED,
 * COLLECTOR__FD_ABSENT (the file does not exist; retried after a rescan).
 * A read failing with ENODEV/ENOENT on an open descriptor means the cgroup
 * was removed: the caller drops what it emitted for that container.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector_int.h"
#include "lib/lk_log.h"

static const struct {
  enum collector__hier hier;
  const char *name;
} file_table[CF_COUNT] = {
  [CF_CPUACCT_USAGE] = {H_CPUACCT, "cpuacct.usage"},
  [CF_CPUACCT_STAT] = {H_CPUACCT, "cpuacct.stat"},
  [CF_CPU_STAT] = {H_CPU, "cpu.stat"},
  [CF_MEM_USAGE] = {H_MEMORY, "memory.usage_in_bytes"},
  [CF_MEM_STAT] = {H_MEMORY, "memory.stat"},
  [CF_MEM_MAXUSAGE] = {H_MEMORY, "memory.max_usage_in_bytes"},
  [CF_MEM_FAILCNT] = {H_MEMORY, "memory.failcnt"},
  [CF_MEM_OOM] = {H_MEMORY, "memory.oom_control"},
  [CF_BLK_BYTES] = {H_BLKIO, "blkio.throttle.io_service_bytes_recursive"},
  [CF_BLK_OPS] = {H_BLKIO, "blkio.throttle.io_serviced_recursive"},
  [CF_PIDS_CUR] = {H_PIDS, "pids.current"},
  [CF2_CPU_STAT] = {H_V2, "cpu.stat"},
  [CF2_MEM_CURRENT] = {H_V2, "memory.current"},
  [CF2_MEM_STAT] = {H_V2, "memory.stat"},
  [CF2_MEM_PEAK] = {H_V2, "memory.peak"},
  [CF2_MEM_EVENTS] = {H_V2, "memory.events"},
  [CF2_MEM_SWAP] = {H_V2, "memory.swap.current"},
  [CF2_IO_STAT] = {H_V2, "io.stat"},
  [CF2_PIDS_CUR] = {H_V2, "pids.current"},
  [CF2_CPU_PSI] = {H_V2, "cpu.pressure"},
  [CF2_MEM_PSI] = {H_V2, "memory.pressure"},
  [CF2_IO_PSI] = {H_V2, "io.pressure"},
};

static int read_fd(int fd, char *buf, size_t cap, size_t *out_len)
{
  ssize_t r = pread(fd, buf, cap - 1, 0);
  if (r < 0)
    return (errno == ENODEV || errno == ENOENT) ? LK_ECANCELED : LK_EIO;
  buf[r] = 0;
  *out_len = (size_t)r;
  return 0;
}

int collector__read_path(const char *path, char *buf, size_t cap, size_t *out_len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? LK_ENOENT : LK_EIO;
  int rc = read_fd(fd, buf, cap, out_len);
  close(fd);
  return rc == LK_ECANCELED ? LK_ENOENT : rc;
}

static int open_ctr_file(collector *c, collector__ctr *k, enum collector__file f, char *path,
                         size_t cap)
{
  enum collector__hier h = file_table[f].hier;
  if (!c->hier[h] || !(k->hmask & (1u << h)))
    return LK_ENOENT;
  snprintf(path, cap, "%s%s/%s", c->hier[h], k->path, file_table[f].name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    k->fd[f] = fd;
    return 0;
  }
  if (errno == ENOENT) {
    k->fd[f] = COLLECTOR__FD_ABSENT;
    return LK_ENOENT;
  }
  if (errno == EMFILE || errno == ENFILE)
    return LK_EAGAIN; /* read through the path instead */
  return LK_EIO;
}

int collector__ctr_read(collector *c, collector__ctr *k, enum collector__file f, char *buf,
                        size_t cap, size_t *out_len)
{
  if (k->fd[f] == COLLECTOR__FD_ABSENT)
    return LK_ENOENT;
  if (k->fd[f] == COLLECTOR__FD_UNOPENED) {
    char path[4096];
    int rc = open_ctr_file(c, k, f, path, sizeof path);
    if (rc == LK_EAGAIN)
      return collector__read_path(path, buf, cap, out_len);
    if (rc)
      return rc;
  }
  return read_fd(k->fd[f], buf, cap, out_len);
}

void collector__ctr_close(collector__ctr *k)
{
  for (int f = 0; f < CF_COUNT; f++) {
    if (k->fd[f] >= 0)
      close(k->fd[f]);
    k->fd[f] = COLLECTOR__FD_UNOPENED;
  }
}

static const char *skip_sp(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* Parse a decimal number (integer or float) ending at whitespace/NUL. */
/* Most values are plain integers: up to 15 digits they convert exactly
 * (below 2^53), as strtod would, without its locale and rounding work. */
static int parse_num(const char *p, const char **end, double *out)
{
  uint64_t u = 0;
  const char *q = p;
  while (*q >= '0' && *q <= '9' && q - p < 15)
    u = u * 10 + (uint64_t)(*q++ - '0');
  if (q > p && (!*q || *q == ' ' || *q == '\n' || *q == '\t')) {
    *out = (double)u;
    *end = q;
    return 0;
  }
  char *e;
  errno = 0;
  double v = strtod(p, &e);
  if (e == p || errno == ERANGE || (*e && *e != ' ' && *e != '\n' && *e != '\t'))
    return LK_EPARSE;
  *out = v;
  *end = e;
  return 0;
}

int collector__single(const char *buf, double *out, bool *is_max)
{
  const char *p = skip_sp(buf), *e;
  if (!strncmp(p, "max", 3) && (p[3] == '\n' || !p[3])) {
    *out = 0;
    *is_max = true;
    return 0;
  }
  double v;
  if (parse_num(p, &e, &v))
    return LK_EPARSE;
  *out = v;
  *is_max = false;
  return 0;
}

int collector__kv(const char *buf, const char *const *keys, size_t nkeys, double *vals,
                  uint32_t *found)
{
  int rc = 0;
  const char *p = buf;
  uint32_t all = nkeys >= 32 ? UINT32_MAX : (1u << nkeys) - 1;
  while (*p && (*found & all) != all) {
    const char *ke = p;
    while (*ke && *ke != ' ' && *ke != '\n')
      ke++;
    size_t kl = (size_t)(ke - p);
    for (size_t i = 0; i < nkeys && *ke == ' '; i++) {
      if (keys[i][0] != p[0] || strncmp(keys[i], p, kl) || keys[i][kl])
        continue;
      const char *e;
      if (parse_num(skip_sp(ke), &e, &vals[i]))
        rc = LK_EPARSE;
      else
        *found |= 1u << i;
      break;
    }
    const char *nl = strchr(ke, '\n');
    if (!nl)
      break;
    p = nl + 1;
  }
  return rc;
}

/* total=N on a PSI line starting at p; LK_EPARSE when missing. */
static int psi_total(const char *p, double *out)
{
  const char *nl = strchr(p, '\n');
  const char *t = strstr(p, "total=");
  if (!t || (nl && t > nl))
    return LK_EPARSE;
  const char *e;
  return parse_num(t + 6, &e, out);
}

int collector__psi(const char *buf, double *some_us, double *full_us, bool *has_full)
{
  bool some = false;
  *has_full = false;
  for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (!strncmp(p, "some ", 5)) {
      if (psi_total(p, some_us))
        return LK_EPARSE;
      some = true;
    } else if (!strncmp(p, "full ", 5)) {
      if (psi_total(p, full_us))
        return LK_EPARSE;
      *has_full = true;
    }
  }
  return some || *has_full ? 0 : LK_EPARSE;
}

int collector__cg_read(collector *c, collector__ctr *k, enum collector__file f, const char *what,
                       char *buf, int *status)
{
  size_t len;
  int rc = collector__ctr_read(c, k, f, buf, COLLECTOR__CG_BUFSZ, &len);
  if (rc == 0)
    return 0;
  if (rc == LK_ECANCELED)
    *status = LK_ECANCELED;
  else if (rc != LK_ENOENT)
    collector__note_error(c, k, what, rc);
  return 1;
}

int collector__note_error(collector *c, collector__ctr *k, const char *what, int code)
{
  pthread_mutex_lock(&c->lock);
  uint64_t *ctr = code == LK_EPARSE ? &c->stats.parse_errors : &c->stats.read_errors;
  uint64_t n = ++*ctr;
  pthread_mutex_unlock(&c->lock);
  if (n <= 20 || (n & (n - 1)) == 0)
    lk_warn("collector: cannot use %s of cgroup %s: %s (%llu so far)",
            what, k ? k->path : "-", lk_strerror(code), (unsigned long long)n);
  return code;
}

/*---- block device names (MAJ:MIN -> sda), from /proc/diskstats ----*/

static int devnum_cmp(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

void collector__load_devnames(collector *c)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/diskstats", c->proc_root);
  FILE *f = fopen(path, "re");
  free(c->devnames);
  free(c->devnums);
  c->devnames = NULL;
  c->devnums = NULL;
  c->ndevs = 0;
  if (!f)
    return;
  size_t cap = 0, ncap = 0;
  char line[512], name[40];
  unsigned maj, min;
  struct { uint32_t num; char name[40]; } *tmp = NULL;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, " %u %u %39s", &maj, &min, name) == 3) {
      tmp = lk_xgrow(tmp, &cap, c->ndevs + 1, sizeof *tmp);
      tmp[c->ndevs].num = maj << 20 | min;
      memcpy(tmp[c->ndevs].name, name, sizeof name);
      c->ndevs++;
    }
  fclose(f);
  if (c->ndevs)
    qsort(tmp, c->ndevs, sizeof *tmp, devnum_cmp); /* num is the first field */
  c->devnums = lk_xgrow(NULL, &ncap, c->ndevs ? c->ndevs : 1, sizeof *c->devnums);
  c->devnames = lk_xcalloc(c->ndevs ? c->ndevs : 1, sizeof *c->devnames);
  for (size_t i = 0; i < c->ndevs; i++) {
    c->devnums[i] = tmp[i].num;
    memcpy(c->devnames[i], tmp[i].name, sizeof c->devnames[i]);
  }
  free(tmp);
}

const char *collector__devname(collector *c, unsigned maj, unsigned min)
{
  uint32_t key = maj << 20 | min;
  uint32_t *hit = c->ndevs ? bsearch(&key, c->devnums, c->ndevs, sizeof key, devnum_cmp) : NULL;
  return hit ? c->devnames[hit - c->devnums] : NULL;
}
