/* kube.h — what `lookout apply`, `lookout get` and `lookout scale` share:
 * their common flags (--server, --token-file, -n/--namespace, -A) and one
 * call of the server's Kubernetes API (lib/lk_httpc.h) with the bearer
 * token, answered as JSON.
 */
#ifndef MAIN_KUBE_H
#define MAIN_KUBE_H

#include <jansson.h>
#include <stdbool.h>

#include "orchestrator/orchestrator.h"

typedef struct kube {
  const char *server;     /* base URL, default http://127.0.0.1:9470 */
  const char *token_file; /* default ./data/token (read when present) */
  const char *ns;         /* default "default" */
  bool all_ns;            /* -A */
  char token[256];
} kube;

/* Take a common flag at argv[*i] (advancing *i past its value): 1 taken,
 * 0 not a common flag, -1 missing value. */
int kube_flag(kube *k, int argc, char **argv, int *i);
/* Defaults and the token; call after the flags. */
void kube_init(kube *k);
/* The help lines of the common flags. */
extern const char kube_flags_help[];

/* One request: path from the server root, an optional JSON body with its
 * content type, an optional Accept. *out is the JSON answer (NULL when the
 * body is not JSON), *status the HTTP status. Returns 0 when an answer
 * came, else an LK_E* code with the reason printed to stderr. */
int kube_call(const kube *k, const char *method, const char *path, const char *ctype, const char *body,
              const char *accept, json_t **out, int *status);
/* Create or update every document of a manifest (YAML text; name is used in
 * messages), as `lookout apply -f` does: everything is checked before
 * anything is sent; one line per object on stdout, the first refusal on
 * stderr. Returns the exit status (0 or 1). */
int kube_apply_text(const kube *k, const char *text, size_t len, const char *name);
/* The message of a Status answer ("NotFound: ...") for stderr. */
const char *kube_message(const json_t *status_obj);
/* The collection path of r: /api/v1/[namespaces/<ns>/]<plural> (ns NULL = all). */
void kube_path(const orch_resource *r, const char *version, const char *ns, char *out, size_t n);
/* The resource a user's word names: plural, singular, short name or kind. */
const orch_resource *kube_resource(const char *word);

#endif
