/* loghub.h — the loghub corpus (every .log file of ../shared/data/loghub) as lines in
 * memory, for the C benches that search or ingest real logs (bench/logs,
 * bench/regex). Header-only (static) so each bench stands alone.
 */
#ifndef BENCH_LOGHUB_H
#define BENCH_LOGHUB_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "lib/lk_alloc.h"

typedef struct bench_loghub {
  char name[64]; /* the file name without .log */
  char **lines;  /* each without its line end; owned */
  size_t n, cap;
} bench_loghub;

/* Load up to max *.log files of dir into out[0..]; returns how many.
 * Empty lines are dropped when skip_empty. */
static inline size_t bench_loghub_load(const char *dir, bench_loghub *out, size_t max,
                                       bool skip_empty)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  size_t n = 0;
  while (d && (de = readdir(d)) && n < max) {
    size_t l = strlen(de->d_name);
    if (l < 5 || strcmp(de->d_name + l - 4, ".log"))
      continue;
    bench_loghub *s = &out[n++];
    snprintf(s->name, sizeof s->name, "%.*s", (int)(l - 4), de->d_name);
    char path[700];
    snprintf(path, sizeof path, "%.400s/%.250s", dir, de->d_name);
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (fp && (len = getline(&line, &cap, fp)) > 0) {
      while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = 0;
      if (!len && skip_empty)
        continue;
      s->lines = lk_xgrow(s->lines, &s->cap, s->n + 1, sizeof *s->lines);
      s->lines[s->n++] = lk_xstrdup(line);
    }
    free(line);
    if (fp)
      fclose(fp);
  }
  if (d)
    closedir(d);
  return n;
}

#endif
