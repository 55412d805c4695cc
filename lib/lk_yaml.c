/* lk_yaml.c — libyaml's document loader turned into a small owned tree, see
 * lk_yaml.h.
 *
 * libyaml addresses nodes by index inside one yaml_document_t; copying them
 * into our own nodes (children as pointers, one allocation set per stream)
 * lets callers walk any number of documents with plain accessors and keeps
 * the libyaml types out of every other module.
 */
#include "lib/lk_yaml.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_time.h"

#define MAX_NODES 1000000u
#define MAX_FILE (64u << 20)

struct lk_ynode {
  enum lk_ykind kind;
  bool quoted;
  size_t line;
  char *str;          /* scalars */
  size_t len;         /* scalar bytes, or number of kids */
  lk_ynode **kids;    /* sequence items; mappings: key, value, key, value, ... */
};

struct lk_yaml {
  char *name;
  lk_ynode **docs;
  size_t ndocs;
  lk_ynode **all; /* every node, for freeing */
  size_t nall, capall;
};

static const lk_ynode null_node = {LK_YNULL, false, 0, NULL, 0, NULL};

static lk_ynode *new_node(lk_yaml *y)
{
  if (y->nall == y->capall) {
    y->capall = y->capall ? 2 * y->capall : 64;
    y->all = lk_xrealloc(y->all, y->capall * sizeof *y->all);
  }
  lk_ynode *n = lk_xcalloc(1, sizeof *n);
  y->all[y->nall++] = n;
  return n;
}

static bool plain_null(const yaml_node_t *n)
{
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *s = (const char *)n->data.scalar.value;
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Copy libyaml's nodes of one document; map[i] is the copy of node i+1. */
static int copy_doc(lk_yaml *y, yaml_document_t *doc, lk_ynode **root, lk_diag *d)
{
  size_t count = (size_t)(doc->nodes.top - doc->nodes.start);
  if (count == 0) {
    *root = NULL;
    return 0;
  }
  if (y->nall + count > MAX_NODES)
    return lk_diag_set(d, LK_ELIMIT, -1, "%s: more than %u YAML nodes", y->name, MAX_NODES);
  lk_ynode **map = lk_xmalloc(count * sizeof *map);
  for (size_t i = 0; i < count; i++)
    map[i] = new_node(y);
  for (size_t i = 0; i < count; i++) {
    yaml_node_t *src = &doc->nodes.start[i];
    lk_ynode *n = map[i];
    n->line = src->start_mark.line + 1;
    if (src->type == YAML_SCALAR_NODE) {
      n->kind = plain_null(src) ? LK_YNULL : LK_YSCALAR;
      n->quoted = src->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
      if (n->kind == LK_YSCALAR) {
        n->len = src->data.scalar.length;
        n->str = lk_xmalloc(n->len + 1);
        memcpy(n->str, src->data.scalar.value, n->len);
        n->str[n->len] = 0;
      }
    } else if (src->type == YAML_SEQUENCE_NODE) {
      n->kind = LK_YSEQ;
      n->len = (size_t)(src->data.sequence.items.top - src->data.sequence.items.start);
      n->kids = lk_xmalloc((n->len ? n->len : 1) * sizeof *n->kids);
      for (size_t k = 0; k < n->len; k++)
        n->kids[k] = map[src->data.sequence.items.start[k] - 1];
    } else {
      n->kind = LK_YMAP;
      n->len = (size_t)(src->data.mapping.pairs.top - src->data.mapping.pairs.start);
      n->kids = lk_xmalloc((n->len ? 2 * n->len : 1) * sizeof *n->kids);
      for (size_t k = 0; k < n->len; k++) {
        n->kids[2 * k] = map[src->data.mapping.pairs.start[k].key - 1];
        n->kids[2 * k + 1] = map[src->data.mapping.pairs.start[k].value - 1];
      }
    }
  }
  *root = map[0];
  free(map);
  return 0;
}

int lk_yaml_parse(const char *text, size_t len, const char *name, lk_yaml **out, lk_diag *d)
{
  *out = NULL;
  lk_yaml *y = lk_xcalloc(1, sizeof *y);
  y->name = lk_xstrdup(name ? name : "<yaml>");
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    lk_yaml_free(y);
    return lk_diag_set(d, LK_ENOMEM, -1, "%s: cannot start the YAML parser", name);
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int rc = 0;
  for (;;) {
    yaml_document_t doc;
    if (!yaml_parser_load(&p, &doc)) {
      rc = lk_diag_set(d, LK_EPARSE, -1, "%s:%zu: %s%s%s", y->name, p.problem_mark.line + 1,
                       p.problem ? p.problem : "invalid YAML", p.context ? " " : "",
                       p.context ? p.context : "");
      break;
    }
    if (!yaml_document_get_root_node(&doc)) { /* end of stream */
      yaml_document_delete(&doc);
      break;
    }
    lk_ynode *root = NULL;
    rc = copy_doc(y, &doc, &root, d);
    yaml_document_delete(&doc);
    if (rc)
      break;
    y->docs = lk_xrealloc(y->docs, (y->ndocs + 1) * sizeof *y->docs);
    y->docs[y->ndocs++] = root;
  }
  yaml_parser_delete(&p);
  if (rc) {
    lk_yaml_free(y);
    return rc;
  }
  *out = y;
  return 0;
}

int lk_yaml_load(const char *path, lk_yaml **out, lk_diag *d)
{
  char *buf;
  size_t len;
  *out = NULL;
  int rc = lk_read_file(path, MAX_FILE, &buf, &len, d);
  if (rc)
    return rc;
  rc = lk_yaml_parse(buf, len, path, out, d);
  free(buf);
  return rc;
}

void lk_yaml_free(lk_yaml *y)
{
  if (!y)
    return;
  for (size_t i = 0; i < y->nall; i++) {
    free(y->all[i]->str);
    free(y->all[i]->kids);
    free(y->all[i]);
  }
  free(y->all);
  free(y->docs);
  free(y->name);
  free(y);
}

const char *lk_yaml_name(const lk_yaml *y) { return y->name; }
size_t lk_yaml_ndocs(const lk_yaml *y) { return y->ndocs; }

const lk_ynode *lk_yaml_doc(const lk_yaml *y, size_t i)
{
  return i < y->ndocs && y->docs[i] ? y->docs[i] : &null_node;
}

enum lk_ykind lk_ynode_kind(const lk_ynode *n) { return n->kind; }
size_t lk_ynode_line(const lk_ynode *n) { return n->line; }
const char *lk_ynode_str(const lk_ynode *n) { return n->kind == LK_YSCALAR ? n->str : NULL; }
size_t lk_ynode_strlen(const lk_ynode *n) { return n->kind == LK_YSCALAR ? n->len : 0; }
bool lk_ynode_quoted(const lk_ynode *n) { return n->quoted; }

size_t lk_ynode_len(const lk_ynode *n)
{
  return n->kind == LK_YSEQ || n->kind == LK_YMAP ? n->len : 0;
}

const lk_ynode *lk_ynode_at(const lk_ynode *seq, size_t i)
{
  return seq->kind == LK_YSEQ && i < seq->len ? seq->kids[i] : NULL;
}

const lk_ynode *lk_ynode_key(const lk_ynode *map, size_t i)
{
  return map->kind == LK_YMAP && i < map->len ? map->kids[2 * i] : NULL;
}

const lk_ynode *lk_ynode_val(const lk_ynode *map, size_t i)
{
  return map->kind == LK_YMAP && i < map->len ? map->kids[2 * i + 1] : NULL;
}

const lk_ynode *lk_ynode_get(const lk_ynode *map, const char *key)
{
  if (!map || map->kind != LK_YMAP)
    return NULL;
  for (size_t i = 0; i < map->len; i++) {
    const lk_ynode *k = map->kids[2 * i];
    if (k->kind == LK_YSCALAR && !strcmp(k->str, key))
      return map->kids[2 * i + 1];
  }
  return NULL;
}

int lk_yaml_err(const lk_yaml *y, const lk_ynode *n, lk_diag *d, int code, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lk_diag_set(d, code, -1, "%s:%zu: %s", y->name, n ? n->line : 0, msg);
}

/*---- typed reads ----*/

static const char *kind_name(const lk_ynode *n)
{
  static const char *const names[] = {"null", "single value", "list", "mapping"};
  return names[n->kind];
}

static int want_scalar(const lk_yaml *y, const lk_ynode *n, const char *what, const char *expected,
                       lk_diag *d)
{
  if (n->kind == LK_YSCALAR)
    return 0;
  return lk_yaml_err(y, n, d, LK_EINVAL, "%s: expected %s, not a %s", what, expected, kind_name(n));
}

int lk_ynode_string(const lk_yaml *y, const lk_ynode *n, const char *what, const char **out, lk_diag *d)
{
  int rc = want_scalar(y, n, what, "a string", d);
  if (!rc)
    *out = n->str;
  return rc;
}

int lk_ynode_int(const lk_yaml *y, const lk_ynode *n, const char *what, int64_t *out, lk_diag *d)
{
  int rc = want_scalar(y, n, what, "an integer", d);
  if (rc)
    return rc;
  char *end;
  errno = 0;
  long long v = strtoll(n->str, &end, 0);
  if (errno || end == n->str || *end || n->quoted)
    return lk_yaml_err(y, n, d, LK_EINVAL, "%s: expected an integer, got \"%s\"", what, n->str);
  *out = v;
  return 0;
}

/* YAML 1.2 core-schema floats, incl. .inf and .nan; false if not one. */
static bool scalar_float(const char *s, double *out)
{
  static const struct { const char *text; double v; } special[] = {
    {".inf", INFINITY}, {".Inf", INFINITY}, {".INF", INFINITY}, {"+.inf", INFINITY},
    {"-.inf", -INFINITY}, {"-.Inf", -INFINITY}, {".nan", NAN}, {".NaN", NAN}, {".NAN", NAN},
  };
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
    if (!strcmp(s, special[i].text)) {
      *out = special[i].v;
      return true;
    }
  if (!s[0] || strpbrk(s, "xXnNiI_"))
    return false; /* no hex floats, no C's "nan"/"inf" spellings */
  char *end;
  *out = strtod(s, &end);
  return *end == 0;
}

int lk_ynode_float(const lk_yaml *y, const lk_ynode *n, const char *what, double *out, lk_diag *d)
{
  int rc = want_scalar(y, n, what, "a number", d);
  if (rc)
    return rc;
  if (n->quoted || !scalar_float(n->str, out))
    return lk_yaml_err(y, n, d, LK_EINVAL, "%s: expected a number, got \"%s\"", what, n->str);
  return 0;
}

int lk_ynode_bool(const lk_yaml *y, const lk_ynode *n, const char *what, bool *out, lk_diag *d)
{
  int rc = want_scalar(y, n, what, "true or false", d);
  if (rc)
    return rc;
  if (!n->quoted && (!strcmp(n->str, "true") || !strcmp(n->str, "True") || !strcmp(n->str, "TRUE")))
    *out = true;
  else if (!n->quoted && (!strcmp(n->str, "false") || !strcmp(n->str, "False") || !strcmp(n->str, "FALSE")))
    *out = false;
  else
    return lk_yaml_err(y, n, d, LK_EINVAL, "%s: expected true or false, got \"%s\"", what, n->str);
  return 0;
}

int lk_ynode_duration(const lk_yaml *y, const lk_ynode *n, const char *what, int64_t *ms, lk_diag *d)
{
  int rc = want_scalar(y, n, what, "a duration", d);
  if (rc)
    return rc;
  lk_diag inner = {0};
  if (lk_parse_duration(n->str, ms, &inner))
    return lk_yaml_err(y, n, d, LK_EINVAL, "%s: %s", what, inner.msg);
  return 0;
}

int lk_ynode_check_keys(const lk_yaml *y, const lk_ynode *map, const char *what,
                        const char *const *allowed, lk_diag *d)
{
  if (map->kind != LK_YMAP)
    return lk_yaml_err(y, map, d, LK_EINVAL, "%s: expected a mapping, not a %s", what, kind_name(map));
  for (size_t i = 0; i < map->len; i++) {
    const lk_ynode *k = map->kids[2 * i];
    if (k->kind != LK_YSCALAR)
      return lk_yaml_err(y, k, d, LK_EINVAL, "%s: keys must be strings", what);
    bool known = false;
    for (const char *const *a = allowed; *a && !known; a++)
      known = !strcmp(*a, k->str);
    if (!known)
      return lk_yaml_err(y, k, d, LK_EINVAL, "field %s not found in %s", k->str, what);
    for (size_t j = 0; j < i; j++)
      if (map->kids[2 * j]->kind == LK_YSCALAR && !strcmp(map->kids[2 * j]->str, k->str))
        return lk_yaml_err(y, k, d, LK_EINVAL, "%s: key %s given twice", what, k->str);
  }
  return 0;
}

/*---- JSON ----*/

/* YAML 1.2 core-schema integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. */
static bool scalar_int(const char *s, json_int_t *out)
{
  int base = 10;
  const char *digits = s + (s[0] == '-' || s[0] == '+');
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    base = s[1] == 'x' ? 16 : 8;
    digits = s + 2;
  }
  if (!digits[0] || strspn(digits, base == 16 ? "0123456789abcdefABCDEF" : "0123456789") != strlen(digits))
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(base == 10 ? s : digits, &end, base);
  if (errno || *end)
    return false;
  *out = (json_int_t)v;
  return true;
}

static json_t *scalar_json(const lk_ynode *n)
{
  json_int_t i;
  double f;
  if (n->quoted)
    return json_stringn(n->str, n->len);
  if (!strcmp(n->str, "true") || !strcmp(n->str, "True") || !strcmp(n->str, "TRUE"))
    return json_true();
  if (!strcmp(n->str, "false") || !strcmp(n->str, "False") || !strcmp(n->str, "FALSE"))
    return json_false();
  if (scalar_int(n->str, &i))
    return json_integer(i);
  if (scalar_float(n->str, &f) && isfinite(f))
    return json_real(f);
  return json_stringn(n->str, n->len);
}

static int to_json(const lk_yaml *y, const lk_ynode *n, json_t **out, size_t *budget, lk_diag *d)
{
  if ((*budget)-- == 0)
    return lk_yaml_err(y, n, d, LK_ELIMIT, "document expands (through aliases) to more than %u nodes",
                       MAX_NODES);
  if (n->kind == LK_YNULL) {
    *out = json_null();
    return 0;
  }
  if (n->kind == LK_YSCALAR) {
    *out = scalar_json(n);
    return *out ? 0 : lk_yaml_err(y, n, d, LK_EINVAL, "value is not valid UTF-8");
  }
  json_t *j = n->kind == LK_YSEQ ? json_array() : json_object();
  for (size_t i = 0; i < n->len; i++) {
    const lk_ynode *k = n->kind == LK_YMAP ? n->kids[2 * i] : NULL;
    const lk_ynode *v = n->kind == LK_YMAP ? n->kids[2 * i + 1] : n->kids[i];
    if (k && k->kind != LK_YSCALAR) {
      json_decref(j);
      return lk_yaml_err(y, k, d, LK_EINVAL, "mapping keys must be strings");
    }
    json_t *jv;
    int rc = to_json(y, v, &jv, budget, d);
    if (rc) {
      json_decref(j);
      return rc;
    }
    if (k)
      json_object_setn_new(j, k->str, k->len, jv);
    else
      json_array_append_new(j, jv);
  }
  *out = j;
  return 0;
}

int lk_ynode_to_json(const lk_yaml *y, const lk_ynode *n, json_t **out, lk_diag *d)
{
  size_t budget = MAX_NODES;
  *out = NULL;
  return to_json(y, n, out, &budget, d);
}
