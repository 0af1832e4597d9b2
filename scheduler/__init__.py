"""fusionvc's scheduler: which node of which edge cluster runs each tenant pod.

What the syncer calls (all synchronous; use from the event loop's thread):

Feeding the snapshot (from the edge informers; every pod of every edge
cluster, not only fusionvc's, plus each EdgeCluster's health):
    snapshot = ClusterSnapshot(clock=time.monotonic, assume_ttl=30.0,
                               node_namer=..., tenancy=...)
      node_namer(cluster, node): the tenant's name for an edge node (its virtual node's);
      it is the node's kubernetes.io/hostname and metadata.name for selectors and nodeName.
      tenancy(edge_pod): the TenantPod (tenant, tenant namespace, labels, required
      anti-affinity) of a tenant's edge pod, None for other pods.
    snapshot.set_cluster(name, region, healthy, latency_ms)   # latency_ms: user region -> ms
    snapshot.remove_cluster(name)
    snapshot.upsert_node(cluster, node_dict)    /  snapshot.remove_node(cluster, node_name)
    snapshot.upsert_pod(cluster, pod_dict)      /  snapshot.remove_pod(cluster, namespace, name)
  set_cluster() must come before the cluster's nodes and pods (KeyError otherwise).

Tenant policy (the Tenant spec's `scheduling` section):
    policy = parse_policy(spec.get("scheduling"), snapshot.known_regions(),
                          scheduler.profile.score_plugin_names())   # raises PolicyError

Scheduling one tenant pod:
    scheduler = Scheduler(snapshot, profile=None, observer=None)
    result = scheduler.schedule(tenant_pod_dict, policy, tenant_name)
  A pod whose spec.nodeName is set is admitted to exactly that node (by its tenant
  name) or refused (Unschedulable; unknown_node when no node has that name).
    if isinstance(result, Placement):
        snapshot.assume(result.cluster, result.node, edge_pod_dict)   # before creating it
        ... create the edge pod with spec.nodeName = result.node;
        on failure: snapshot.forget(result.cluster, edge_namespace, edge_name)
    else:  # Unschedulable
        PodScheduled=False, reason=Unschedulable, message=result.message;
        retry when snapshot.generation > result.generation
    snapshot.policy_changed() when a tenant's policy changes (pending pods are retried).

Plugins inherit the extension points they implement (scheduler.framework) and
declare `name`, `order` and, if they score, `weight`; see scheduler.plugins.

Retrying pending pods: snapshot.add_listener(callback) calls callback(generation)
after every change that may let a pending pod fit (node added or changed,
pod removed or shrunk, assumption forgotten or expired, cluster added, healthy
again or its latency changed). It returns a function that removes the listener.

Metrics: pass an object with attempt(result, seconds) and
plugin(name, extension_point, seconds) as `observer` (see scheduler.observer).
"""

from .framework import (
    ClusterFilterPlugin,
    Code,
    CycleState,
    FilterPlugin,
    GroupScorePlugin,
    Plugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    ShapeFilterPlugin,
    StateKey,
    Status,
)
from .observer import NoopObserver, SchedulerObserver
from .policy import (
    DEFAULT_POLICY,
    MODE_PRESETS,
    PolicyError,
    ResourceStrategy,
    SchedulingPolicy,
    parse_policy,
)
from .profile import DEFAULT_PLUGIN_ORDER, Profile, build_profile
from .quantity import QuantityError, parse_quantity
from .registry import Registry
from .result import Placement, ScheduleResult, Unschedulable
from .scheduler import Scheduler, SchedulingError
from .snapshot import ClusterSnapshot

__all__ = [
    "DEFAULT_PLUGIN_ORDER",
    "DEFAULT_POLICY",
    "MODE_PRESETS",
    "ClusterFilterPlugin",
    "ClusterSnapshot",
    "Code",
    "CycleState",
    "FilterPlugin",
    "GroupScorePlugin",
    "NoopObserver",
    "Placement",
    "Plugin",
    "PolicyError",
    "PreFilterPlugin",
    "PreScorePlugin",
    "Profile",
    "QuantityError",
    "Registry",
    "ResourceStrategy",
    "ScheduleResult",
    "Scheduler",
    "SchedulerObserver",
    "SchedulingError",
    "SchedulingPolicy",
    "ScorePlugin",
    "ShapeFilterPlugin",
    "StateKey",
    "Status",
    "Unschedulable",
    "build_profile",
    "parse_policy",
    "parse_quantity",
]
