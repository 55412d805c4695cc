/* gorilla.h — Prometheus-style XOR chunk, the bench's baseline. */
#ifndef BENCH_GORILLA_H
#define BENCH_GORILLA_H

#include <stddef.h>
#include <stdint.h>

/* Encode n samples (n < 65536) into out (room for 32 + 30 n bytes); returns bytes. */
size_t gorilla_encode(const int64_t *t, const double *v, size_t n, uint8_t *out);
/* Decode; returns the sample count, 0 on a short input. Bench input only. */
size_t gorilla_decode(const uint8_t *p, size_t len, int64_t *t, double *v);

#endif
