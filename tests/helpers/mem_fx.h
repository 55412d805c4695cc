/* mem_fx.h — the process's own memory, for tests that check it stays
 * bounded (series and stream churn, cardinality attacks). Header-only
 * (static) so each test executable stands alone. */
#ifndef TESTS_MEM_FX_H
#define TESTS_MEM_FX_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Resident anonymous memory in bytes (resident minus file-backed pages,
 * from /proc/self/statm, so mapped block files the queries and compactions
 * touched do not count); 0 when it cannot be read. */
static inline uint64_t mfx_anon_rss_bytes(void)
{
  FILE *fp = fopen("/proc/self/statm", "r");
  unsigned long size = 0, rss = 0, shared = 0;
  if (fp) {
    if (fscanf(fp, "%lu %lu %lu", &size, &rss, &shared) != 3)
      rss = shared = 0;
    fclose(fp);
  }
  return (uint64_t)(rss - shared) * (uint64_t)sysconf(_SC_PAGESIZE);
}

#endif
