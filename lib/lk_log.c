/* lk_log.c — logfmt-style event lines on stderr. The message is quoted and
 * newlines in it are escaped so that one event is always one line. */
#include "lib/lk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *level_name[] = {"debug", "info", "warn", "error"};

void lk_log(enum lk_level lvl, const char *fmt, ...)
{
  if (lvl == LK_DEBUG && !getenv("LOOKOUT_DEBUG"))
    return;
  char msg[1024], line[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, level_name[lvl]);
  for (const char *s = msg; *s && n < (int)sizeof line - 4; s++) {
    if (*s == '\n' || *s == '"' || *s == '\\') {
      line[n++] = '\\';
      line[n++] = *s == '\n' ? 'n' : *s;
    } else {
      line[n++] = *s;
    }
  }
  line[n++] = '"';
  line[n++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
}
