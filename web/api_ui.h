/* api_ui.h — the browser dashboard: `GET /` and its assets under /ui/.
 *
 * The bundle (web/ui/, built by web/ui/build.mjs at build time) is embedded
 * as gzip-compressed assets: a generated file defines web__ui_assets, or
 * web/ui_embed_none.c defines none when the build machine had no node (then
 * `GET /` says how to build it). With web_opts.ui_dir the files of that
 * directory are served instead, read on each request (for UI development).
 */
#ifndef WEB_API_UI_H
#define WEB_API_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_http.h"

/* One embedded file. */
typedef struct web_ui_asset {
  const char *path;          /* "/index.html", "/ui/app-<hash>.js", ... */
  const char *content_type;
  const char *etag;          /* W/"<content hash>": weak, as the gzip and identity bodies share it */
  bool immutable;            /* content-hashed name: cache for a year */
  const uint8_t *gz;         /* gzip of the file */
  size_t gz_len;
  size_t len;                /* size before compression */
} web_ui_asset;

extern const web_ui_asset web__ui_assets[];
extern const size_t web__ui_nassets;

/* Handlers; ctx is the web_server. web__ui_index answers `/` with
 * index.html, web__ui_file any other file (route prefix /ui/). */
void web__ui_index(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__ui_file(void *ctx, const lk_http_req *req, lk_http_resp *resp);

#endif
