/* am_silence.c — silences as Alertmanager keeps them (silence/silence.go):
 * validation of a postable silence with Alertmanager's messages, create or
 * update (an update that would change the matchers or rewrite the past
 * expires the old silence and makes a new id), expiry, and the JSON shape
 * shared by the API and the persisted silences.json. Callers hold am->mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"

void am__silence_free(am_silence *s)
{
  free(s->id);
  am__matchers_free(&s->matchers);
  free(s->created_by);
  free(s->comment);
}

static void new_id(char out[40])
{
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
    for (size_t i = 0; i < sizeof b; i++)
      b[i] = (unsigned char)(lk_mono_ns() >> (i % 8));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

json_t *am__silence_json(const am_silence *s, int64_t now)
{
  char st[40], en[40], up[40];
  am__fmt_time(st, s->starts_at);
  am__fmt_time(en, s->ends_at);
  am__fmt_time(up, s->updated_at);
  json_t *ms = json_array();
  for (size_t i = 0; i < s->matchers.n; i++) {
    const am_matcher *m = &s->matchers.v[i];
    json_array_append_new(ms, json_pack("{s:s,s:s,s:b,s:b}", "name", m->name, "value", m->value, "isRegex",
                                        m->op == LK_SEL_RE || m->op == LK_SEL_NRE, "isEqual",
                                        m->op == LK_SEL_EQ || m->op == LK_SEL_RE));
  }
  json_t *j = json_pack("{s:s,s:o,s:s,s:s,s:s,s:s}", "id", s->id, "matchers", ms, "startsAt", st, "endsAt", en,
                        "createdBy", s->created_by, "comment", s->comment);
  json_object_set_new(j, "updatedAt", json_string(up));
  if (now)
    json_object_set_new(j, "status", json_pack("{s:s}", "state", am__silence_state(s, now)));
  return j;
}

/* Parse a postable silence into s (id left NULL unless given). */
static int parse(const json_t *b, am_silence *s, lk_diag *d)
{
  memset(s, 0, sizeof *s);
  if (!json_is_object(b))
    return lk_diag_set(d, LK_EINVAL, -1, "body: expected a JSON object (a postable silence)");
  json_t *ms = json_object_get(b, "matchers");
  if (!json_is_array(ms) || !json_array_size(ms))
    return lk_diag_set(d, LK_EINVAL, -1, "at least one matcher required");
  size_t i;
  json_t *m;
  json_array_foreach(ms, i, m) {
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *value = json_string_value(json_object_get(m, "value"));
    json_t *re = json_object_get(m, "isRegex"), *eq = json_object_get(m, "isEqual");
    if (!name || !value || !json_is_boolean(re) || (eq && !json_is_boolean(eq)))
      return lk_diag_set(d, LK_EINVAL, -1, "matchers[%zu]: name, value and isRegex are required", i);
    if (!lk_label_name_valid(name))
      return lk_diag_set(d, LK_EINVAL, -1, "invalid label matcher %zu: invalid label name \"%s\"", i, name);
    bool isre = json_is_true(re), iseq = !eq || json_is_true(eq);
    enum lk_sel_op op = isre ? (iseq ? LK_SEL_RE : LK_SEL_NRE) : (iseq ? LK_SEL_EQ : LK_SEL_NE);
    lk_diag md = {0};
    if (am__matcher_add(&s->matchers, name, op, value, &md))
      return lk_diag_set(d, LK_EINVAL, -1, "invalid label matcher %zu: %s", i, md.msg);
  }
  am_labels empty = {0};
  if (am__matchers_match(&s->matchers, &empty))
    return lk_diag_set(d, LK_EINVAL, -1, "at least one matcher must not match the empty string");
  const char *st = json_string_value(json_object_get(b, "startsAt"));
  const char *en = json_string_value(json_object_get(b, "endsAt"));
  lk_diag td = {0};
  if (!st || lk_parse_time(st, &s->starts_at, &td))
    return lk_diag_set(d, LK_EINVAL, -1, "startsAt: expected an RFC 3339 time");
  if (!en || lk_parse_time(en, &s->ends_at, &td))
    return lk_diag_set(d, LK_EINVAL, -1, "endsAt: expected an RFC 3339 time");
  const char *by = json_string_value(json_object_get(b, "createdBy"));
  const char *comment = json_string_value(json_object_get(b, "comment"));
  if (!by || !by[0])
    return lk_diag_set(d, LK_EINVAL, -1, "creator information missing");
  if (!comment || !comment[0])
    return lk_diag_set(d, LK_EINVAL, -1, "comment missing");
  s->created_by = lk_xstrdup(by);
  s->comment = lk_xstrdup(comment);
  const char *id = json_string_value(json_object_get(b, "id"));
  if (id && id[0])
    s->id = lk_xstrdup(id);
  return 0;
}

static am_silence *find(alerting_am *am, const char *id)
{
  for (size_t i = 0; i < am->nsil; i++)
    if (!strcmp(am->sil[i].id, id))
      return &am->sil[i];
  return NULL;
}

static bool same_matchers(const am_matchers *a, const am_matchers *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i].name, b->v[i].name) || strcmp(a->v[i].value, b->v[i].value) || a->v[i].op != b->v[i].op)
      return false;
  return true;
}

static bool can_update(const am_silence *a, const am_silence *b, int64_t now)
{
  if (!same_matchers(&a->matchers, &b->matchers))
    return false;
  const char *st = am__silence_state(a, now);
  if (!strcmp(st, "active"))
    return b->starts_at == a->starts_at && b->ends_at >= now;
  if (!strcmp(st, "pending"))
    return b->starts_at >= now;
  return false;
}

static void expire(am_silence *s, int64_t now)
{
  if (!strcmp(am__silence_state(s, now), "pending"))
    s->starts_at = now;
  s->ends_at = now;
  s->updated_at = now;
}

int am__silence_put(alerting_am *am, const json_t *body, int64_t now, char id_out[40], lk_diag *d)
{
  am_silence s;
  int rc = parse(body, &s, d);
  if (!rc && s.starts_at >= s.ends_at)
    rc = lk_diag_set(d, LK_EINVAL, -1, "Failed to create silence: start time must be before end time");
  if (!rc && s.ends_at < now)
    rc = lk_diag_set(d, LK_EINVAL, -1, "Failed to create silence: end time can't be in the past");
  am_silence *prev = !rc && s.id ? find(am, s.id) : NULL;
  if (!rc && s.id && !prev)
    rc = lk_diag_set(d, LK_ENOENT, -1, "silence not found");
  if (rc) {
    am__silence_free(&s);
    return rc;
  }
  s.updated_at = now;
  if (prev && can_update(prev, &s, now)) {
    snprintf(id_out, 40, "%s", prev->id);
    am__silence_free(prev);
    *prev = s;
  } else {
    if (prev && strcmp(am__silence_state(prev, now), "expired"))
      expire(prev, now);
    free(s.id);
    char id[40];
    new_id(id);
    s.id = lk_xstrdup(id);
    if (s.starts_at < now)
      s.starts_at = now;
    snprintf(id_out, 40, "%s", id);
    am->sil = lk_xrealloc(am->sil, (am->nsil + 1) * sizeof *am->sil);
    am->sil[am->nsil++] = s;
  }
  am__save_silences(am);
  return 0;
}

int am__silence_expire(alerting_am *am, const char *id, int64_t now, lk_diag *d)
{
  am_silence *s = find(am, id);
  if (!s)
    return lk_diag_set(d, LK_ENOENT, -1, "silence not found");
  if (!strcmp(am__silence_state(s, now), "expired"))
    return lk_diag_set(d, LK_EINVAL, -1, "silence %s already expired", id);
  expire(s, now);
  am__save_silences(am);
  return 0;
}

void am__silence_load(alerting_am *am, const json_t *j)
{
  am_silence s;
  lk_diag d = {0};
  const char *up = json_string_value(json_object_get(j, "updatedAt"));
  if (parse(j, &s, &d) || !s.id || find(am, s.id)) {
    am__silence_free(&s);
    return;
  }
  if (!up || lk_parse_time(up, &s.updated_at, &d))
    s.updated_at = s.starts_at;
  am->sil = lk_xrealloc(am->sil, (am->nsil + 1) * sizeof *am->sil);
  am->sil[am->nsil++] = s;
}
