/* lk_token.h — bearer tokens with scopes, read from the token file and
 * re-read when the file changes, so tokens can be added or revoked without a
 * restart.
 *
 * File format (README "Tokens"): one token per line, then optionally its
 * scope — `read`, `write` or `admin` — separated by spaces or tabs; a bare
 * token is `admin` (the one-token file of earlier versions keeps working).
 * Blank lines and lines starting with '#' are skipped. Scopes are ordered:
 * admin can do what write can, write what read can.
 *
 * Reloading is lazy: lk_tokens_scope looks at the file's inode, size and
 * mtime at most once per second and re-reads it when one changed. A file that
 * has become unreadable or invalid keeps the previous tokens in force (a
 * warning is logged once per change), so a half-written edit never locks
 * everybody out. Tokens are compared in constant time with every stored
 * token (no early exit), so response times do not reveal a prefix.
 *
 * Threads: lk_tokens_scope may be called concurrently; the set's mutex (a
 * leaf lock, owned by the lk_tokens) guards the tokens and the reload state.
 */
#ifndef LK_TOKEN_H
#define LK_TOKEN_H

#include <stddef.h>

#include "lib/lk_err.h"

enum lk_scope {
  LK_SCOPE_NONE = 0, /* no token, or an unknown one */
  LK_SCOPE_READ,
  LK_SCOPE_WRITE,
  LK_SCOPE_ADMIN,
};

typedef struct lk_tokens lk_tokens;

/* Read the token file at path (copied). LK_ENOENT/LK_EIO when it cannot be
 * read, LK_EPARSE naming the line for an unknown scope, LK_EINVAL when it
 * holds no token. */
int lk_tokens_open(const char *path, lk_tokens **out, lk_diag *d);
/* One admin token, no file (embedded servers and tests). */
lk_tokens *lk_tokens_single(const char *token);
/* The scope of a presented token (LK_SCOPE_NONE when unknown), after a
 * reload when the file changed. */
enum lk_scope lk_tokens_scope(lk_tokens *t, const char *presented);
void lk_tokens_free(lk_tokens *t);

/* "read", "write", "admin" ("none" for LK_SCOPE_NONE). */
const char *lk_scope_name(enum lk_scope s);

/* Client side: the first token of a token file (the first line that is not
 * blank or a comment, up to its first space) into out. LK_ENOENT/LK_EIO when
 * unreadable, LK_EINVAL when there is no token or it does not fit. */
int lk_token_read_first(const char *path, char *out, size_t outsz, lk_diag *d);

#endif
