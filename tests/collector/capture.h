/* capture.h — a collector sink for tests: keeps every series of the last
 * cycle as text `name{a="b",...}` (labels sorted by name) with its value,
 * and finds series by name plus a subset of labels. */
#ifndef TEST_COLLECTOR_CAPTURE_H
#define TEST_COLLECTOR_CAPTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_labels.h"

typedef struct capture {
  char **text;
  double *val;
  int64_t *t;
  size_t n;
  int cycles;
  const char *const *base; /* NULL-terminated name/value pairs every match needs */
} capture;

int capture_sink(void *ctx, const lk_series *s, size_t n);
void capture_fini(capture *c);
/* Number of series named `name` having every label of the NULL-terminated
 * name/value list; *out gets the value of the last one. */
size_t capture_count(const capture *c, double *out, const char *name, ...);
/* Value of the one series matching; fails the test when not exactly one. */
double capture_val(const capture *c, const char *name, ...);
void capture_dump(const capture *c, const char *grep); /* debugging aid */

#endif
