/* capture.c — see capture.h. */
#include "tests/collector/capture.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"

void capture_fini(capture *c)
{
  for (size_t i = 0; i < c->n; i++)
    free(c->text[i]);
  free(c->text);
  free(c->val);
  free(c->t);
  c->text = NULL;
  c->val = NULL;
  c->t = NULL;
  c->n = 0;
}

int capture_sink(void *ctx, const lk_series *s, size_t n)
{
  capture *c = ctx;
  capture_fini(c);
  c->cycles++;
  c->text = lk_xcalloc(n + 1, sizeof *c->text);
  c->val = lk_xcalloc(n + 1, sizeof *c->val);
  c->t = lk_xcalloc(n + 1, sizeof *c->t);
  for (size_t i = 0; i < n; i++) {
    lk_label *ls = lk_xmalloc((s[i].nlabels + 1) * sizeof *ls);
    memcpy(ls, s[i].labels, s[i].nlabels * sizeof *ls);
    lk_labels_sort(ls, s[i].nlabels);
    lk_buf b = {0};
    lk_labels_format(&b, ls, s[i].nlabels);
    free(ls);
    c->text[i] = (char *)lk_buf_take(&b, NULL);
    if (!c->text[i])
      c->text[i] = lk_xstrdup("");
    c->val[i] = s[i].samples[0].v;
    c->t[i] = s[i].samples[0].t;
  }
  c->n = n;
  return 0;
}

static bool has_pair(const char *labels, const char *k, const char *v)
{
  char want[1024];
  snprintf(want, sizeof want, "%s=\"%s\"", k, v);
  const char *hit = strstr(labels, want);
  return hit && (hit[-1] == '{' || hit[-1] == ',' || hit[-1] == ' ');
}

static bool matches(const capture *c, const char *text, const char *name, va_list ap)
{
  size_t nl = strlen(name);
  if (strncmp(text, name, nl) || (text[nl] != '{' && text[nl] != 0))
    return false;
  for (size_t i = 0; c->base && c->base[i]; i += 2)
    if (!has_pair(text + nl, c->base[i], c->base[i + 1]))
      return false;
  const char *k;
  while ((k = va_arg(ap, const char *))) {
    const char *v = va_arg(ap, const char *);
    if (!has_pair(text + nl, k, v))
      return false;
  }
  return true;
}

static size_t vcount(const capture *c, double *out, const char *name, va_list ap)
{
  size_t cnt = 0;
  for (size_t i = 0; i < c->n; i++) {
    va_list cp;
    va_copy(cp, ap);
    if (matches(c, c->text[i], name, cp)) {
      cnt++;
      if (out)
        *out = c->val[i];
    }
    va_end(cp);
  }
  return cnt;
}

size_t capture_count(const capture *c, double *out, const char *name, ...)
{
  va_list ap;
  va_start(ap, name);
  size_t n = vcount(c, out, name, ap);
  va_end(ap);
  return n;
}

double capture_val(const capture *c, const char *name, ...)
{
  va_list ap;
  va_start(ap, name);
  double v = 0;
  size_t n = vcount(c, &v, name, ap);
  va_end(ap);
  if (n != 1)
    fail_msg("%zu series match %s (want 1)", n, name);
  return v;
}

void capture_dump(const capture *c, const char *grep)
{
  for (size_t i = 0; i < c->n; i++)
    if (!grep || strstr(c->text[i], grep))
      printf("%s %.17g\n", c->text[i], c->val[i]);
}
