"""Taints an EdgeCluster lets every tenant tolerate (its tolerableTaints), beside the
Tenant's own list: filter, spread eligibility, soft-taint score, and changes of the list."""

from typing import Any

from scheduler import ClusterSnapshot, Placement, Unschedulable
from scheduler.policy import SchedulingPolicy

from .factories import (
    GPU_TAINT,
    ZONE,
    node,
    pod,
    scheduler_with,
    spread_constraint,
)

TOLERATE_GPU = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
PLATFORM = "node(s) had a taint the tenant may not tolerate"
GPU = frozenset({"gpu"})


def two_clusters(open_cluster: frozenset[str] = GPU) -> ClusterSnapshot:
    """open (lets tenants tolerate `open_cluster`) and closed, one gpu-tainted node each."""
    snap = ClusterSnapshot()
    snap.set_cluster("open", "r1", True, {}, open_cluster)
    snap.set_cluster("closed", "r1", True, {})
    snap.upsert_node("open", node("open-0", taints=[GPU_TAINT]))
    snap.upsert_node("closed", node("closed-0", taints=[GPU_TAINT]))
    return snap


def placements(snap: ClusterSnapshot, the_pod: dict[str, Any], policy: Any = None) -> set[str]:
    scheduler = scheduler_with(snap, ["taintToleration"])
    found = set()
    for _ in range(20):
        result = scheduler.schedule(the_pod, policy or SchedulingPolicy())
        found.add(result.node if isinstance(result, Placement) else result.message)
    return found


def test_the_clusters_list_opens_its_own_nodes_only() -> None:
    # Same node shape in both clusters: the verdict of one must not be reused for the other.
    assert placements(two_clusters(), pod(tolerations=[TOLERATE_GPU])) == {"open-0"}


def test_a_tolerable_taint_still_needs_the_pods_toleration() -> None:
    assert placements(two_clusters(), pod()) == {
        "0/2 nodes are available: 1 node(s) had a taint the tenant may not tolerate, "
        "1 node(s) had untolerated taint {gpu: true}."
    }


def test_the_tenants_list_and_the_clusters_add_up() -> None:
    tenant = SchedulingPolicy(tolerable_taints=GPU)
    assert placements(two_clusters(), pod(tolerations=[TOLERATE_GPU]), tenant) == {
        "open-0", "closed-0"}  # fmt: skip


def test_changing_the_clusters_list_reshapes_its_nodes_and_wakes_pending_pods() -> None:
    snap = two_clusters(frozenset())
    heard: list[int] = []
    snap.add_listener(heard.append)
    result = scheduler_with(snap, ["taintToleration"]).schedule(pod(tolerations=[TOLERATE_GPU]))
    assert isinstance(result, Unschedulable) and result.reasons == {PLATFORM: 2}
    snap.set_cluster("open", "r1", True, {}, GPU)
    assert heard
    assert placements(snap, pod(tolerations=[TOLERATE_GPU])) == {"open-0"}
    snap.set_cluster("open", "r1", True, {}, frozenset())
    assert placements(snap, pod(tolerations=[TOLERATE_GPU])) == {
        "0/2 nodes are available: 2 node(s) had a taint the tenant may not tolerate."}


def test_soft_taints_the_cluster_lets_tenants_tolerate_score_like_tolerated_ones() -> None:
    soft = {"key": "gpu", "value": "true", "effect": "PreferNoSchedule"}
    snap = ClusterSnapshot()
    snap.set_cluster("open", "r1", True, {}, GPU)
    snap.set_cluster("closed", "r1", True, {})
    snap.upsert_node("open", node("open-0", taints=[soft]))
    snap.upsert_node("closed", node("closed-0", taints=[soft]))
    tolerating = pod(tolerations=[{"key": "gpu", "operator": "Exists"}])
    assert placements(snap, tolerating) == {"open-0"}


def test_spread_with_node_taints_policy_honor_counts_the_clusters_list() -> None:
    snap = ClusterSnapshot()
    snap.set_cluster("open", "r1", True, {}, GPU)
    snap.set_cluster("closed", "r1", True, {})
    snap.upsert_node("open", node("open-0", labels={ZONE: "z-open"}, taints=[GPU_TAINT]))
    snap.upsert_node("closed", node("closed-0", labels={ZONE: "z-closed"}, taints=[GPU_TAINT]))
    snap.upsert_node("closed", node("plain-0", labels={ZONE: "z-plain"}))
    web = {"app": "web"}
    snap.upsert_pod("closed", pod("w0", labels=web, node_name="plain-0", phase="Running"))
    spread = spread_constraint(ZONE, web, nodeTaintsPolicy="Honor")
    the_pod = pod(labels=web, tolerations=[TOLERATE_GPU], spread=[spread])
    scheduler = scheduler_with(snap, ["taintToleration", "podTopologySpread"])
    # Eligible domains: z-plain (1 pod) and z-open (0, tolerable there); z-closed's taint is
    # the platform's. The pod must go to z-open.
    found = {scheduler.schedule(the_pod) for _ in range(10)}
    assert {r.node for r in found if isinstance(r, Placement)} == {"open-0"}
