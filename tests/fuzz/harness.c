/* harness.c — scratch directories and files for the libFuzzer targets
 * that feed their input to readers of on-disk formats. */
#include "tests/fuzz/harness.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void)st, (void)flag, (void)f;
  return remove(p);
}

void fuzz_rmtree(const char *dir)
{
  nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The one scratch directory of this fuzzing process (fuzz_scratch_dir). */
static char *scratch;

static void remove_scratch(void)
{
  fuzz_rmtree(scratch);
  free(scratch);
}

const char *fuzz_scratch_dir(const char *tag)
{
  if (scratch)
    abort();
  const char *base = getenv("TMPDIR");
  scratch = lk_xmalloc(4096);
  snprintf(scratch, 4096, "%s/lookout-%s-XXXXXX", base && *base ? base : "/tmp", tag);
  if (!mkdtemp(scratch) || atexit(remove_scratch))
    abort();
  return scratch;
}

void fuzz_write_file(const char *dir, const char *name, const void *p, size_t n)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd))
    abort();
}
