/* runtime_sandbox.c — the namespaces a pod's containers share, as the
 * kubelet's pod sandbox: one IPC namespace per pod, and one network
 * namespace (loopback up) for a pod that does not use the host's network,
 * so its containers reach each other on localhost (runtime_net.c then adds
 * its eth0). Each is kept alive by a
 * bind mount of its nsfs file at <pod dir>/ns-ipc and ns-net (in Lookout's
 * mount namespace, so it survives a Lookout restart like the containers);
 * the bundles join them by path. Removed with the pod.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestrator/runtime_int.h"

static const char *const kinds[] = {"ipc", "net"};

void orch__sandbox_path(const orch__pod *p, const char *kind, char *out, size_t cap)
{
  snprintf(out, cap, "%s/ns-%s", p->dir, kind);
}

/* Is path a bind mount of a namespace (not the empty file under it)? */
static bool is_ns(const char *path)
{
  struct statfs sf;
  return !statfs(path, &sf) && sf.f_type == NSFS_MAGIC;
}

/* In the child: new namespaces, loopback up, then wait to be captured
 * (until the parent closes its end of go). */
static void child_unshare(int flags, const int ready[2], const int go[2])
{
  char c = 1;
  int ready_w = ready[1], go_r = go[0];
  close(ready[0]);
  close(go[1]);
  if (unshare(flags))
    _exit(1);
  if (flags & CLONE_NEWNET) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
      _exit(1);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr))
      _exit(1);
    close(s);
  }
  if (write(ready_w, &c, 1) != 1 || read(go_r, &c, 1) < 0)
    _exit(1);
  _exit(0);
}

static int bind_ns(pid_t pid, const char *kind, const char *target, lk_diag *d)
{
  char src[64];
  snprintf(src, sizeof src, "/proc/%d/ns/%s", (int)pid, kind);
  int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd >= 0)
    close(fd);
  if (fd < 0 || mount(src, target, NULL, MS_BIND, NULL))
    return lk_diag_set(d, LK_EIO, -1, "pod sandbox: cannot keep the %s namespace at %s: %s",
                       kind, target, strerror(errno));
  return 0;
}

int orch__sandbox_create(const orch__pod *p, lk_diag *d)
{
  char path[2][4096];
  int flags = CLONE_NEWIPC | (p->host_network ? 0 : CLONE_NEWNET);
  size_t n = p->host_network ? 1 : 2;
  bool have = true;
  for (size_t i = 0; i < n; i++) {
    orch__sandbox_path(p, kinds[i], path[i], sizeof path[i]);
    have = have && is_ns(path[i]);
  }
  if (have)
    return 0;
  orch__sandbox_remove(p);
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC))
    return lk_diag_set(d, LK_EIO, -1, "pod sandbox: pipe: %s", strerror(errno));
  if (pipe2(go, O_CLOEXEC)) {
    close(ready[0]);
    close(ready[1]);
    return lk_diag_set(d, LK_EIO, -1, "pod sandbox: pipe: %s", strerror(errno));
  }
  pid_t pid = fork();
  if (pid == 0)
    child_unshare(flags, ready, go);
  close(ready[1]);
  close(go[0]);
  char c;
  int rc = pid > 0 && read(ready[0], &c, 1) == 1
               ? 0
               : lk_diag_set(d, LK_EIO, -1, "pod sandbox: cannot create namespaces");
  for (size_t i = 0; i < n && !rc; i++)
    rc = bind_ns(pid, kinds[i], path[i], d);
  close(go[1]); /* the child exits */
  close(ready[0]);
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  if (rc)
    orch__sandbox_remove(p);
  return rc;
}

void orch__sandbox_remove(const orch__pod *p)
{
  for (size_t i = 0; i < 2; i++) {
    char path[4096];
    orch__sandbox_path(p, kinds[i], path, sizeof path);
    umount2(path, MNT_DETACH);
    unlink(path);
  }
}
