/* cmd_import.c — `lookout import FILE [--server URL]`: stream a metrics file
 * in the text exposition format (optionally gzip-compressed) to the server's
 * POST /api/v1/import/prometheus, with a progress bar on stderr.
 *
 * The file is sent as it is: a .gz file (detected by its magic bytes) goes
 * with Content-Encoding: gzip and the server decompresses while it parses,
 * so neither side holds the file in memory. The progress bar (bytes sent,
 * percent, MB/s) is redrawn at most 10 times a second and only on a
 * terminal; the result is one line on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "main/cmd.h"

typedef struct upload {
  int fd;
  uint64_t sent, total;
  int64_t start_ns, last_draw_ns;
  int tty;
} upload;

static void usage(FILE *f)
{
  fprintf(f,
          "usage: lookout import FILE [--server URL] [--token-file FILE] [--ca-file FILE]\n\n"
          "Streams FILE (Prometheus text exposition format, optional per-sample\n"
          "timestamps in ms; gzip-compressed files are detected) to the server's\n"
          "/api/v1/import/prometheus, showing progress on stderr. FILE may be - for stdin.\n\n"
          "  --server URL       server base URL (default http://127.0.0.1:9470; https:// too)\n"
          "  --token-file FILE  send the first bearer token of FILE (a write or admin token)\n"
          "                     (default: $LOOKOUT_TOKEN if set)\n"
          "  --ca-file FILE     https: trust the CA certificate(s) in FILE (PEM)\n");
}

static void draw(upload *u, int final)
{
  int64_t now = lk_mono_ns();
  if (!u->tty || (!final && now - u->last_draw_ns < 100000000))
    return;
  u->last_draw_ns = now;
  double secs = (double)(now - u->start_ns) / 1e9;
  double mbs = secs > 0 ? (double)u->sent / 1e6 / secs : 0;
  if (u->total) {
    double pct = 100.0 * (double)u->sent / (double)u->total;
    int bar = (int)(pct / 5);
    fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %.1f/%.1f MB  %.1f MB/s", bar, "####################",
            20 - bar, "", pct, (double)u->sent / 1e6, (double)u->total / 1e6, mbs);
  } else {
    fprintf(stderr, "\r%.1f MB sent  %.1f MB/s", (double)u->sent / 1e6, mbs);
  }
  if (final)
    fputc('\n', stderr);
}

static ssize_t read_file(void *ctx, uint8_t *buf, size_t max)
{
  upload *u = ctx;
  ssize_t n;
  do
    n = read(u->fd, buf, max);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return LK_EIO;
  u->sent += (uint64_t)n;
  draw(u, 0);
  return n;
}

static int is_gzip(int fd)
{
  unsigned char m[2];
  if (pread(fd, m, 2, 0) != 2)
    return 0;
  return m[0] == 0x1f && m[1] == 0x8b;
}

static int print_result(const lk_httpc_resp *r, double secs)
{
  json_error_t je;
  json_t *j = json_loads((const char *)r->body.data, 0, &je);
  const char *err = j ? json_string_value(json_object_get(j, "error")) : NULL;
  int ok = r->status >= 200 && r->status < 300;
  if (ok) {
    json_t *data = j ? json_object_get(j, "data") : NULL;
    json_int_t samples = json_integer_value(json_object_get(data, "accepted"));
    json_int_t dups = json_integer_value(json_object_get(data, "duplicates"));
    json_int_t series = json_integer_value(json_object_get(data, "series"));
    json_int_t lines = json_integer_value(json_object_get(data, "lines"));
    printf("imported %lld samples of %lld series from %lld lines in %.1f s (%.0f samples/s)%s\n",
           (long long)samples, (long long)series, (long long)lines, secs,
           secs > 0 ? (double)samples / secs : 0.0, dups ? "; identical samples already stored were skipped" : "");
  } else {
    fprintf(stderr, "lookout import: server answered %d: %s\n", r->status,
            err ? err : (const char *)r->body.data);
  }
  json_decref(j);
  return ok ? 0 : 1;
}

int cmd_import(int argc, char **argv)
{
  const char *file = NULL, *server = "http://127.0.0.1:9470", *token_file = NULL, *ca_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--server") || !strcmp(argv[i], "--token-file")) && i + 1 < argc) {
      *(argv[i][2] == 's' ? &server : &token_file) = argv[i + 1];
      i++;
    } else if (!strncmp(argv[i], "--server=", 9)) {
      server = argv[i] + 9;
    } else if (!strncmp(argv[i], "--token-file=", 13)) {
      token_file = argv[i] + 13;
    } else if (!strcmp(argv[i], "--ca-file") && i + 1 < argc) {
      ca_file = argv[++i];
    } else if ((argv[i][0] != '-' || !strcmp(argv[i], "-")) && !file) {
      file = argv[i];
    } else {
      fprintf(stderr, "lookout import: unexpected argument \"%s\" (try lookout import --help)\n", argv[i]);
      return 2;
    }
  }
  if (!file) {
    fprintf(stderr, "lookout import: missing FILE (try lookout import --help)\n");
    return 2;
  }
  char auth[600];
  if (cmd_auth_header("import", token_file, auth, sizeof auth))
    return 1;
  upload u = {.fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0};
  if (u.fd < 0) {
    fprintf(stderr, "lookout import: cannot open %s: %s\n", file, strerror(errno));
    return 1;
  }
  u.tty = isatty(2);
  struct stat st;
  int regular = fstat(u.fd, &st) == 0 && S_ISREG(st.st_mode);
  u.total = regular ? (uint64_t)st.st_size : 0;
  char url[2048];
  snprintf(url, sizeof url, "%s/api/v1/import/prometheus", server);
  const char *hdrs[4] = {"Content-Type: text/plain; version=0.0.4", NULL, NULL, NULL};
  size_t nh = 1;
  if (regular && is_gzip(u.fd))
    hdrs[nh++] = "Content-Encoding: gzip";
  if (auth[0])
    hdrs[nh++] = auth;
  lk_httpc_req q = {.method = "POST", .url = url, .headers = hdrs, .body_fn = read_file, .body_ctx = &u,
                    .body_fn_len = regular ? (int64_t)st.st_size : -1, .timeout_ms = 0x7fffffff,
                    .ca_file = ca_file};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  u.start_ns = lk_mono_ns();
  int rc = lk_httpc_do(&q, &r, &d);
  draw(&u, 1);
  if (u.fd > 0)
    close(u.fd);
  if (rc) {
    fprintf(stderr, "lookout import: %s\n", d.set ? d.msg : lk_strerror(rc));
    return 1;
  }
  rc = print_result(&r, (double)(lk_mono_ns() - u.start_ns) / 1e9);
  lk_httpc_resp_fini(&r);
  return rc;
}
