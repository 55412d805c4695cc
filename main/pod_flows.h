/* pod_flows.h — the node's bridge between the orchestrator's pod networks
 * and the flow meter: every pod network the orchestrator reports up
 * (orch_pod_net_event) becomes a capture on its host-side veth and an
 * address → pod entry of the meter; one reported down is removed again.
 * The pods are kept here, so a meter attached later (or again) gets them
 * all. The orchestrator never sees the collector, nor the other way round.
 *
 * Thread-safe: one mutex, owned by the pod_flows, guards the table and the
 * meter pointer; the meter's calls happen under it (they only queue work or
 * start a capture thread). */
#ifndef MAIN_POD_FLOWS_H
#define MAIN_POD_FLOWS_H

#include "collector/collector.h"
#include "orchestrator/orchestrator.h"

typedef struct pod_flows pod_flows;

pod_flows *pod_flows_new(void);
void pod_flows_free(pod_flows *pf); /* NULL is fine; detach the meter first */
/* The orchestrator's on_pod_network hook (ctx: the pod_flows). */
void pod_flows_on_event(void *ctx, const orch_pod_net_event *ev);
/* Attach the meter (borrowed until detached with NULL): captures on every
 * known pod's veth and the pod table. A capture that cannot start is logged
 * once and the rest goes on. */
void pod_flows_attach(pod_flows *pf, collector_flows *meter);

#endif
