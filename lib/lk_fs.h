/* lk_fs.h — small file-system helpers shared by the modules that own data
 * directories (tsdb, the push queue, the server command) and read or
 * replace whole small files (configs, rule files, persisted state). */
#ifndef LK_FS_H
#define LK_FS_H

#include <stddef.h>

#include "lib/lk_err.h"

/* mkdir -p with mode 0755: creates path and any missing parents; existing
 * directories are fine. Returns 0, or -errno of the first mkdir that failed
 * (errno is left set to it). Thread-safe. */
int lk_mkdir_p(const char *path);

/* Read a whole file into *buf (malloc'ed, NUL-terminated, *len excludes the
 * NUL). A file larger than max is LK_ETOOBIG; a missing one LK_ENOENT;
 * other failures LK_EIO; the diag names the path. */
int lk_read_file(const char *path, size_t max, char **buf, size_t *len, lk_diag *d);

/* Replace path with data atomically and durably: write path.tmp, fsync it,
 * rename over path, fsync the directory. A crash leaves the old file or the
 * new one, never a mix. Returns 0 or -errno (diag names the path). */
int lk_write_file_atomic(const char *path, const void *data, size_t len, lk_diag *d);

#endif
