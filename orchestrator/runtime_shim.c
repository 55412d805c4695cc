/* runtime_shim.c — `lookout shim`: the parent of one container run.
 *
 *   lookout shim --runtime R --root STATE --id ID --bundle DIR --log FILE
 *                [--cgroup-root /sys/fs/cgroup] [--log-max-bytes 10485760]
 *                [--log-max-files 5]
 *
 * Writes DIR/shim.pid, runs `R --root STATE run --keep --pid-file
 * DIR/container.pid --bundle DIR ID` in the foreground with its
 * stdout/stderr on pipes, writes each line to FILE
 * in the CRI format the kubelet uses (`<RFC3339Nano> stdout|stderr F|P
 * <text>`, P for a piece of a line longer than the buffer). When the run
 * ends it reads the container's OOM-kill counter from its memory cgroup
 * (kept until then by --keep), deletes the container and writes
 * DIR/exit.json {"exitCode":N,"finishedAt":ns,"oomKilled":bool} atomically.
 * It is started detached (runtime_exec.c), so it and the container survive
 * Lookout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "orchestrator/runtime_int.h"

#define LINE_MAX_BYTES 16384

typedef struct stream {
  const char *name; /* "stdout" / "stderr" */
  int fd;
  char buf[LINE_MAX_BYTES];
  size_t len;
} stream;

void orch__fmt_ns(char *buf, size_t cap, int64_t ns, bool secs_only)
{
  time_t sec = (time_t)(ns / 1000000000);
  long frac = (long)(ns % 1000000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!secs_only && frac) {
    char f[16];
    int l = snprintf(f, sizeof f, ".%09ld", frac);
    while (l > 1 && f[l - 1] == '0')
      f[--l] = 0;
    n += (size_t)snprintf(buf + n, cap - n, "%s", f);
  }
  snprintf(buf + n, cap - n, "Z");
}

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The run's log file, rotated as the kubelet does (containerLogMaxSize /
 * containerLogMaxFiles): past max_bytes it is renamed to
 * <path>.<YYYYmmdd-HHMMSS.nnnnnnnnn> and reopened; of the rotated files the
 * newest max_files - 1 are kept. */
typedef struct logfile {
  const char *path;
  int fd;
  int64_t size, max_bytes;
  int max_files;
} logfile;

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes the oldest rotated files beyond max_files - 1. */
static void prune_rotated(const logfile *lf)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", lf->path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    return;
  *slash = 0;
  const char *base = lf->path + (slash - dir) + 1;
  size_t bl = strlen(base);
  DIR *d = opendir(dir);
  struct dirent *de;
  char **names = NULL;
  size_t n = 0, cap = 0;
  while (d && (de = readdir(d)))
    if (!strncmp(de->d_name, base, bl) && de->d_name[bl] == '.') {
      names = lk_xgrow(names, &cap, n + 1, sizeof *names);
      names[n++] = lk_xstrdup(de->d_name);
    }
  if (d)
    closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_str); /* the timestamps sort by time */
  for (size_t i = 0; i < n; i++) {
    if (i + (size_t)(lf->max_files - 1) < n) {
      char p[8192];
      snprintf(p, sizeof p, "%s/%s", dir, names[i]);
      unlink(p);
    }
    free(names[i]);
  }
  free(names);
}

static void rotate(logfile *lf)
{
  char rotated[4096], ts[64];
  int64_t ns = now_ns();
  time_t sec = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
  snprintf(rotated, sizeof rotated, "%s.%s.%09lld", lf->path, ts, (long long)(ns % 1000000000));
  if (rename(lf->path, rotated))
    return;
  int fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    return;
  close(lf->fd);
  lf->fd = fd;
  lf->size = 0;
  prune_rotated(lf);
}

static void write_entry(logfile *lf, const char *stream_name, bool full, const char *s, size_t n)
{
  char ts[64];
  orch__fmt_ns(ts, sizeof ts, now_ns(), false);
  size_t hl = strlen(ts) + strlen(stream_name) + 5;
  char *line = lk_xmalloc(hl + n + 2);
  int h = snprintf(line, hl + 1, "%s %s %c ", ts, stream_name, full ? 'F' : 'P');
  memcpy(line + h, s, n);
  line[(size_t)h + n] = '\n';
  ssize_t w = write(lf->fd, line, (size_t)h + n + 1);
  free(line);
  lf->size += w > 0 ? w : 0;
  if (lf->max_bytes > 0 && lf->size >= lf->max_bytes)
    rotate(lf);
}

/* Emits the complete lines of the stream's buffer (all of it at EOF). */
static void flush_lines(stream *st, logfile *lf, bool eof)
{
  size_t start = 0;
  for (size_t i = 0; i < st->len; i++)
    if (st->buf[i] == '\n') {
      write_entry(lf, st->name, true, st->buf + start, i - start);
      start = i + 1;
    }
  if (start == 0 && st->len == sizeof st->buf) {
    write_entry(lf, st->name, false, st->buf, st->len);
    start = st->len;
  } else if (eof && start < st->len) {
    write_entry(lf, st->name, true, st->buf + start, st->len - start);
    start = st->len;
  }
  memmove(st->buf, st->buf + start, st->len - start);
  st->len -= start;
}

/* Returns false at EOF or error. */
static bool read_stream(stream *st, logfile *lf)
{
  ssize_t n = read(st->fd, st->buf + st->len, sizeof st->buf - st->len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) {
    flush_lines(st, lf, true);
    close(st->fd);
    st->fd = -1;
    return false;
  }
  st->len += (size_t)n;
  flush_lines(st, lf, false);
  return true;
}

static int write_file_atomic(const char *dir, const char *name, const char *text)
{
  char tmp[4096], path[4096];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  fputs(text, f);
  int rc = fflush(f) | fsync(fileno(f));
  rc |= fclose(f);
  return rc ? -1 : rename(tmp, path);
}

static int shim_usage(void)
{
  fprintf(stderr, "usage: lookout shim --runtime R --root STATE --id ID --bundle DIR --log FILE "
                  "[--cgroup-root DIR] [--log-max-bytes N] [--log-max-files N]\n"
                  "(started by the orchestrator, one per container run)\n");
  return 2;
}

static pid_t start_runtime(const char *runtime, const char *root, const char *bundle,
                           const char *id, int out_w, int err_w)
{
  char pid_file[4096];
  snprintf(pid_file, sizeof pid_file, "%s/container.pid", bundle);
  char *argv[] = {(char *)runtime, "--root", (char *)root, "run", "--keep", "--pid-file", pid_file,
                  "--bundle", (char *)bundle, (char *)id, NULL};
  pid_t pid = fork();
  if (pid == 0)
    orch__child_exec(argv, out_w, err_w);
  return pid;
}

/* `oom_kill N` (N > 0) in the container's memory cgroup: v1 memory.oom_control
 * or v2 memory.events. */
static bool oom_killed(const char *cgroup_root, const char *bundle)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", bundle);
  json_t *cfg = json_load_file(path, 0, NULL);
  const char *cg = json_string_value(json_object_get(json_object_get(cfg, "linux"), "cgroupsPath"));
  static const char *const files[] = {"%s/memory%s/memory.oom_control", "%s%s/memory.events"};
  bool oom = false;
  for (size_t i = 0; cg && i < 2 && !oom; i++) {
    snprintf(path, sizeof path, files[i], cgroup_root, cg);
    FILE *f = fopen(path, "r");
    char line[256];
    long n;
    while (f && fgets(line, sizeof line, f))
      if (sscanf(line, "oom_kill %ld", &n) == 1 && n > 0)
        oom = true;
    if (f)
      fclose(f);
  }
  json_decref(cfg);
  return oom;
}

/* The container as --keep left it: deleted (also a stale one before a run). */
static void delete_container(const char *runtime, const char *root, const char *id)
{
  char *argv[] = {(char *)runtime, "--root", (char *)root, "delete", "--force", (char *)id, NULL};
  int status;
  orch__run(argv, 10000, NULL, NULL, &status);
}

/* Copies the two pipes into the log until both close. */
static void pump(stream st[2], logfile *lf)
{
  while (st[0].fd >= 0 || st[1].fd >= 0) {
    struct pollfd pf[2] = {{st[0].fd, POLLIN, 0}, {st[1].fd, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    for (int i = 0; i < 2; i++)
      if (st[i].fd >= 0 && pf[i].revents)
        read_stream(&st[i], lf);
  }
}

int orch__shim_main(int argc, char **argv)
{
  const char *runtime = NULL, *root = NULL, *id = NULL, *bundle = NULL, *log = NULL;
  const char *cgroup_root = "/sys/fs/cgroup", *max_bytes = "10485760", *max_files = "5";
  for (int i = 1; i + 1 < argc; i += 2) {
    const char **dst = !strcmp(argv[i], "--runtime")       ? &runtime
                       : !strcmp(argv[i], "--root")        ? &root
                       : !strcmp(argv[i], "--id")          ? &id
                       : !strcmp(argv[i], "--bundle")      ? &bundle
                       : !strcmp(argv[i], "--log")         ? &log
                       : !strcmp(argv[i], "--cgroup-root") ? &cgroup_root
                       : !strcmp(argv[i], "--log-max-bytes") ? &max_bytes
                       : !strcmp(argv[i], "--log-max-files") ? &max_files
                                                           : NULL;
    if (!dst)
      return shim_usage();
    *dst = argv[i + 1];
  }
  if (!runtime || !root || !id || !bundle || !log || argc % 2 == 0)
    return shim_usage();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  char pidtxt[32];
  snprintf(pidtxt, sizeof pidtxt, "%d\n", (int)getpid());
  write_file_atomic(bundle, "shim.pid", pidtxt);
  logfile lf = {.path = log, .max_bytes = atoll(max_bytes), .max_files = atoi(max_files)};
  lf.fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (lf.max_files < 2)
    lf.max_files = 2;
  struct stat sb;
  if (lf.fd >= 0 && !fstat(lf.fd, &sb))
    lf.size = sb.st_size;
  int po[2], pe[2];
  if (lf.fd < 0 || pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
    fprintf(stderr, "lookout shim: %s: %s\n", log, strerror(errno));
    write_file_atomic(bundle, "exit.json", "{\"exitCode\":128}\n");
    return 1;
  }
  char stale[4096];
  snprintf(stale, sizeof stale, "%s/%s", root, id); /* the runtime's state of a kept container */
  if (access(stale, F_OK) == 0)
    delete_container(runtime, root, id);
  pid_t pid = start_runtime(runtime, root, bundle, id, po[1], pe[1]);
  close(po[1]);
  close(pe[1]);
  stream *st = lk_xcalloc(2, sizeof *st);
  st[0] = (stream){.name = "stdout", .fd = po[0]};
  st[1] = (stream){.name = "stderr", .fd = pe[0]};
  pump(st, &lf);
  free(st);
  int ws = 0, code = 128;
  if (pid > 0) {
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
      ;
    code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  }
  close(lf.fd);
  int64_t finished = now_ns();
  bool oom = oom_killed(cgroup_root, bundle);
  delete_container(runtime, root, id);
  char txt[160];
  snprintf(txt, sizeof txt, "{\"exitCode\":%d,\"finishedAt\":%lld,\"oomKilled\":%s}\n", code,
           (long long)finished, oom ? "true" : "false");
  write_file_atomic(bundle, "exit.json", txt);
  return 0;
}
