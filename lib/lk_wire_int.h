/* lk_wire_int.h — shared between lk_wire.c and lk_rw_decode.c only. */
#ifndef LK_WIRE_INT_H
#define LK_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"

/* Stated decoded size of a snappy block; LK_ECORRUPT or LK_ETOOBIG (> max_out). */
int lk__snappy_size(const uint8_t *in, size_t n, size_t max_out, size_t *size, lk_diag *d);
/* Decompress into dst, which has room for exactly `size` bytes; LK_ECORRUPT. */
int lk__snappy_into(const uint8_t *in, size_t n, uint8_t *dst, size_t size, lk_diag *d);

#endif
