/* runtime_cgroup.c — the cgroups of Lookout's pods. The OCI runtime
 * creates each container's cgroup at cgroupsPath /lookout/<ns>_<pod>_<uid>/
 * <container> in every hierarchy (the DESIGN path the collector names like a
 * Kubernetes pod's) and removes the container's own directory when its run
 * ends; what is left to do here is to say whether cgroups are usable at all,
 * to spot hybrid hosts (which crun refuses), to remove the pod's
 * directories when the pod goes, and at start to sweep the empty pod
 * directories a Lookout that died (or lost its data dir) left behind.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator/runtime_int.h"

/* v1 (a cpu or memory hierarchy) or v2 (cgroup.controllers) under root. */
bool orch__cgroups_usable(const char *root)
{
  static const char *const probes[] = {"memory/tasks", "cpu/tasks", "cpu,cpuacct/tasks",
                                       "cgroup.controllers"};
  char p[4096];
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", root, probes[i]);
    if (access(p, W_OK) == 0 || (i == 3 && access(p, R_OK) == 0))
      return true;
  }
  return false;
}

/* v1 controllers with a cgroup2 mount beside them (systemd's "hybrid"). */
bool orch__cgroups_hybrid(const char *root)
{
  char v1[4096], v2[4096];
  snprintf(v1, sizeof v1, "%s/memory/tasks", root);
  snprintf(v2, sizeof v2, "%s/unified/cgroup.controllers", root);
  return access(v1, F_OK) == 0 && access(v2, F_OK) == 0;
}

static void remove_in(const char *hier, const orch__pod *p)
{
  char path[8192];
  for (size_t i = 0; i < p->nctrs; i++) {
    snprintf(path, sizeof path, "%s/lookout/%s_%s_%s/%s", hier, p->ns, p->name, p->uid,
             p->ctrs[i].name);
    rmdir(path);
  }
  snprintf(path, sizeof path, "%s/lookout/%s_%s_%s", hier, p->ns, p->name, p->uid);
  rmdir(path);
}

/* rmdir <hierarchy>/lookout/<ns>_<pod>_<uid>[/<ctr>] in every hierarchy:
 * the v1 ones (and a hybrid host's cgroup2) below the root, or the root
 * itself on a cgroup2-only host. */
void orch__cgroups_remove(const orch__rt *rt, const orch__pod *p)
{
  remove_in(rt->cgroup_root, p);
  DIR *d = opendir(rt->cgroup_root);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.' || !strcmp(de->d_name, "lookout"))
      continue;
    char hier[4096];
    snprintf(hier, sizeof hier, "%s/%s", rt->cgroup_root, de->d_name);
    remove_in(hier, p);
  }
  if (d)
    closedir(d);
}

/* rmdir of every <hierarchy>/lookout/<ns>_<pod>_<uid> in dir (fails, as it
 * should, for those with a container's cgroup below). */
static void sweep_in(const char *hier)
{
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/lookout", hier);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.' || !strchr(de->d_name, '_') || de->d_type != DT_DIR)
      continue;
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    rmdir(path);
  }
  if (d)
    closedir(d);
}

void orch__cgroups_sweep(const orch__rt *rt)
{
  sweep_in(rt->cgroup_root);
  DIR *d = opendir(rt->cgroup_root);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.' || !strcmp(de->d_name, "lookout"))
      continue;
    char hier[4096];
    snprintf(hier, sizeof hier, "%s/%s", rt->cgroup_root, de->d_name);
    sweep_in(hier);
  }
  if (d)
    closedir(d);
}
