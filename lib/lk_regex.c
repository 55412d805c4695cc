/* lk_regex.c — RE2 → POSIX ERE translation and anchored compilation.
 * See lk_regex.h for what is translated and the known differences. */
#include "lib/lk_regex.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/lk_buf.h"

static const char *class_for(char c, bool in_bracket)
{
  switch (c) {
  case 'd': return in_bracket ? "0-9" : "[0-9]";
  case 'D': return in_bracket ? NULL : "[^0-9]";
  case 'w': return in_bracket ? "0-9A-Za-z_" : "[0-9A-Za-z_]";
  case 'W': return in_bracket ? NULL : "[^0-9A-Za-z_]";
  case 's': return in_bracket ? "[:space:]" : "[[:space:]]";
  case 'S': return in_bracket ? NULL : "[^[:space:]]";
  default: return NULL;
  }
}

static void put_letter(lk_buf *b, char c, bool ci, bool in_bracket)
{
  if (!ci || !isalpha((unsigned char)c)) {
    lk_buf_putc(b, (uint8_t)c);
    return;
  }
  if (!in_bracket)
    lk_buf_putc(b, '[');
  lk_buf_putc(b, (uint8_t)tolower((unsigned char)c));
  lk_buf_putc(b, (uint8_t)toupper((unsigned char)c));
  if (!in_bracket)
    lk_buf_putc(b, ']');
}

/* Translate RE2 syntax into POSIX ERE in b. Case-insensitive scopes
 * ((?i) and (?i:...)) are expanded letter by letter into [xX] classes,
 * tracked per group depth. Returns 0 or -1 for unsupported syntax. */
static int translate(const char *re, lk_buf *b, size_t *map, size_t maxmap)
{
  size_t posix_groups = 1, user_groups = 0; /* group 1 is the wrapper */
  bool ci_stack[64] = {false};
  int depth = 0;
  bool in_bracket = false;
  lk_buf_puts(b, "^(");
  for (const char *p = re; *p; p++) {
    bool ci = ci_stack[depth];
    if (*p == '\\' && p[1]) {
      const char *cls = class_for(p[1], in_bracket);
      if (cls) {
        lk_buf_puts(b, cls);
      } else if (strchr("dDwWsS", p[1]) || (!in_bracket && strchr("bBAzpPQE", p[1]))) {
        return -1;
      } else if (strchr("ntrfv", p[1])) {
        lk_buf_putc(b, (uint8_t)(p[1] == 'n' ? '\n' : p[1] == 't' ? '\t' : p[1] == 'r' ? '\r'
                                 : p[1] == 'f' ? '\f' : '\v'));
      } else if (in_bracket) {
        /* POSIX brackets have no escapes: place the character literally */
        lk_buf_putc(b, (uint8_t)p[1]);
      } else if (isalnum((unsigned char)p[1])) {
        put_letter(b, p[1], ci, false);
      } else {
        lk_buf_putc(b, '\\');
        lk_buf_putc(b, (uint8_t)p[1]);
      }
      p++;
      continue;
    }
    if (in_bracket) {
      if (*p == ']')
        in_bracket = false;
      if (ci && isalpha((unsigned char)*p) && p[1] == '-' && isalpha((unsigned char)p[2])) {
        lk_buf_printf(b, "%c-%c%c-%c", tolower((unsigned char)*p), tolower((unsigned char)p[2]),
                      toupper((unsigned char)*p), toupper((unsigned char)p[2]));
        p += 2;
        continue;
      }
      put_letter(b, *p, ci, true);
      continue;
    }
    if (*p == '[') {
      in_bracket = true;
      lk_buf_putc(b, '[');
      if (p[1] == '^') {
        lk_buf_putc(b, '^');
        p++;
      }
      if (p[1] == ']') {
        lk_buf_putc(b, ']');
        p++;
      }
      continue;
    }
    if (*p == '(') {
      if (depth == 63)
        return -1;
      if (p[1] == '?') {
        if (!strncmp(p, "(?i)", 4)) {
          ci_stack[depth] = true;
          p += 3;
          continue;
        }
        bool gci = ci;
        if (!strncmp(p, "(?i:", 4))
          gci = true;
        else if (strncmp(p, "(?:", 3))
          return -1;
        p += p[2] == ':' ? 2 : 3;
        ci_stack[++depth] = gci;
        posix_groups++;
        lk_buf_putc(b, '(');
        continue;
      }
      ci_stack[++depth] = ci;
      posix_groups++;
      if (++user_groups < maxmap)
        map[user_groups] = posix_groups;
      lk_buf_putc(b, '(');
      continue;
    }
    if (*p == ')') {
      if (depth > 0)
        depth--;
      lk_buf_putc(b, ')');
      continue;
    }
    if (*p == '?' && p > re && strchr("*+?}", p[-1]) && !(p - 1 > re && p[-2] == '\\'))
      continue; /* lazy quantifier: same set of full matches */
    put_letter(b, *p, ci, false);
  }
  lk_buf_puts(b, ")$");
  for (size_t g = user_groups + 1; g < maxmap; g++)
    map[g] = SIZE_MAX;
  if (maxmap)
    map[0] = 0;
  return 0;
}

int lk_regex_compile_groups(const char *re, regex_t *out, size_t *map, size_t maxmap, char *err,
                            size_t errn)
{
  lk_buf b = {0};
  if (translate(re, &b, map, maxmap)) {
    lk_buf_fini(&b);
    snprintf(err, errn, "unsupported regular expression syntax");
    return -1;
  }
  int rc = regcomp(out, (const char *)b.data, REG_EXTENDED);
  lk_buf_fini(&b);
  if (rc) {
    regerror(rc, NULL, err, errn);
    return -1;
  }
  return 0;
}

int lk_regex_compile(const char *re, regex_t *out, char *err, size_t errn)
{
  return lk_regex_compile_groups(re, out, NULL, 0, err, errn);
}

int lk_regex_check(const char *re, char *err, size_t errn)
{
  regex_t r;
  if (lk_regex_compile(re, &r, err, errn))
    return -1;
  regfree(&r);
  return 0;
}

bool lk_regex_matches_empty(const char *re)
{
  regex_t r;
  char err[64];
  if (lk_regex_compile(re, &r, err, sizeof err))
    return false;
  bool m = regexec(&r, "", 0, NULL, 0) == 0;
  regfree(&r);
  return m;
}
