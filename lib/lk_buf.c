/* lk_buf.c — growable byte buffer. */
#include "lib/lk_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_endian.h"
#include "lib/lk_varint.h"

void lk_buf_fini(lk_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void lk_buf_reserve(lk_buf *b, size_t extra)
{
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return;
  size_t c = b->cap ? b->cap : 64;
  while (c < need)
    c *= 2;
  b->data = lk_xrealloc(b->data, c);
  b->cap = c;
}

void lk_buf_append(lk_buf *b, const void *p, size_t n)
{
  lk_buf_reserve(b, n);
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
}

void lk_buf_putc(lk_buf *b, uint8_t c) { lk_buf_append(b, &c, 1); }
void lk_buf_puts(lk_buf *b, const char *s) { lk_buf_append(b, s, strlen(s)); }

void lk_buf_vprintf(lk_buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if ((size_t)n < sizeof tmp) {
    lk_buf_append(b, tmp, (size_t)n);
  } else {
    lk_buf_reserve(b, (size_t)n);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

void lk_buf_printf(lk_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  lk_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void lk_buf_put_u32le(lk_buf *b, uint32_t v)
{
  uint8_t x[4];
  lk_le32_store(x, v);
  lk_buf_append(b, x, 4);
}

void lk_buf_put_u32be(lk_buf *b, uint32_t v)
{
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  lk_buf_append(b, x, 4);
}

void lk_buf_put_u64le(lk_buf *b, uint64_t v)
{
  uint8_t x[8];
  lk_le64_store(x, v);
  lk_buf_append(b, x, 8);
}

void lk_buf_put_uvarint(lk_buf *b, uint64_t v)
{
  uint8_t x[LK_UVARINT_MAX];
  lk_buf_append(b, x, lk_uvarint_put(x, v));
}

void lk_buf_put_varint(lk_buf *b, int64_t v) { lk_buf_put_uvarint(b, lk_zigzag(v)); }

uint8_t *lk_buf_take(lk_buf *b, size_t *out_len)
{
  uint8_t *p = b->data;
  if (out_len)
    *out_len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

size_t lk_buf_read(const lk_buf *b, size_t *pos, void *dst, size_t max)
{
  size_t n = b->len - *pos < max ? b->len - *pos : max;
  memcpy(dst, b->data + *pos, n);
  *pos += n;
  return n;
}
