/* skip.h — how a test executable says "not checked here": when a
 * requirement of its whole point is missing (root, writable cgroups, a
 * Prometheus binary) it prints why and exits 77, which meson reports as
 * SKIP, never OK. cmocka's skip() inside a group still exits 0, so it is not
 * used for requirements. */
#ifndef LK_TEST_SKIP_H
#define LK_TEST_SKIP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LK_TEST_SKIP_EXIT 77

/* Exits 77 with "# SKIP: why" on stdout unless ok. */
static inline void lk_test_require(bool ok, const char *why)
{
  if (ok)
    return;
  printf("# SKIP: %s\n", why);
  fflush(stdout);
  exit(LK_TEST_SKIP_EXIT);
}

/* An executable at path (absolute) is installed. */
static inline bool lk_test_have(const char *path)
{
  return access(path, X_OK) == 0;
}

#endif
