/* scrape.c — scraping configured Prometheus targets (static_configs) with
 * the same exposition parser as the import path (lib/lk_expo.h).
 *
 * Each target is scraped when its interval is due, on the collector's
 * thread, with a bounded timeout. Its samples join the cycle's batch with
 * `job` and `instance` added (clashing target labels become exported_job /
 * exported_instance, as Prometheus does), plus the synthetic series `up`,
 * `scrape_duration_seconds` and `scrape_samples_scraped`. A target that
 * fails or returns garbage contributes none of its samples (the partial
 * scrape is rolled back), up = 0, and the error is counted and logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector_int.h"
#include "lib/lk_expo.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define MAX_SAMPLES 200000
#define MAX_BODY (64u << 20)

typedef struct target {
  char *job, *url, *instance;
  int64_t interval_ms, timeout_ms, next_ms;
  uint64_t failures;
} target;

struct collector__scraper {
  target *t;
  size_t n;
  int64_t cycle_ms; /* the collector's interval: the granularity of scrape times */
};

/* host:port of an http:// URL. */
static char *instance_of(const char *url)
{
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  size_t n = strcspn(p, "/?#");
  return lk_xstrndup(p, n);
}

struct collector__scraper *collector__scraper_new(const collector_target *t, size_t n,
                                                  int64_t default_interval_ms)
{
  struct collector__scraper *s = lk_xcalloc(1, sizeof *s);
  s->t = lk_xcalloc(n, sizeof *s->t);
  s->n = n;
  s->cycle_ms = default_interval_ms;
  for (size_t i = 0; i < n; i++) {
    target *x = &s->t[i];
    x->job = lk_xstrdup(t[i].job ? t[i].job : "scrape");
    x->url = lk_xstrdup(t[i].url);
    x->instance = instance_of(t[i].url);
    x->interval_ms = t[i].interval_ms > 0 ? t[i].interval_ms : default_interval_ms;
    x->timeout_ms = t[i].timeout_ms > 0 ? t[i].timeout_ms
                                         : (x->interval_ms < 10000 ? x->interval_ms : 10000);
  }
  return s;
}

void collector__scraper_free(struct collector__scraper *s)
{
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->t[i].job);
    free(s->t[i].url);
    free(s->t[i].instance);
  }
  free(s->t);
  free(s);
}

typedef struct scrape_ctx {
  collector *c;
  target *t;
  size_t samples;
  lk_diag *d;
} scrape_ctx;

static int on_sample(void *arg, const lk_expo_sample *s)
{
  scrape_ctx *x = arg;
  collector__batch *b = &x->c->batch;
  lk_label *ls;
  size_t n;
  int rc = lk_expo_parse_series(s->series, s->series_len, b->arena, &ls, &n, x->d);
  if (rc)
    return rc;
  if (++x->samples > MAX_SAMPLES)
    return lk_diag_set(x->d, LK_ELIMIT, -1, "more than %d samples", MAX_SAMPLES);
  lk_label *out = lk_arena_alloc(b->arena, (n + 2) * sizeof *out);
  for (size_t i = 0; i < n; i++) {
    out[i] = ls[i];
    if (!strcmp(ls[i].name, "job"))
      out[i].name = "exported_job";
    else if (!strcmp(ls[i].name, "instance"))
      out[i].name = "exported_instance";
  }
  out[n] = (lk_label){"job", x->t->job};
  out[n + 1] = (lk_label){"instance", x->t->instance};
  collector__emit_series(b, out, n + 2, s->has_t ? s->t_ms : b->t, s->value);
  return 0;
}

static int scrape_one(collector *c, target *t, size_t *nsamples, lk_diag *d)
{
  static const char *const hdrs[] = {
    "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1", "Accept-Encoding: identity", NULL};
  lk_httpc_req req = {.url = t->url, .headers = hdrs, .timeout_ms = (int)t->timeout_ms,
                      .max_body = MAX_BODY};
  lk_httpc_resp resp = {0};
  int rc = lk_httpc_do(&req, &resp, d);
  if (rc)
    return rc;
  if (resp.status != 200) {
    rc = lk_diag_set(d, LK_EIO, -1, "HTTP status %d", resp.status);
    lk_httpc_resp_fini(&resp);
    return rc;
  }
  scrape_ctx x = {c, t, 0, d};
  lk_expo *p = lk_expo_new(on_sample, &x, 0);
  rc = lk_expo_feed(p, resp.body.data, resp.body.len, d);
  if (!rc)
    rc = lk_expo_finish(p, d);
  lk_expo_free(p);
  lk_httpc_resp_fini(&resp);
  *nsamples = x.samples;
  return rc;
}

void collector__scrape(collector *c, int64_t now_ms)
{
  struct collector__scraper *s = c->scraper;
  for (size_t i = 0; i < s->n; i++) {
    target *t = &s->t[i];
    /* Slots stay on the target's own grid, and a slot is taken by the cycle
     * within half a cycle of it: a cycle a few ms earlier relative to its
     * slot than the first one was must not skip a whole interval. A target
     * an interval behind (a stalled cycle) restarts its grid now. */
    if (now_ms + s->cycle_ms / 2 < t->next_ms)
      continue;
    t->next_ms = t->next_ms + t->interval_ms > now_ms ? t->next_ms + t->interval_ms
                                                       : now_ms + t->interval_ms;
    size_t mark = c->batch.n, nsamples = 0;
    lk_diag d = {0};
    int64_t t0 = lk_mono_ns();
    int rc = scrape_one(c, t, &nsamples, &d);
    double took = (double)(lk_mono_ns() - t0) / 1e9;
    if (rc) {
      c->batch.n = mark; /* no partial scrapes */
      nsamples = 0;
      t->failures++;
      pthread_mutex_lock(&c->lock);
      c->stats.scrape_errors++;
      pthread_mutex_unlock(&c->lock);
      if (t->failures <= 5 || (t->failures & (t->failures - 1)) == 0)
        lk_warn("scrape of %s (job %s) failed: %s: %s (%llu failures)",
                t->url, t->job, lk_strerror(rc), d.msg, (unsigned long long)t->failures);
    }
    const lk_label base[2] = {{"job", t->job}, {"instance", t->instance}};
    collector__emit(&c->batch, "up", base, 2, NULL, 0, rc ? 0 : 1);
    collector__emit(&c->batch, "scrape_duration_seconds", base, 2, NULL, 0, took);
    collector__emit(&c->batch, "scrape_samples_scraped", base, 2, NULL, 0, (double)nsamples);
  }
}
