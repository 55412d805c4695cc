/* regex_cases.h — one table of (pattern, input, expected) rows with the
 * answers Go's regexp package gives (RE2 syntax: the "RE2 syntax" page and
 * Go's regexp/syntax documentation), shared by the C API test
 * (tests/lib/test_regex.c), PromQL label matchers (tests/promql/test_promql.c)
 * and LogQL line filters and the regexp parser (tests/logstore/test_store.c).
 *
 * full:  the value matches as a Prometheus 3 label matcher does, i.e. Go's
 *        `^(?s:re)$` (anchored at both ends, `.` matching \n too).
 * match: the leftmost-first match Go's FindString gives for `re` as is (a
 *        LogQL line filter, `.` not matching \n); NULL when there is none.
 * g1:    group 1 of that match (FindStringSubmatch); NULL when the pattern has
 *        no group, there is no match, or group 1 took no part in it.
 */
#ifndef TESTS_REGEX_CASES_H
#define TESTS_REGEX_CASES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rx_case {
  const char *re, *in;
  bool full;
  const char *match, *g1;
} rx_case;

static const rx_case rx_cases[] = {
    /* Perl classes (ASCII, as in Go) */
    {"\\d+", "abc 123 def", false, "123", NULL},
    {"\\d+", "123", true, "123", NULL},
    {"\\d{3}", "code 123 ok", false, "123", NULL},
    {"\\d{3}", "dddd letters", false, NULL, NULL},
    {"\\D+", "ab12", false, "ab", NULL},
    {"\\w+", "h\xc3\xa9llo w\xc3\xb6rld", false, "h", NULL},
    {"\\W", "ab-c", false, "-", NULL},
    {"\\s+", "a \t\nb", false, " \t\n", NULL},
    {"\\S+", "  xy z", false, "xy", NULL},
    {"\\s", "a\vb", false, NULL, NULL},                 /* \s is [\t\n\f\r ] */
    {"\\d+", "x\xd9\xa3" "4y", false, "4", NULL},       /* \d is ASCII only */
    /* POSIX classes inside brackets */
    {"[[:space:]]", "a\vb", false, "\v", NULL},
    {"[[:alpha:]]+", "123abcXYZ9", false, "abcXYZ", NULL},
    {"[[:digit:]]+", "ab42", false, "42", NULL},
    {"[[:upper:]][[:lower:]]+", "hello World", false, "World", NULL},
    {"[[:^alpha:]]+", "ab12cd", false, "12", NULL},
    {"[[:xdigit:]]+", "0xBEEFz", false, "0", NULL},
    {"[[:punct:]]", "ab,c", false, ",", NULL},
    {"[[:alnum:]_]+", "--a_1--", false, "a_1", NULL},
    /* bracket expressions */
    {"[^a-c]+", "abcdef", false, "def", NULL},
    {"[a-c]+", "xxabcabd", false, "abcab", NULL},
    {"[\\d.]+", "v1.2.3-rc", false, "1.2.3", NULL},
    {"[]a]+", "x]a]", false, "]a]", NULL},
    {"[a-]+", "x-a-", false, "-a-", NULL},
    {"[^x]", "\n", true, "\n", NULL},                   /* negated classes take \n */
    {"[\\]]", "]", true, "]", NULL},
    /* Unicode classes */
    {"\\pL+", "123h\xc3\xa9llo!", false, "h\xc3\xa9llo", NULL},
    {"\\p{Greek}+", "abc \xce\xb1\xce\xb2\xce\xb3 def", false, "\xce\xb1\xce\xb2\xce\xb3", NULL},
    {"\\PL+", "ab12!c", false, "12!", NULL},
    {"\\p{Lu}", "abcDef", false, "D", NULL},
    {"\\pN+", "x\xd9\xa3" "4y", false, "\xd9\xa3" "4", NULL},
    {"\\P{Greek}+", "\xce\xb1\xce\xb2" "cd\xce\xb3", false, "cd", NULL},
    {"[\\p{Greek}\\d]+", "x1\xce\xb1" "2y", false, "1\xce\xb1" "2", NULL},
    {"\\p{Han}+", "\xe4\xb8\xad\xe6\x96\x87" "abc", false, "\xe4\xb8\xad\xe6\x96\x87", NULL},
    /* UTF-8: `.` and classes take whole runes */
    {"^.$", "\xc3\xa9", true, "\xc3\xa9", NULL},
    {"^..$", "\xc3\xa9", false, NULL, NULL},
    {"h.llo", "h\xc3\xa9llo", true, "h\xc3\xa9llo", NULL},
    {"[\xc3\xa9]", "caf\xc3\xa9", false, "\xc3\xa9", NULL},
    {"[^a]", "\xc3\xa9", true, "\xc3\xa9", NULL},
    {"\xe6\x97\xa5\xe6\x9c\xac+", "\xe6\x97\xa5\xe6\x9c\xac\xe6\x9c\xac\xe8\xaa\x9e", false,
     "\xe6\x97\xa5\xe6\x9c\xac\xe6\x9c\xac", NULL},
    {"\xc3\xa9|e", "\xc3\xa9", true, "\xc3\xa9", NULL},
    /* `.` and \n: line filters keep Go's default, label matchers use (?s) */
    {"a.b", "a\nb", true, NULL, NULL},
    {"(?s)a.b", "a\nb", true, "a\nb", NULL},
    {"a.*", "ab\ncd", true, "ab", NULL},
    {"(?-s)a.*", "ab\ncd", false, "ab", NULL},
    /* flags */
    {"(?i)hello", "say HeLLo", false, "HeLLo", NULL},
    {"(?i)stra\xc3\x9f" "e", "STRASSE", false, NULL, NULL},
    {"(?i)k", "\xe2\x84\xaa", true, "\xe2\x84\xaa", NULL},  /* Kelvin sign folds to k */
    {"x(?i:ab)y", "xABy", true, "xABy", NULL},
    {"x(?i:ab)y", "XABY", false, NULL, NULL},
    {"(?i)[a-c]+", "xAbCd", false, "AbC", NULL},
    {"(?is)A.B", "a\nb", true, "a\nb", NULL},
    {"(?i)FOO|bar", "xfoo", false, "foo", NULL},
    {"(?m)^b$", "a\nb\nc", false, "b", NULL},
    {"^b$", "a\nb\nc", false, NULL, NULL},
    {"(?m)^\\w+$", "one\ntwo", false, "one", NULL},
    {"(?U)a+", "aaa", true, "a", NULL},
    {"(?U)a+?", "aaa", true, "aaa", NULL},
    /* assertions */
    {"\\bfoo\\b", "a foo b", false, "foo", NULL},
    {"\\bfoo\\b", "afoob", false, NULL, NULL},
    {"\\Boo\\B", "foob", false, "oo", NULL},
    {"\\b\xc3\xa9", "caf\xc3\xa9", false, "\xc3\xa9", NULL},   /* \b is ASCII */
    {"\\Acat", "cat dog", false, "cat", NULL},
    {"dog\\z", "cat dog", false, "dog", NULL},
    {"^cat", "dog cat", false, NULL, NULL},
    {"cat$", "cat\n", false, NULL, NULL},               /* $ is \z without (?m) */
    {"^$", "", true, "", NULL},
    {"^", "abc", false, "", NULL},
    /* leftmost-first alternation */
    {"a|ab", "ab", true, "a", NULL},
    {"ab|a", "ab", true, "ab", NULL},
    {"(a|ab)(c|bcd)", "abcd", true, "abcd", "a"},
    {"(foo|foobar)", "foobar", true, "foo", "foo"},
    {"x*", "yxx", false, "", NULL},
    {"(a*)+", "b", false, "", ""},
    /* lazy quantifiers */
    {"a+?", "aaa", true, "a", NULL},
    {"a*?", "aaa", true, "", NULL},
    {"<.+?>", "<a><b>", true, "<a>", NULL},
    {"<.+>", "<a><b>", true, "<a><b>", NULL},
    {"a??b", "ab", true, "ab", NULL},
    {"(a+?)(a*)", "aaa", true, "aaa", "a"},
    {"a{2,3}?", "aaaa", false, "aa", NULL},
    {"(.*?)c", "abcbc", true, "abc", "ab"},
    {"(.*)c", "abcbc", true, "abcbc", "abcb"},
    /* bounded repetition */
    {"a{2}", "aaa", false, "aa", NULL},
    {"a{2,}", "aaaaa", true, "aaaaa", NULL},
    {"a{2,3}", "aaaa", false, "aaa", NULL},
    {"a{,3}", "a{,3}", true, "a{,3}", NULL},            /* not a repeat: literal */
    {"x{0}y", "xy", false, "y", NULL},
    {"(ab){2}", "ababab", false, "abab", "ab"},
    {"^(?:ab)+$", "ababab", true, "ababab", NULL},
    {"a{1,2}b{2}", "aaabb", false, "aabb", NULL},
    /* escapes */
    {"a\\.b", "a.b", true, "a.b", NULL},
    {"a\\.b", "axb", false, NULL, NULL},
    {"\\$\\d+\\.\\d{2}", "cost $12.50", false, "$12.50", NULL},
    {"\\x41\\x{42}", "zAB", false, "AB", NULL},
    {"\\t", "a\tb", false, "\t", NULL},
    {"\\Qa.b*c\\E", "xa.b*c", false, "a.b*c", NULL},
    {"\\Qa.b\\E", "axb", false, NULL, NULL},
    {"\\101", "A", true, "A", NULL},                    /* octal */
    {"\\\\", "a\\b", false, "\\", NULL},
    {"\\/path", "/path", true, "/path", NULL},
    /* groups and captures */
    {"(\\w+)@(\\w+)\\.com", "mail bob@example.com", false, "bob@example.com", "bob"},
    {"(?P<user>\\w+)@", "x alice@y", false, "alice@", "alice"},
    {"(?<user>\\w+)@", "x alice@y", false, "alice@", "alice"},
    {"(?:ab)(c)", "abc", true, "abc", "c"},
    {"(a)|b", "b", true, "b", NULL},
    {"(a)?b", "b", true, "b", NULL},
    {"(a?)b", "b", true, "b", ""},
    {"(\\d+)-(\\d+)", "10-20", true, "10-20", "10"},
    {"()", "x", false, "", ""},
    /* empty matches */
    {"", "abc", false, "", NULL},
    {"", "", true, "", NULL},
    {"a*", "", true, "", NULL},
    {"a*", "baaa", false, "", NULL},
    {"a|", "b", false, "", NULL},
    /* anchored (label matcher) versus unanchored (line filter) */
    {"foo", "foobar", false, "foo", NULL},
    {"foo|bar", "bar", true, "bar", NULL},
    {"foo|bar", "foobar", false, "foo", NULL},
    {"prod|staging", "production", false, "prod", NULL},
    {"a|b|c", "", false, NULL, NULL},
    {"api|", "", true, "", NULL},
    {".*", "anything", true, "anything", NULL},
    {".+", "", false, NULL, NULL},
    {"ba.*", "foobar", false, "bar", NULL},
};

#define RX_NCASES (sizeof rx_cases / sizeof rx_cases[0])

#endif
