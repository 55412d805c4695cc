/* tmpl_int.h — the parsed form of an alerting template, shared by the parser
 * (tmpl_parse.c) and the executor (tmpl_exec.c, tmpl_funcs.c). The whole
 * tree lives in one arena owned by the template. */
#ifndef ALERTING_TMPL_INT_H
#define ALERTING_TMPL_INT_H

#include <stdint.h>

#include "alerting/alerting.h"
#include "lib/lk_alloc.h"

enum alerting__arg_kind {
  ALERTING__A_DOT,   /* .F1.F2 (fields may be empty: the dot itself) */
  ALERTING__A_VAR,   /* $name.F1… */
  ALERTING__A_FUNC,  /* a function name */
  ALERTING__A_STR,
  ALERTING__A_INT,
  ALERTING__A_FLOAT,
  ALERTING__A_BOOL,
  ALERTING__A_NIL,
  ALERTING__A_PIPE,  /* ( pipeline ) */
};

typedef struct alerting__field {
  const char *name;
  struct alerting__field *next;
} alerting__field;

struct alerting__pipe;

typedef struct alerting__arg {
  int kind;
  long off;
  const char *name; /* variable (without $) or function name */
  int func;         /* index into the function table for ALERTING__A_FUNC */
  alerting__field *fields;
  const char *str;
  size_t slen;
  int64_t i;
  double f;
  struct alerting__pipe *pipe;
  struct alerting__arg *next;
} alerting__arg;

typedef struct alerting__cmd {
  alerting__arg *args;
  size_t nargs;
  long off;
  struct alerting__cmd *next;
} alerting__cmd;

typedef struct alerting__pipe {
  const char *decl[2]; /* declared or assigned variables (range: index, element) */
  int ndecl;
  int assign;          /* '=' rather than ':=' */
  alerting__cmd *cmds;
  long off;
} alerting__pipe;

enum alerting__node_kind { ALERTING__N_TEXT, ALERTING__N_ACTION, ALERTING__N_IF, ALERTING__N_RANGE };

typedef struct alerting__node {
  int kind;
  long off;
  const char *text;
  size_t tlen;
  alerting__pipe *pipe;
  struct alerting__node *body, *els;
  struct alerting__node *next;
} alerting__node;

struct alerting_template {
  lk_arena *arena;
  const char *src;
  alerting__node *root;
};

/* Function table: name and argument count (-1: variadic with at least `min`). */
typedef struct alerting__func_info {
  const char *name;
  int nargs; /* exact, or -1 */
  int min;
} alerting__func_info;

/* Index of a function name, or -1. */
int alerting__func_lookup(const char *name, size_t n);
const alerting__func_info *alerting__func_get(int idx);

/* A value during execution. Strings and query results live in the
 * execution's arena. */
enum alerting__val_kind {
  ALERTING__V_NIL, ALERTING__V_BOOL, ALERTING__V_INT, ALERTING__V_FLOAT, ALERTING__V_STR,
  ALERTING__V_SAMPLE, ALERTING__V_VEC, ALERTING__V_LABELS, ALERTING__V_DOT,
};

typedef struct alerting__val {
  int kind;
  int64_t i; /* bool and int */
  double f;
  const char *s;
  size_t slen;
  const alerting_sample *smp; /* sample, or the vector's first element */
  size_t n;                   /* vector length */
  const lk_label *ls;         /* label map */
} alerting__val;

typedef struct alerting__exec {
  const alerting_template *t;
  const alerting_template_data *data;
  lk_arena *a;
  lk_diag *d;
  long off; /* the command being run, for error messages */
} alerting__exec;

/* Call function `func` with n evaluated arguments. */
int alerting__call(alerting__exec *x, int func, const alerting__val *args, size_t n, alerting__val *out);
/* Go's truthiness: false, 0, "", nil and empty collections are false. */
int alerting__truth(const alerting__val *v);
/* Go's fmt.Sprintf over the kinds templates have (tmpl_printf.c). */
void alerting__printf(lk_buf *b, const char *fmt, size_t flen, const alerting__val *args, size_t n);
/* Go's name of a value's type ("float64", "string", ...). */
const char *alerting__type_name(int kind);
/* Append v as Go's fmt.Print would. */
void alerting__print(const alerting__val *v, lk_buf *b);
/* An LK_EEXEC error at the current command. */
int alerting__exec_err(alerting__exec *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "template: LINE:COL: " prefix for a byte offset of src. */
int alerting__diag(lk_diag *d, int code, const char *src, long off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
