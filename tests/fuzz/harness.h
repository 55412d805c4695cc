/* harness.h — what several libFuzzer targets share: the input as a
 * NUL-terminated string, and a scratch directory per process for targets
 * that write their input to files (removed again at exit). */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a malloc'ed C string (cut at its first NUL). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
  char *s = lk_xmalloc(size + 1);
  memcpy(s, data, size);
  s[size] = 0;
  return s;
}

/* The process's scratch directory: a new empty directory under $TMPDIR,
 * removed with everything in it at exit (its path lives until then).
 * Called once, from LLVMFuzzerInitialize; aborts on failure. */
const char *fuzz_scratch_dir(const char *tag);
/* Remove dir and everything in it. */
void fuzz_rmtree(const char *dir);
/* Write exactly p[0..n) to dir/name; aborts on failure. */
void fuzz_write_file(const char *dir, const char *name, const void *p, size_t n);

#endif
