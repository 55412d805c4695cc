/* lk_time.c — clocks and Prometheus time/duration parsing. */
#include "lib/lk_time.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t lk_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lk_mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct timespec lk_deadline(clockid_t clock, int64_t ms)
{
  struct timespec ts;
  clock_gettime(clock, &ts);
  int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
  ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  return ts;
}

size_t lk_fmt_rfc3339(char *out, int64_t ms)
{
  int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  time_t t = (time_t)sec;
  struct tm tm;
  gmtime_r(&t, &tm);
  int n = snprintf(out, LK_RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - sec * 1000));
  return n > 0 && n < LK_RFC3339_MAX ? (size_t)n : 0;
}

static int64_t unit_ms(const char *u, size_t n)
{
  static const struct { const char *name; int64_t ms; } units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
    {"d", 86400000}, {"w", 604800000}, {"y", 31536000000}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strlen(units[i].name) == n && !memcmp(units[i].name, u, n))
      return units[i].ms;
  return 0;
}

int lk_parse_duration(const char *s, int64_t *out_ms, lk_diag *d)
{
  if (!strcmp(s, "0")) {
    *out_ms = 0;
    return 0;
  }
  const char *p = s;
  int64_t total = 0, last_unit = INT64_MAX;
  if (!*p)
    return lk_diag_set(d, LK_EPARSE, 0, "empty duration string");
  while (*p) {
    if (!isdigit((unsigned char)*p))
      return lk_diag_set(d, LK_EPARSE, p - s, "not a valid duration string: \"%s\"", s);
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
      if (n > INT64_MAX / 10)
        return lk_diag_set(d, LK_EPARSE, p - s, "duration out of range: \"%s\"", s);
      n = n * 10 + (*p++ - '0');
    }
    const char *u = p;
    while (*p && isalpha((unsigned char)*p))
      p++;
    int64_t ms = unit_ms(u, (size_t)(p - u));
    /* "ms" vs "m" followed by "s...": unit_ms matched the whole alpha run */
    if (!ms || ms >= last_unit)
      return lk_diag_set(d, LK_EPARSE, u - s, "not a valid duration string: \"%s\"", s);
    if (n && ms > INT64_MAX / n)
      return lk_diag_set(d, LK_EPARSE, 0, "duration out of range: \"%s\"", s);
    total += n * ms;
    last_unit = ms;
  }
  *out_ms = total;
  return 0;
}

static int parse_float_seconds(const char *s, int64_t *out_ms)
{
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !isfinite(v) || fabs(v) > 9.2e15)
    return LK_EPARSE;
  *out_ms = (int64_t)llround(v * 1000.0);
  return 0;
}

static int parse_rfc3339(const char *s, int64_t *out_ms)
{
  struct tm tm = {0};
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p)
    return LK_EPARSE;
  int64_t ms = 0;
  if (*p == '.') {
    p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
      if (digits < 3)
        ms = ms * 10 + (*p - '0');
      digits++;
      p++;
    }
    if (!digits)
      return LK_EPARSE;
    for (; digits < 3; digits++)
      ms *= 10;
  }
  int64_t off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, hh, mm;
    if (strlen(p) != 6 || p[3] != ':' || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
      return LK_EPARSE;
    off = sign * (hh * 3600 + mm * 60);
    p += 6;
  } else {
    return LK_EPARSE;
  }
  if (*p)
    return LK_EPARSE;
  *out_ms = ((int64_t)timegm(&tm) - off) * 1000 + ms;
  return 0;
}

int lk_parse_time(const char *s, int64_t *out_ms, lk_diag *d)
{
  if (!parse_float_seconds(s, out_ms) || !parse_rfc3339(s, out_ms))
    return 0;
  return lk_diag_set(d, LK_EPARSE, 0, "cannot parse \"%s\" to a valid timestamp", s);
}

int lk_parse_step(const char *s, int64_t *out_ms, lk_diag *d)
{
  if (!parse_float_seconds(s, out_ms))
    return 0;
  if (!lk_parse_duration(s, out_ms, NULL))
    return 0;
  return lk_diag_set(d, LK_EPARSE, 0, "cannot parse \"%s\" to a valid duration", s);
}

void lk_time_rfc3339(int64_t ms, char *out, size_t n)
{
  time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
