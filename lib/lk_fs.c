/* lk_fs.c — file-system helpers (see lk_fs.h).
 *
 * lk_mkdir_p walks a private copy of the path, creating each prefix that
 * ends before a '/', then the whole path; EEXIST is success at every step.
 * lk_write_file_atomic is the classic tmp + fsync + rename + fsync(dir).
 */
#include "lib/lk_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_alloc.h"

static int make_one(const char *dir)
{
  return mkdir(dir, 0755) && errno != EEXIST ? -errno : 0;
}

int lk_mkdir_p(const char *path)
{
  char *tmp = lk_xstrdup(path);
  int rc = 0;
  for (char *p = tmp + 1; *p && !rc; p++)
    if (*p == '/') {
      *p = 0;
      rc = make_one(tmp);
      *p = '/';
    }
  if (!rc)
    rc = make_one(tmp);
  free(tmp);
  if (rc)
    errno = -rc;
  return rc;
}

int lk_read_file(const char *path, size_t max, char **buf, size_t *len, lk_diag *d)
{
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return lk_diag_set(d, errno == ENOENT ? LK_ENOENT : LK_EIO, -1, "cannot read %s: %s", path,
                       strerror(errno));
  char *b = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    b = lk_xgrow(b, &cap, n + 65537, 1);
    size_t got = fread(b + n, 1, cap - n - 1, f);
    n += got;
    if (n > max) {
      fclose(f);
      free(b);
      return lk_diag_set(d, LK_ETOOBIG, -1, "%s is larger than %zu bytes", path, max);
    }
    if (got == 0)
      break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(b);
    return lk_diag_set(d, LK_EIO, -1, "cannot read %s", path);
  }
  b[n] = 0;
  *buf = b;
  *len = n;
  return 0;
}

static int fsync_dir_of(const char *path)
{
  char *dir = lk_xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *(slash == dir ? slash + 1 : slash) = 0;
  int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
  free(dir);
  if (fd < 0)
    return -errno;
  int rc = fsync(fd) ? -errno : 0;
  close(fd);
  return rc;
}

int lk_write_file_atomic(const char *path, const void *data, size_t len, lk_diag *d)
{
  size_t plen = strlen(path);
  char *tmp = lk_xmalloc(plen + 5);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    rc = -errno;
  for (size_t off = 0; !rc && off < len;) {
    ssize_t w = write(fd, (const char *)data + off, len - off);
    if (w < 0 && errno != EINTR)
      rc = -errno;
    else if (w > 0)
      off += (size_t)w;
  }
  if (!rc && fsync(fd))
    rc = -errno;
  if (fd >= 0 && close(fd) && !rc)
    rc = -errno;
  if (!rc && rename(tmp, path))
    rc = -errno;
  if (!rc)
    rc = fsync_dir_of(path);
  if (rc && fd >= 0)
    unlink(tmp);
  free(tmp);
  return rc ? lk_diag_set(d, rc, -1, "cannot write %s: %s", path, strerror(-rc)) : 0;
}
