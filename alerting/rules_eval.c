/* rules_eval.c — evaluation of one rule group (placeholder until the engine lands). */
#include "alerting/rules_int.h"

int alerting_group_eval(alerting_group *g, const alerting_env *env, int64_t now_ms)
{
  (void)g, (void)env, (void)now_ms;
  return LK_ENOTSUP;
}

int alerting_group_restore(alerting_group *g, const alerting_env *env, int64_t now_ms)
{
  (void)g, (void)env, (void)now_ms;
  return LK_ENOTSUP;
}

int alerting_group_mark_stale(alerting_group *g, const alerting_env *env, int64_t now_ms)
{
  (void)g, (void)env, (void)now_ms;
  return LK_ENOTSUP;
}
