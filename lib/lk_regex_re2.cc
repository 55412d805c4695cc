// lk_regex_re2.cc — the only C++ in Lookout: a thin extern "C" shim over
// RE2 (Debian libre2). Pattern preparation, error texts, fast paths and the
// public API live in lk_regex.c; this file only owns RE2 objects.
#include "lib/lk_regex_re2.h"

#include <re2/re2.h>

#include <cstdio>
#include <memory>
#include <new>

static_assert(RE2::ErrorPatternTooLarge == LK__RE2_ETOOLARGE, "RE2 error codes moved");

struct lk__re2 {
  RE2 re;
  lk__re2(const re2::StringPiece &p, const RE2::Options &o) : re(p, o) {}
};

extern "C" lk__re2 *lk__re2_new(const char *pattern, size_t n, bool dot_nl, long max_mem, int *code,
                                char *arg, size_t argn)
{
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_log_errors(false);
  o.set_longest_match(false);
  o.set_dot_nl(dot_nl);
  o.set_max_mem(max_mem);
  lk__re2 *r = new (std::nothrow) lk__re2(re2::StringPiece(pattern, n), o);
  if (!r) {
    *code = RE2::ErrorPatternTooLarge;
    snprintf(arg, argn, "out of memory");
    return nullptr;
  }
  if (r->re.ok())
    return r;
  *code = r->re.error_code();
  snprintf(arg, argn, "%s", r->re.error_arg().c_str());
  delete r;
  return nullptr;
}

extern "C" void lk__re2_free(lk__re2 *re) { delete re; }

extern "C" size_t lk__re2_ngroups(const lk__re2 *re)
{
  return (size_t)re->re.NumberOfCapturingGroups();
}

extern "C" void lk__re2_names(const lk__re2 *re, void (*fn)(void *ctx, size_t g, const char *name),
                              void *ctx)
{
  for (const auto &kv : re->re.CapturingGroupNames())
    fn(ctx, (size_t)kv.first, kv.second.c_str());
}

extern "C" bool lk__re2_match(const lk__re2 *re, const char *s, size_t n, bool anchored, long *start,
                              long *end, size_t nm)
{
  re2::StringPiece text(s, n);
  RE2::Anchor a = anchored ? RE2::ANCHOR_BOTH : RE2::UNANCHORED;
  if (!nm)
    return re->re.Match(text, 0, n, a, nullptr, 0);
  re2::StringPiece small[16];
  std::unique_ptr<re2::StringPiece[]> big;
  re2::StringPiece *sp = small;
  if (nm > sizeof small / sizeof small[0]) {
    big.reset(new (std::nothrow) re2::StringPiece[nm]);
    if (!(sp = big.get()))
      return false;
  }
  if (!re->re.Match(text, 0, n, a, sp, (int)nm))
    return false;
  for (size_t i = 0; i < nm; i++) {
    bool set = sp[i].data() != nullptr;
    start[i] = set ? (long)(sp[i].data() - s) : -1;
    end[i] = set ? start[i] + (long)sp[i].size() : -1;
  }
  return true;
}
