/* disk_fx.h — helpers for the on-disk format tests of both stores: read a
 * whole file, overwrite bytes in place (a bumped version, a wrong magic, a
 * flipped body byte), and tell whether a file still holds exactly the bytes
 * it held before. Header-only (static) so each test executable stands alone.
 */
#ifndef TESTS_DISK_FX_H
#define TESTS_DISK_FX_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

#endif
