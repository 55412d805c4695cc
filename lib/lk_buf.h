/* lk_buf.h — growable byte buffer with explicit len/cap.
 *
 * Zero-initialise (`lk_buf b = {0};`), append, then lk_buf_fini. The buffer
 * owns `data`; lk_buf_take hands ownership to the caller. `data` is always
 * NUL-terminated after any append (the NUL is not counted in len).
 */
#ifndef LK_BUF_H
#define LK_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lk_buf {
  uint8_t *data;
  size_t len, cap;
} lk_buf;

void lk_buf_fini(lk_buf *b);
void lk_buf_reserve(lk_buf *b, size_t extra);
void lk_buf_append(lk_buf *b, const void *p, size_t n);
void lk_buf_putc(lk_buf *b, uint8_t c);
void lk_buf_puts(lk_buf *b, const char *s);
void lk_buf_printf(lk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lk_buf_vprintf(lk_buf *b, const char *fmt, va_list ap);
void lk_buf_put_u32le(lk_buf *b, uint32_t v);
void lk_buf_put_u64le(lk_buf *b, uint64_t v);
void lk_buf_put_u32be(lk_buf *b, uint32_t v);
void lk_buf_put_uvarint(lk_buf *b, uint64_t v);
void lk_buf_put_varint(lk_buf *b, int64_t v); /* zigzag */
static inline void lk_buf_clear(lk_buf *b) { b->len = 0; }
/* Copy up to max bytes of b from *pos into dst and advance *pos; returns
 * the count (a streaming response handing out what it has buffered). */
size_t lk_buf_read(const lk_buf *b, size_t *pos, void *dst, size_t max);
/* Give the bytes to the caller (free with free()); the buffer is left empty. */
uint8_t *lk_buf_take(lk_buf *b, size_t *out_len);

#endif
