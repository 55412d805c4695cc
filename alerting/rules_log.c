/* rules_log.c — log rules' matching lines (placeholder). */
#include <stdlib.h>

#include "alerting/rules_int.h"

char *alerting__log_query_of(const char *logql, int64_t *range_ms)
{
  (void)logql;
  *range_ms = 0;
  return NULL;
}
