/* fuzz_tail.c — libFuzzer target for container log records
 * (collector/tail_parse.c): CRI lines, Docker json-file lines and plain
 * lines, joined across partial records. The first byte picks the format
 * (auto, CRI, Docker, plain) and a small max_line; the rest is split on \n
 * into records fed to one joiner, then flushed. Every joined line must
 * come with its file and stream. Seeds:
 * tests/fuzz/corpus_tail (../shared/data/container-logs excerpts).
 */
#include "collector/tail.h"
#include "tests/fuzz/harness.h"

static void joined(void *ctx, const char *file, int64_t ts, const char *stream, const char *line, size_t len)
{
  (void)ctx, (void)ts;
  if (!file || !stream || (len && !line) )
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!size)
    return 0;
  static const size_t caps[] = {16, 100, 4096, 1 << 18};
  collector_log_joiner *j = collector_joiner_new((enum collector_log_format)(data[0] & 3),
                                                 caps[(data[0] >> 2) & 3], joined, NULL);
  const char *p = (const char *)data + 1, *end = (const char *)data + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    /* An exact-size copy, so ASan sees any read past the record. */
    char *rec = lk_xmalloc(n ? n : 1);
    memcpy(rec, p, n);
    (void)collector_joiner_feed(j, (data[0] & 16) ? "b.log" : "a.log", rec, n, 1700000000000000000LL);
    free(rec);
    p += n + 1;
  }
  collector_joiner_flush(j);
  collector_joiner_free(j);
  int64_t ns;
  (void)collector_parse_rfc3339_ns((const char *)data + 1, size - 1, &ns);
  return 0;
}
