/* lk_token.c — lib/lk_token.h: the scoped token file, parsed into a small
 * array and swapped whole on reload (a request sees the old set or the new
 * one, never a mix). */
#include "lib/lk_token.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define TOKEN_FILE_MAX ((size_t)1 << 20)
#define RECHECK_NS 1000000000LL

typedef struct token {
  char *value;
  enum lk_scope scope;
} token;

typedef struct token_set {
  token *v;
  size_t n, cap;
} token_set;

/* What identifies one version of the file. */
typedef struct file_id {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} file_id;

struct lk_tokens {
  pthread_mutex_t mu; /* guards set, id, checked_ns (leaf lock) */
  char *path;         /* NULL for a single fixed token */
  token_set set;
  file_id id;
  int64_t checked_ns;
};

const char *lk_scope_name(enum lk_scope s)
{
  static const char *const names[] = {"none", "read", "write", "admin"};
  return names[s];
}

static void set_fini(token_set *s)
{
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i].value);
  free(s->v);
  *s = (token_set){0};
}

static void set_add(token_set *s, const char *value, size_t len, enum lk_scope scope)
{
  s->v = lk_xgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
  s->v[s->n++] = (token){lk_xstrndup(value, len), scope};
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int parse_scope(const char *w, size_t n, enum lk_scope *out)
{
  for (enum lk_scope s = LK_SCOPE_READ; s <= LK_SCOPE_ADMIN; s++)
    if (strlen(lk_scope_name(s)) == n && !strncmp(w, lk_scope_name(s), n)) {
      *out = s;
      return 0;
    }
  return -1;
}

/* One line (without its '\n'): blank, comment, "token" or "token scope". */
static int parse_line(const char *p, const char *end, int lineno, const char *path, token_set *s,
                      lk_diag *d)
{
  while (p < end && is_blank(*p))
    p++;
  if (p == end || *p == '#')
    return 0;
  const char *tok = p;
  while (p < end && !is_blank(*p))
    p++;
  size_t toklen = (size_t)(p - tok);
  while (p < end && is_blank(*p))
    p++;
  const char *word = p;
  while (p < end && !is_blank(*p))
    p++;
  size_t wordlen = (size_t)(p - word);
  while (p < end && is_blank(*p))
    p++;
  enum lk_scope scope = LK_SCOPE_ADMIN;
  if ((wordlen && parse_scope(word, wordlen, &scope)) || p != end)
    return lk_diag_set(d, LK_EPARSE, lineno, "%s:%d: expected \"TOKEN [read|write|admin]\"", path, lineno);
  set_add(s, tok, toklen, scope);
  return 0;
}

static int parse_text(const char *text, size_t len, const char *path, token_set *out, lk_diag *d)
{
  token_set s = {0};
  const char *p = text, *end = text + len;
  for (int lineno = 1; p < end; lineno++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    int rc = parse_line(p, eol, lineno, path, &s, d);
    if (rc) {
      set_fini(&s);
      return rc;
    }
    p = nl ? nl + 1 : end;
  }
  if (!s.n)
    return lk_diag_set(d, LK_EINVAL, -1, "%s holds no token", path);
  *out = s;
  return 0;
}

static int read_set(const char *path, token_set *out, file_id *id, lk_diag *d)
{
  struct stat st;
  if (stat(path, &st))
    return lk_diag_set(d, LK_ENOENT, -1, "cannot read the token file %s", path);
  *id = (file_id){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  char *text = NULL;
  size_t len = 0;
  int rc = lk_read_file(path, TOKEN_FILE_MAX, &text, &len, d);
  if (!rc)
    rc = parse_text(text, len, path, out, d);
  free(text);
  return rc;
}

static lk_tokens *tokens_new(char *path, token_set set, file_id id)
{
  lk_tokens *t = lk_xcalloc(1, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  t->path = path;
  t->set = set;
  t->id = id;
  t->checked_ns = lk_mono_ns();
  return t;
}

int lk_tokens_open(const char *path, lk_tokens **out, lk_diag *d)
{
  token_set set = {0};
  file_id id;
  int rc = read_set(path, &set, &id, d);
  if (rc)
    return rc;
  *out = tokens_new(lk_xstrdup(path), set, id);
  return 0;
}

lk_tokens *lk_tokens_single(const char *value)
{
  token_set set = {0};
  set_add(&set, value, strlen(value), LK_SCOPE_ADMIN);
  return tokens_new(NULL, set, (file_id){0});
}

static bool same_file(const file_id *a, const file_id *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* With t->mu held: re-read the file when it changed (at most once a second). */
static void maybe_reload(lk_tokens *t)
{
  int64_t now = lk_mono_ns();
  if (!t->path || now - t->checked_ns < RECHECK_NS)
    return;
  t->checked_ns = now;
  struct stat st;
  file_id id = {0};
  if (!stat(t->path, &st))
    id = (file_id){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  if (same_file(&id, &t->id))
    return;
  token_set set = {0};
  lk_diag d = {0};
  if (read_set(t->path, &set, &id, &d)) {
    t->id = id; /* warn once per change of the file */
    lk_warn("token file not reloaded, the previous tokens stay in force: %s", d.msg);
    return;
  }
  set_fini(&t->set);
  t->set = set;
  t->id = id;
  lk_info("token file %s reloaded: %zu tokens", t->path, set.n);
}

/* Equal strings, in time that depends only on the presented length. */
static bool equal_ct(const char *presented, const char *stored)
{
  size_t lp = strlen(presented), ls = strlen(stored);
  unsigned char diff = (unsigned char)(lp != ls);
  for (size_t i = 0; i < lp; i++)
    diff |= (unsigned char)(presented[i] ^ stored[i % (ls ? ls : 1)]);
  return diff == 0;
}

enum lk_scope lk_tokens_scope(lk_tokens *t, const char *presented)
{
  enum lk_scope best = LK_SCOPE_NONE;
  pthread_mutex_lock(&t->mu);
  maybe_reload(t);
  for (size_t i = 0; i < t->set.n; i++) {
    bool eq = equal_ct(presented, t->set.v[i].value);
    enum lk_scope s = eq ? t->set.v[i].scope : LK_SCOPE_NONE;
    best = s > best ? s : best;
  }
  pthread_mutex_unlock(&t->mu);
  return best;
}

void lk_tokens_free(lk_tokens *t)
{
  if (!t)
    return;
  set_fini(&t->set);
  pthread_mutex_destroy(&t->mu);
  free(t->path);
  free(t);
}

int lk_token_read_first(const char *path, char *out, size_t outsz, lk_diag *d)
{
  token_set set = {0};
  file_id id;
  int rc = read_set(path, &set, &id, d);
  if (rc)
    return rc;
  if (strlen(set.v[0].value) >= outsz)
    rc = lk_diag_set(d, LK_EINVAL, -1, "the token in %s is too long", path);
  else
    strcpy(out, set.v[0].value);
  set_fini(&set);
  return rc;
}
