/* web_fx.h — the HTTP end-to-end tests' fixture: a real tsdb (and, when
 * asked, a real log store) in a fresh temporary directory, served by a real
 * web server on 127.0.0.1 port 0. Shared by tests/web/test_api.c and
 * tests/logstore/test_loki_api.c. */
#ifndef TESTS_HELPERS_WEB_FX_H
#define TESTS_HELPERS_WEB_FX_H

#include "logstore/logstore.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

typedef struct web_fx {
  char dir[64];      /* the temporary directory: tsdb in dir/tsdb, logs in dir/logs */
  tsdb *db;
  logstore *logs;    /* NULL unless lo was given */
  web_server *w;
  char base[64];     /* http://127.0.0.1:<port> */
} web_fx;

/* Create a directory from tmpl (a mkdtemp template), open the stores and
 * start the server with wo (listen is forced to 127.0.0.1:0, logs to the log
 * store). lo: log store options (dir is filled in), or NULL for none.
 * Returns the fixture (free with web_fx_stop) or NULL after printing why. */
web_fx *web_fx_start(const char *tmpl, web_opts wo, const logstore_opts *lo);
/* The same with storage options tso (dir is filled in). */
web_fx *web_fx_start_tsdb(const char *tmpl, web_opts wo, const logstore_opts *lo, const tsdb_opts *tso);
/* Stop everything, remove the directory, free f. 0, or -1 when rm failed. */
int web_fx_stop(web_fx *f);

#endif
