/* lk_yaml.h — YAML files as a read-only tree that remembers line numbers.
 *
 * Every user-facing YAML file (the config's delegated sections, rule files,
 * rule unit-test files, Alertmanager routing, Kubernetes manifests) is read
 * through this one wrapper over libyaml, so every error reads the same way:
 * "<file>:<line>: <problem>". A stream may hold several documents ("---");
 * aliases are resolved by libyaml (a node may be shared by several parents).
 *
 * Ownership: lk_yaml_parse/load return a document set that owns every node;
 * nodes and strings are borrowed and live until lk_yaml_free. Nothing here
 * is thread-safe to mutate, but a loaded tree may be read from any thread.
 */
#ifndef LK_YAML_H
#define LK_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"

typedef struct lk_yaml lk_yaml;
typedef struct lk_ynode lk_ynode;

enum lk_ykind {
  LK_YNULL,   /* empty document, `~`, `null`, or an empty plain value */
  LK_YSCALAR,
  LK_YSEQ,
  LK_YMAP,
};

/* Parse text (name is used in messages). A syntax error is LK_EPARSE with
 * "<name>:<line>: <libyaml's problem>". Bounded: more than 1,000,000 nodes
 * is refused. */
int lk_yaml_parse(const char *text, size_t len, const char *name, lk_yaml **out, lk_diag *d);
/* Read and parse a file (LK_ENOENT / LK_EIO naming the path). */
int lk_yaml_load(const char *path, lk_yaml **out, lk_diag *d);
void lk_yaml_free(lk_yaml *y); /* NULL is fine */

const char *lk_yaml_name(const lk_yaml *y);
size_t lk_yaml_ndocs(const lk_yaml *y);
/* Root of document i (an LK_YNULL node for an empty document). */
const lk_ynode *lk_yaml_doc(const lk_yaml *y, size_t i);

enum lk_ykind lk_ynode_kind(const lk_ynode *n);
size_t lk_ynode_line(const lk_ynode *n);      /* 1-based */
/* Scalar text (NUL-terminated; may contain NULs, see len), or NULL for
 * anything but a scalar. A null node's text is NULL too. */
const char *lk_ynode_str(const lk_ynode *n);
size_t lk_ynode_strlen(const lk_ynode *n);
bool lk_ynode_quoted(const lk_ynode *n);      /* scalar written in quotes or as a block */
/* Sequence items or mapping pairs; 0 for scalars and nulls. */
size_t lk_ynode_len(const lk_ynode *n);
const lk_ynode *lk_ynode_at(const lk_ynode *seq, size_t i);
const lk_ynode *lk_ynode_key(const lk_ynode *map, size_t i);
const lk_ynode *lk_ynode_val(const lk_ynode *map, size_t i);
/* The value of key in a mapping; NULL when absent or n is not a mapping. */
const lk_ynode *lk_ynode_get(const lk_ynode *map, const char *key);

/* Fill d with "<file>:<line of n>: <message>" and return code (LK_EINVAL
 * for content errors). n may be NULL (line 0). */
int lk_yaml_err(const lk_yaml *y, const lk_ynode *n, lk_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Typed reads of a value found under `what` (used in the message, e.g.
 * "groups[0].interval"). Each refuses the wrong kind with LK_EINVAL and a
 * "<file>:<line>: <what>: expected …" message. */
int lk_ynode_string(const lk_yaml *y, const lk_ynode *n, const char *what, const char **out, lk_diag *d);
int lk_ynode_int(const lk_yaml *y, const lk_ynode *n, const char *what, int64_t *out, lk_diag *d);
int lk_ynode_float(const lk_yaml *y, const lk_ynode *n, const char *what, double *out, lk_diag *d);
int lk_ynode_bool(const lk_yaml *y, const lk_ynode *n, const char *what, bool *out, lk_diag *d);
/* Prometheus duration syntax (`90s`, `1h30m`, `0s`). */
int lk_ynode_duration(const lk_yaml *y, const lk_ynode *n, const char *what, int64_t *ms, lk_diag *d);
/* Refuse a mapping key not in allowed (NULL-terminated): "<file>:<line>:
 * field K not found in <what>"; also refuses a key given twice and a
 * non-mapping n ("<what>: expected a mapping"). */
int lk_ynode_check_keys(const lk_yaml *y, const lk_ynode *map, const char *what,
                        const char *const *allowed, lk_diag *d);

/* Convert to JSON with YAML 1.2 core-schema typing of plain scalars: null,
 * true/false, integers (decimal, 0x, 0o), floats (incl. .inf/.nan) become
 * JSON types; quoted scalars and everything else are strings. Mapping keys
 * are strings. *out is a new reference. Refuses a tree whose expansion
 * through aliases exceeds 1,000,000 nodes (LK_ELIMIT). */
int lk_ynode_to_json(const lk_yaml *y, const lk_ynode *n, json_t **out, lk_diag *d);

#endif
