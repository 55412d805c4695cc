/* api_loki_int.h — helpers shared by api_loki.c and api_loki_push.c. */
#ifndef WEB_API_LOKI_INT_H
#define WEB_API_LOKI_INT_H

#include "lib/lk_alloc.h"
#include "logstore/logstore.h"
#include "web/web_int.h"

/* The server's log store, or NULL after filling a 503. */
logstore *web__loki_store(void *ctx, lk_http_resp *resp);
/* Parse `{a="b", c="d"}` into ls (strings in a); count or -1. */
long web__loki_parse_labels(const char *s, lk_arena *a, lk_label *ls, size_t max, lk_diag *d);
/* Decode a push body (Content-Type and Content-Encoding as sent, either may
 * be NULL) and store its streams in s; 0 or an LK_E* code with d set. */
int web__loki_push_body(logstore *s, const char *ct, const char *ce, const uint8_t *body, size_t len,
                        lk_diag *d);

#endif
