/* tsdb_dump.c — test helper: open a data directory with tsdb_open (after the
 * server that wrote it is gone) and print every series with its samples, one
 * JSON object per line: {"labels":{...},"t":[ms,...],"v":["1.5",...]}.
 * Used by the integration tests to check durability independently of the
 * HTTP read path. Usage: tsdb_dump DIR */
#include <stdint.h>
#include <stdio.h>

#include "lib/lk_json.h"
#include "tsdb/tsdb.h"

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: tsdb_dump DIR\n");
    return 2;
  }
  tsdb_opts o = {.dir = argv[1]};
  tsdb *db = NULL;
  lk_diag d = {0};
  if (tsdb_open(&o, &db, &d)) {
    fprintf(stderr, "tsdb_dump: open %s: %s\n", argv[1], d.msg);
    return 1;
  }
  tsdb_matcher m = {TSDB_RE, "__name__", ".+"};
  tsdb_result *r = NULL;
  int rc = tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, NULL, &r, &d);
  if (rc) {
    fprintf(stderr, "tsdb_dump: select: %s\n", d.msg);
    tsdb_close(db);
    return 1;
  }
  lk_buf b = {0};
  for (size_t i = 0; i < tsdb_result_count(r); i++) {
    const tsdb_series *s = tsdb_result_get(r, i);
    lk_buf_clear(&b);
    lk_buf_puts(&b, "{\"labels\":");
    lk_json_labels(&b, s->labels, s->nlabels);
    lk_buf_puts(&b, ",\"t\":[");
    for (size_t k = 0; k < s->n; k++)
      lk_buf_printf(&b, "%s%lld", k ? "," : "", (long long)s->t[k]);
    lk_buf_puts(&b, "],\"v\":[");
    for (size_t k = 0; k < s->n; k++) {
      if (k)
        lk_buf_putc(&b, ',');
      lk_json_sample_value(&b, s->v[k]);
    }
    lk_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
  }
  lk_buf_fini(&b);
  tsdb_result_free(r);
  tsdb_close(db);
  return 0;
}
