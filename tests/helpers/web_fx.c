/* web_fx.c — the HTTP end-to-end tests' fixture (see web_fx.h). Failures in
 * setup print the diagnostic and undo what was opened, so a cmocka setup
 * that fails leaves no server, thread or directory behind. */
#include "tests/helpers/web_fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static web_fx *fail(web_fx *f, const char *what, const lk_diag *d)
{
  fprintf(stderr, "web_fx: %s: %s\n", what, d->set ? d->msg : "failed");
  web_fx_stop(f);
  return NULL;
}

web_fx *web_fx_start(const char *tmpl, web_opts wo, const logstore_opts *lo)
{
  return web_fx_start_tsdb(tmpl, wo, lo, NULL);
}

web_fx *web_fx_start_tsdb(const char *tmpl, web_opts wo, const logstore_opts *lo, const tsdb_opts *tso)
{
  web_fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", tmpl);
  if (!mkdtemp(f->dir)) {
    free(f);
    return NULL;
  }
  char p[128];
  lk_diag d = {0};
  snprintf(p, sizeof p, "%s/tsdb", f->dir);
  tsdb_opts to = tso ? *tso : (tsdb_opts){0};
  to.dir = p;
  if (tsdb_open(&to, &f->db, &d))
    return fail(f, "tsdb_open", &d);
  if (lo) {
    logstore_opts o = *lo;
    snprintf(p, sizeof p, "%s/logs", f->dir);
    o.dir = p;
    if (logstore_open(&o, &f->logs, &d))
      return fail(f, "logstore_open", &d);
  }
  wo.listen = "127.0.0.1:0";
  wo.db = f->db;
  wo.logs = f->logs;
  if (web_start(&wo, &f->w, &d))
    return fail(f, "web_start", &d);
  snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", web_port(f->w));
  return f;
}

int web_fx_stop(web_fx *f)
{
  if (!f)
    return 0;
  if (f->w)
    web_stop(f->w);
  logstore_close(f->logs);
  if (f->db)
    tsdb_close(f->db);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  int rc = system(cmd) ? -1 : 0;
  free(f);
  return rc;
}
