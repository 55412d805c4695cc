/* lk_fs.h — small file-system helpers shared by the modules that own data
 * directories (tsdb, the push queue, the server command). */
#ifndef LK_FS_H
#define LK_FS_H

/* mkdir -p with mode 0755: creates path and any missing parents; existing
 * directories are fine. Returns 0, or -errno of the first mkdir that failed
 * (errno is left set to it). Thread-safe. */
int lk_mkdir_p(const char *path);

#endif
