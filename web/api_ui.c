/* api_ui.c — serves the browser dashboard: `GET /` (index.html) and the
 * files under /ui/, from the bundle embedded at build time or, with
 * --ui-dir, from a directory.
 *
 * Embedded files are stored gzip-compressed once, at build time: a client
 * that accepts gzip gets those bytes as they are, any other gets them
 * inflated. Every answer carries an ETag (for embedded files a weak one,
 * the content hash, shared by both encodings; for --ui-dir files size and
 * mtime) and a matching If-None-Match gets 304. index.html
 * is revalidated on every load (no-cache) while the content-named bundle
 * files are cached for a year, so a new binary's UI is picked up at once.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/lk_fs.h"
#include "lib/lk_gzip.h"
#include "web/api_ui.h"
#include "web/web_int.h"

#define UI_MAX_FILE ((size_t)64 << 20) /* a --ui-dir file larger than this is refused */

static const char *const cache_revalidate = "no-cache";
static const char *const cache_year = "public, max-age=31536000, immutable";

static const char *content_type_of(const char *path)
{
  static const struct { const char *ext, *type; } types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
    {".svg", "image/svg+xml"},             {".png", "image/png"},
    {".map", "application/json"},          {".ico", "image/x-icon"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(dot, types[i].ext))
      return types[i].type;
  return "application/octet-stream";
}

/* If-None-Match names etag (or is "*"): the client's copy is current. */
static bool client_has(const lk_http_req *req, const char *etag)
{
  const char *inm = lk_http_header(req, "If-None-Match");
  return inm && (strstr(inm, etag) || !strcmp(inm, "*"));
}

/* Accept-Encoding lists gzip, and not with q=0. */
static bool accepts_gzip(const lk_http_req *req)
{
  const char *ae = lk_http_header(req, "Accept-Encoding");
  const char *g = ae ? strstr(ae, "gzip") : NULL;
  if (!g)
    return false;
  const char *q = strstr(g, "q=");
  const char *comma = strchr(g, ',');
  return !(q && (!comma || q < comma) && strtod(q + 2, NULL) == 0);
}

static void not_modified(lk_http_resp *resp)
{
  resp->status = 304;
  lk_buf_clear(&resp->body);
}

static int append_sink(void *ctx, const uint8_t *p, size_t n)
{
  lk_buf_append(ctx, p, n);
  return 0;
}

static void send_asset(const web_ui_asset *a, const lk_http_req *req, lk_http_resp *resp)
{
  snprintf(resp->etag, sizeof resp->etag, "%s", a->etag);
  resp->cache_control = a->immutable ? cache_year : cache_revalidate;
  resp->vary = "Accept-Encoding";
  resp->content_type = a->content_type;
  if (client_has(req, a->etag)) {
    not_modified(resp);
    return;
  }
  if (accepts_gzip(req)) {
    resp->content_encoding = "gzip";
    lk_buf_append(&resp->body, a->gz, a->gz_len);
    return;
  }
  lk_gunzip *z = lk_gunzip_new(a->len, append_sink, &resp->body);
  lk_diag d = {0};
  int rc = lk_gunzip_feed(z, a->gz, a->gz_len, &d);
  if (!rc)
    rc = lk_gunzip_finish(z, &d);
  lk_gunzip_free(z);
  if (rc)
    web__fail(resp, rc, &d, "embedded dashboard file");
}

static void serve_embedded(const char *path, const lk_http_req *req, lk_http_resp *resp)
{
  for (size_t i = 0; i < web__ui_nassets; i++)
    if (!strcmp(web__ui_assets[i].path, path)) {
      send_asset(&web__ui_assets[i], req, resp);
      return;
    }
  if (web__ui_nassets)
    lk_http_error(resp, 404, "not_found", "no such dashboard file: %s", path);
  else
    lk_http_error(resp, 404, "not_found", "this lookout was built without the dashboard "
                  "(scripts/deps installs node and web/ui/node_modules; then rebuild), "
                  "or serve one with --ui-dir DIR");
}

/* A path with no "." segment start (so no "..", no hidden files). */
static bool safe_path(const char *path)
{
  return path[0] == '/' && !strstr(path, "/.") && !strchr(path, '\\');
}

/* full, with symlinks resolved, lies inside dir: a link out of the root
 * (to /etc, to a file beside it) is not served. */
static bool inside_root(const char *dir, const char *full)
{
  char root[PATH_MAX], real[PATH_MAX];
  if (!realpath(dir, root) || !realpath(full, real))
    return false;
  size_t n = strlen(root);
  return !strncmp(real, root, n) && (real[n] == '/' || (n == 1 && root[0] == '/'));
}

static void serve_dir(const char *dir, const char *path, const lk_http_req *req, lk_http_resp *resp)
{
  if (!safe_path(path)) {
    lk_http_error(resp, 404, "not_found", "no such dashboard file: %s", path);
    return;
  }
  char full[4096];
  struct stat st;
  snprintf(full, sizeof full, "%s%s", dir, path);
  if (stat(full, &st) || !S_ISREG(st.st_mode) || !inside_root(dir, full)) {
    lk_http_error(resp, 404, "not_found", "no such dashboard file: %s", path);
    return;
  }
  snprintf(resp->etag, sizeof resp->etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
           (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
  resp->cache_control = cache_revalidate;
  resp->content_type = content_type_of(path);
  if (client_has(req, resp->etag)) {
    not_modified(resp);
    return;
  }
  char *data = NULL;
  size_t len = 0;
  lk_diag d = {0};
  int rc = lk_read_file(full, UI_MAX_FILE, &data, &len, &d);
  if (rc) {
    web__fail(resp, rc, &d, NULL);
    return;
  }
  lk_buf_append(&resp->body, data, len);
  free(data);
}

static void serve(web_server *w, const char *path, const lk_http_req *req, lk_http_resp *resp)
{
  if (w->ui_dir)
    serve_dir(w->ui_dir, path, req, resp);
  else
    serve_embedded(path, req, resp);
}

void web__ui_index(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  serve(ctx, "/index.html", req, resp);
}

void web__ui_file(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  serve(ctx, lk_http_path(req), req, resp);
}
