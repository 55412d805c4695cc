/* disk_fx.h — helpers for the on-disk tests of both stores: read a whole
 * file, make and remove scratch directories, overwrite bytes in place (a bumped version, a wrong magic, a flipped
 * body byte), tell whether a file still holds exactly the bytes it held
 * before, and make a file the store holds open act as a full disk.
 * Header-only (static) so each test executable stands alone.
 */
#ifndef TESTS_DISK_FX_H
#define TESTS_DISK_FX_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file's bytes (malloc'ed, caller frees) and length; NULL on error. */
static inline uint8_t *dfx_read(const char *path, size_t *len)
{
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  uint8_t *p = malloc((size_t)st.st_size + 1);
  ssize_t got = pread(fd, p, (size_t)st.st_size, 0);
  close(fd);
  if (got != st.st_size) {
    free(p);
    return NULL;
  }
  *len = (size_t)st.st_size;
  return p;
}

/* Overwrite n bytes at off; 0 on success. */
static inline int dfx_write_at(const char *path, off_t off, const void *p, size_t n)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t w = pwrite(fd, p, n, off);
  close(fd);
  return w == (ssize_t)n ? 0 : -1;
}

/* XOR the byte at off with 0x5a; 0 on success. */
static inline int dfx_flip(const char *path, off_t off)
{
  int fd = open(path, O_RDWR | O_CLOEXEC);
  uint8_t c = 0;
  int rc = fd >= 0 && pread(fd, &c, 1, off) == 1 ? 0 : -1;
  c ^= 0x5a;
  if (!rc && pwrite(fd, &c, 1, off) != 1)
    rc = -1;
  if (fd >= 0)
    close(fd);
  return rc;
}

/* True when the file holds exactly want (len bytes). */
static inline bool dfx_same(const char *path, const uint8_t *want, size_t len)
{
  size_t n = 0;
  uint8_t *p = dfx_read(path, &n);
  bool same = p && n == len && !memcmp(p, want, len);
  free(p);
  return same;
}

/* Point the descriptor this process holds on the file whose path ends with
 * suffix at /dev/full, so writes to it fail with ENOSPC as on a full disk.
 * Returns that descriptor (its original file saved in *saved for
 * dfx_full_end), or -1 when no such descriptor is open. */
static inline int dfx_full_begin(const char *suffix, int *saved)
{
  DIR *d = opendir("/proc/self/fd");
  int found = -1;
  struct dirent *e;
  size_t sl = strlen(suffix);
  while (d && found < 0 && (e = readdir(d))) {
    char link[300], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n >= (ssize_t)sl && !memcmp(target + n - sl, suffix, sl))
      found = atoi(e->d_name);
  }
  if (d)
    closedir(d);
  int full = found >= 0 ? open("/dev/full", O_WRONLY | O_CLOEXEC) : -1;
  if (full < 0)
    return -1;
  *saved = dup(found);
  dup2(full, found);
  close(full);
  return found;
}

/* Give fd its original file back (space has returned). */
static inline void dfx_full_end(int fd, int saved)
{
  dup2(saved, fd);
  close(saved);
}

/* A new empty directory from the mkdtemp template tmpl (e.g.
 * "/tmp/lk-x-XXXXXX"); the malloc'ed path, or NULL on failure. */
static inline char *dfx_tmpdir(const char *tmpl)
{
  char *dir = strdup(tmpl);
  if (dir && !mkdtemp(dir)) {
    free(dir);
    dir = NULL;
  }
  return dir;
}

/* Remove dir and everything in it; 0 on success. */
static inline int dfx_rmrf(const char *dir)
{
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

#endif
