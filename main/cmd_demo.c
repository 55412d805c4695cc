/* cmd_demo.c — `lookout demo`: apply examples/demo/ (a CPU-burning web
 * workload, its HPA and a bounded load generator) to a running node, so the
 * autoscaler, the logs and the dashboard show real activity within a
 * minute.
 *
 * The manifests run Lookout's own binary from the host filesystem; the
 * placeholder @LOOKOUT@ in them is replaced by this binary's absolute path
 * before they are sent, through the same code as `lookout apply`.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_buf.h"
#include "lib/lk_fs.h"
#include "main/cmd.h"
#include "main/kube.h"

static void usage(FILE *f)
{
  fprintf(f, "usage: lookout demo [--dir DIR] [--server URL] [--token-file FILE]\n\n"
             "Applies the demo manifests (*.yaml of DIR, default examples/demo, in name order):\n"
             "php-apache (a web workload burning CPU per request), its HPA (50%% CPU, 1..10\n"
             "replicas) and a load generator that stops after three minutes.\n\n%s",
             kube_flags_help);
}

/* examples/demo under the working directory, or beside the build directory
 * holding this binary (build/lookout → examples/demo). */
static const char *default_dir(const char *exe, char *buf, size_t n)
{
  if (!access("examples/demo", R_OK))
    return "examples/demo";
  snprintf(buf, n, "%s", exe);
  char *slash = strrchr(buf, '/');
  if (slash) {
    *slash = 0;
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "/../examples/demo");
  }
  return buf;
}

/* text with every @LOOKOUT@ replaced by exe, into out. */
static void substitute(const char *text, const char *exe, lk_buf *out)
{
  static const char mark[] = "@LOOKOUT@";
  for (const char *p = text, *hit; *p; p = hit + sizeof mark - 1) {
    hit = strstr(p, mark);
    if (!hit) {
      lk_buf_puts(out, p);
      return;
    }
    lk_buf_append(out, p, (size_t)(hit - p));
    lk_buf_puts(out, exe);
  }
}

static int yaml_name(const struct dirent *e)
{
  size_t n = strlen(e->d_name);
  return e->d_name[0] != '.' && n > 5 && !strcmp(e->d_name + n - 5, ".yaml");
}

static int apply_file(const kube *k, const char *path, const char *exe)
{
  char *text;
  size_t len;
  lk_diag d = {0};
  if (lk_read_file(path, 1u << 20, &text, &len, &d)) {
    fprintf(stderr, "lookout demo: %s\n", d.msg);
    return 1;
  }
  lk_buf doc = {0};
  substitute(text, exe, &doc);
  free(text);
  int rc = kube_apply_text(k, (const char *)doc.data, doc.len, path);
  lk_buf_fini(&doc);
  return rc;
}

int cmd_demo(int argc, char **argv)
{
  kube k = {0};
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    int taken = kube_flag(&k, argc, argv, &i);
    if (!taken && !strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else if (!taken && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
      usage(stdout);
      return 0;
    } else if (taken <= 0) {
      usage(stderr);
      return 2;
    }
  }
  kube_init(&k);
  char exe[PATH_MAX], dirbuf[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    fprintf(stderr, "lookout demo: cannot find this binary's path (/proc/self/exe)\n");
    return 1;
  }
  exe[n] = 0;
  if (!dir)
    dir = default_dir(exe, dirbuf, sizeof dirbuf);
  struct dirent **list;
  int count = scandir(dir, &list, yaml_name, alphasort);
  if (count <= 0) {
    fprintf(stderr, "lookout demo: no *.yaml manifests in %s (--dir DIR names another place)\n", dir);
    return 1;
  }
  int rc = 0;
  for (int i = 0; i < count; i++) {
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
    if (!rc)
      rc = apply_file(&k, path, exe);
    free(list[i]);
  }
  free(list);
  if (!rc)
    printf("\nThe demo runs. Watch the autoscaler react to the load (about a minute), then scale\n"
           "back down once the load generator stops (after three minutes):\n"
           "  lookout get autoscalers -w        (or: kubectl get hpa -w)\n"
           "  lookout get pods\n"
           "  curl -s %s/api/v1/autoscaling/events\n"
           "and open %s/ for the dashboard.\n",
           k.server, k.server);
  return rc;
}
