/* hpatest.h — the HPA peer-case runner's loader (hpatest_load.c): the JSON
 * of one case (../shared/peers/hpa/FORMAT.md) turned into the autoscaler's
 * own structs (orchestrator/hpa.h). Everything a case needs lives in one
 * arena, freed with the case. Ages become timestamps before HPATEST_NOW. */
#ifndef HPATEST_H
#define HPATEST_H

#include <jansson.h>

#include "lib/lk_alloc.h"
#include "orchestrator/hpa.h"

/* "now" in ms: later than the zero time (10^10 s ago) by far. */
#define HPATEST_NOW ((int64_t)100000000000000)

typedef struct hpatest_ctx {
  lk_arena *arena;
} hpatest_ctx;

int64_t hpatest_ts(json_t *age_s);                 /* age in seconds → ms timestamp */
orch__hpa_pod *hpatest_pods(hpatest_ctx *c, json_t *a, size_t *n);
orch__hpa_sample *hpatest_samples(hpatest_ctx *c, json_t *a, size_t *n);
/* A metric spec plus its observation from metrics_api (may be NULL). */
void hpatest_metric(hpatest_ctx *c, json_t *spec, json_t *api, orch__hpa_metric *m);
void hpatest_rules(json_t *j, orch__hpa_rules *r);
void hpatest_behavior(json_t *j, orch__hpa_behavior *b);
void hpatest_settings(json_t *case_, orch__hpa_settings *s);
void hpatest_history(json_t *case_, orch__hpa_history *h); /* recommendations + event lists */
void hpatest_events(json_t *a, orch__hpa_history *h, bool up);

#endif
