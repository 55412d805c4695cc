/* lk_labels.c — ordering, hashing, validation and printing of label sets. */
#include "lib/lk_labels.h"

#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"

void lk_labels_sort(lk_label *ls, size_t n)
{
  /* insertion sort: label sets are short and often nearly sorted */
  for (size_t i = 1; i < n; i++) {
    lk_label x = ls[i];
    size_t j = i;
    while (j > 0 && strcmp(ls[j - 1].name, x.name) > 0) {
      ls[j] = ls[j - 1];
      j--;
    }
    ls[j] = x;
  }
}

int lk_labels_cmp(const lk_label *a, size_t na, const lk_label *b, size_t nb)
{
  size_t n = na < nb ? na : nb;
  for (size_t i = 0; i < n; i++) {
    int c = strcmp(a[i].name, b[i].name);
    if (c)
      return c;
    c = strcmp(a[i].value, b[i].value);
    if (c)
      return c;
  }
  return na < nb ? -1 : na > nb;
}

bool lk_labels_equal(const lk_label *a, size_t na, const lk_label *b, size_t nb)
{
  return na == nb && lk_labels_cmp(a, na, b, nb) == 0;
}

uint64_t lk_labels_hash(const lk_label *ls, size_t n)
{
  uint64_t h = 0x5bd1e995;
  for (size_t i = 0; i < n; i++) {
    h = lk_hash64(ls[i].name, strlen(ls[i].name), h);
    h = lk_hash64(ls[i].value, strlen(ls[i].value), h ^ 0xff);
  }
  return h;
}

const char *lk_labels_get(const lk_label *ls, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (!strcmp(ls[i].name, name))
      return ls[i].value;
  return NULL;
}

static bool name_valid(const char *s, bool colon)
{
  if (!*s)
    return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (colon && c == ':') || (p != s && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

bool lk_label_name_valid(const char *s) { return name_valid(s, false); }
bool lk_metric_name_valid(const char *s) { return name_valid(s, true); }

bool lk_utf8_valid(const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str, *end = s + n;
  while (s < end) {
    unsigned c = *s;
    size_t len;
    unsigned min;
    if (c < 0x80) { s++; continue; }
    else if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; c &= 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; c &= 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; c &= 0x07; }
    else return false;
    if ((size_t)(end - s) < len)
      return false;
    for (size_t i = 1; i < len; i++) {
      if ((s[i] & 0xc0) != 0x80)
        return false;
      c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
      return false;
    s += len;
  }
  return true;
}

static void put_escaped(lk_buf *out, const char *v)
{
  for (; *v; v++) {
    if (*v == '\\' || *v == '"') {
      lk_buf_putc(out, '\\');
      lk_buf_putc(out, (uint8_t)*v);
    } else if (*v == '\n') {
      lk_buf_puts(out, "\\n");
    } else {
      lk_buf_putc(out, (uint8_t)*v);
    }
  }
}

void lk_labels_format(lk_buf *out, const lk_label *ls, size_t n)
{
  const char *name = lk_labels_get(ls, n, "__name__");
  if (name)
    lk_buf_puts(out, name);
  lk_buf_putc(out, '{');
  int first = 1;
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(ls[i].name, "__name__"))
      continue;
    if (!first)
      lk_buf_puts(out, ", ");
    first = 0;
    lk_buf_puts(out, ls[i].name);
    lk_buf_puts(out, "=\"");
    put_escaped(out, ls[i].value);
    lk_buf_putc(out, '"');
  }
  lk_buf_putc(out, '}');
}
