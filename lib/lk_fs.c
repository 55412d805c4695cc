/* lk_fs.c — file-system helpers (see lk_fs.h).
 *
 * lk_mkdir_p walks a private copy of the path, creating each prefix that
 * ends before a '/', then the whole path; EEXIST is success at every step.
 */
#include "lib/lk_fs.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

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
