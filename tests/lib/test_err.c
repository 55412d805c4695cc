/* test_err.c — lib/lk_err.c: lk_strerror names every code of the table and
 * every errno a system call or pthread function can hand back (negated),
 * and lk_diag keeps the first, innermost message. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "lib/lk_err.h"

static void test_table_codes(void **state)
{
  static const struct { int code; const char *text; } table[] = {
#define ROW(name, value, text) {name, text},
    LK_ERR_MAP(ROW)
#undef ROW
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    assert_string_equal(lk_strerror(table[i].code), table[i].text);
  assert_string_equal(lk_strerror(LK_ELIMIT), "limit exceeded");
  assert_string_equal(lk_strerror(LK_EAGAIN), "try again");
}

/* Every errno Linux defines (errno.h names), negated, has its own name. */
static void test_every_errno(void **state)
{
  static const int errnos[] = {
    EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD, EAGAIN, ENOMEM, EACCES,
    EFAULT, ENOTBLK, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY,
    ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE, EDOM, ERANGE, EDEADLK, ENAMETOOLONG, ENOLCK,
    ENOSYS, ENOTEMPTY, ELOOP, ENOMSG, EIDRM, ECHRNG, EL2NSYNC, EL3HLT, EL3RST, ELNRNG, EUNATCH, ENOCSI,
    EL2HLT, EBADE, EBADR, EXFULL, ENOANO, EBADRQC, EBADSLT, EBFONT, ENOSTR, ENODATA, ETIME, ENOSR,
    ENONET, ENOPKG, EREMOTE, ENOLINK, EADV, ESRMNT, ECOMM, EPROTO, EMULTIHOP, EDOTDOT, EBADMSG,
    EOVERFLOW, ENOTUNIQ, EBADFD, EREMCHG, ELIBACC, ELIBBAD, ELIBSCN, ELIBMAX, ELIBEXEC, EILSEQ,
    ERESTART, ESTRPIPE, EUSERS, ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT,
    EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE,
    EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ENETRESET, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN,
    ENOTCONN, ESHUTDOWN, ETOOMANYREFS, ETIMEDOUT, ECONNREFUSED, EHOSTDOWN, EHOSTUNREACH, EALREADY,
    EINPROGRESS, ESTALE, EUCLEAN, ENOTNAM, ENAVAIL, EISNAM, EREMOTEIO, EDQUOT, ENOMEDIUM,
    EMEDIUMTYPE, ECANCELED, ENOKEY, EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED, EOWNERDEAD,
    ENOTRECOVERABLE, ERFKILL, EHWPOISON,
  };
  for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++) {
    const char *s = lk_strerror(-errnos[i]);
    assert_non_null(s);
    if (!strcmp(s, "unknown error"))
      fail_msg("errno %d has no name", errnos[i]);
  }
  assert_string_equal(lk_strerror(-EACCES), "Permission denied");
  assert_string_equal(lk_strerror(-EPERM), "operation not permitted"); /* LK_EPERM's own text */
  assert_string_equal(lk_strerror(-EMFILE), "Too many open files");
}

static void test_unknown_codes(void **state)
{
  assert_string_equal(lk_strerror(-999), "unknown error");    /* between errno and project codes */
  assert_string_equal(lk_strerror(-1500), "unknown error");   /* below the project codes */
  assert_string_equal(lk_strerror(1), "unknown error");       /* codes are never positive */
  assert_string_equal(lk_strerror(-2147483647 - 1), "unknown error");
}

static void test_diag_first_wins(void **state)
{
  lk_diag d = {0};
  assert_int_equal(lk_diag_set(&d, LK_EIO, 7, "inner %d", 1), LK_EIO);
  assert_int_equal(lk_diag_set(&d, LK_EINVAL, -1, "outer"), LK_EINVAL);
  assert_string_equal(d.msg, "inner 1");
  assert_int_equal(d.offset, 7);
  assert_int_equal(lk_diag_set(NULL, LK_EPARSE, 0, "nowhere"), LK_EPARSE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_table_codes),
    cmocka_unit_test(test_every_errno),
    cmocka_unit_test(test_unknown_codes),
    cmocka_unit_test(test_diag_first_wins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
