/* pod_flows.c — see pod_flows.h: pod networks (from the orchestrator's
 * hook) → the flow meter's captures and address → pod table.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "main/pod_flows.h"

typedef struct pod_net {
  char *ns, *name, *uid, *ip, *ifname;
} pod_net;

struct pod_flows {
  pthread_mutex_t mu; /* guards everything below */
  pod_net *v;
  size_t n, cap;
  collector_flows *meter; /* borrowed; NULL when none */
};

pod_flows *pod_flows_new(void)
{
  pod_flows *pf = lk_xcalloc(1, sizeof *pf);
  pthread_mutex_init(&pf->mu, NULL);
  return pf;
}

static void net_fini(pod_net *p)
{
  free(p->ns);
  free(p->name);
  free(p->uid);
  free(p->ip);
  free(p->ifname);
}

void pod_flows_free(pod_flows *pf)
{
  if (!pf)
    return;
  for (size_t i = 0; i < pf->n; i++)
    net_fini(&pf->v[i]);
  free(pf->v);
  pthread_mutex_destroy(&pf->mu);
  free(pf);
}

/* Caller holds mu. */
static void push_pods(pod_flows *pf)
{
  collector_flow_pod *ps = lk_xcalloc(pf->n + 1, sizeof *ps);
  for (size_t i = 0; i < pf->n; i++)
    ps[i] = (collector_flow_pod){pf->v[i].ip, pf->v[i].ns, pf->v[i].name};
  collector_flows_set_pods(pf->meter, ps, pf->n);
  free(ps);
}

/* Caller holds mu. */
static void capture(pod_flows *pf, const pod_net *p)
{
  lk_diag d = {0};
  int rc = collector_flows_add_interface(pf->meter, p->ifname, true, &d);
  if (rc && rc != LK_EEXIST)
    lk_warn("flows: no capture on %s (pod %s/%s): %s", p->ifname, p->ns, p->name, d.msg);
}

static size_t find(const pod_flows *pf, const char *uid)
{
  size_t i = 0;
  while (i < pf->n && strcmp(pf->v[i].uid, uid))
    i++;
  return i;
}

void pod_flows_on_event(void *ctx, const orch_pod_net_event *ev)
{
  pod_flows *pf = ctx;
  pthread_mutex_lock(&pf->mu);
  size_t i = find(pf, ev->uid);
  if (i < pf->n) { /* up again (adoption) or down: the old entry goes */
    if (pf->meter && !ev->up)
      collector_flows_remove_interface(pf->meter, pf->v[i].ifname);
    net_fini(&pf->v[i]);
    pf->v[i] = pf->v[--pf->n];
  }
  if (ev->up) {
    pf->v = lk_xgrow(pf->v, &pf->cap, pf->n + 1, sizeof *pf->v);
    pod_net *p = &pf->v[pf->n++];
    *p = (pod_net){lk_xstrdup(ev->namespace_), lk_xstrdup(ev->name), lk_xstrdup(ev->uid),
                   lk_xstrdup(ev->ip), lk_xstrdup(ev->host_ifname)};
    if (pf->meter)
      capture(pf, p);
  }
  if (pf->meter)
    push_pods(pf);
  pthread_mutex_unlock(&pf->mu);
}

void pod_flows_attach(pod_flows *pf, collector_flows *meter)
{
  pthread_mutex_lock(&pf->mu);
  pf->meter = meter;
  if (meter) {
    for (size_t i = 0; i < pf->n; i++)
      capture(pf, &pf->v[i]);
    push_pods(pf);
  }
  pthread_mutex_unlock(&pf->mu);
}
