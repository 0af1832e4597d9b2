"""Table tests of PodTopologySpread: skew, minDomains, inclusion policies, ScheduleAnyway."""

from collections import Counter
from typing import Any

import pytest

from scheduler import ClusterSnapshot, Placement, SchedulingPolicy, Unschedulable

from .factories import (
    HOSTNAME,
    ZONE,
    node,
    place_and_assume,
    placed_node,
    pod,
    scheduler_with,
    snapshot,
    spread_constraint,
    zoned_nodes,
)

WEB = {"app": "web"}


def with_pods(zones: dict[str, int], running: dict[str, int]) -> ClusterSnapshot:
    """Zones of nodes, and `running` web pods on the first node of some zones."""
    snap = snapshot({"c1": zoned_nodes(zones)})
    for zone, count in running.items():
        for i in range(count):
            snap.upsert_pod("c1", pod(f"{zone}-web-{i}", labels=WEB, node_name=f"{zone}-0",
                                      phase="Running"))  # fmt: skip
    return snap


def zones_allowed(snap: ClusterSnapshot, the_pod: dict[str, Any], *plugins: str) -> set[str] | str:
    scheduler = scheduler_with(snap, [*plugins, "podTopologySpread"])
    found: set[str] = set()
    for _ in range(30):
        result = scheduler.schedule(the_pod)
        if isinstance(result, Unschedulable):
            return result.message
        found.add(placed_node(result).split("-")[0])
    return found


SKEWED = "node(s) didn't match pod topology spread constraints"
CASES = [
    ("balanced: anywhere", {"a": 1, "b": 1}, {"a": 1, "b": 1}, {}, {"a", "b"}),
    ("a ahead: b only", {"a": 1, "b": 1}, {"a": 1}, {}, {"b"}),
    ("skew 2 allows a", {"a": 1, "b": 1}, {"a": 1}, {"max_skew": 2}, {"a", "b"}),
    ("minDomains 3 counts min as 0", {"a": 1, "b": 1}, {"a": 1, "b": 1},
     {"minDomains": 3}, f"0/2 nodes are available: 2 {SKEWED}."),
    ("minDomains met", {"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1}, {"minDomains": 3}, {"c"}),
    ("a node without the key is out", {"a": 1}, {}, {"topologyKey": "rack"},
     f"0/1 nodes are available: 1 {SKEWED} (missing required label)."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "zones", "running", "extra", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_do_not_schedule(
    case: str,
    zones: dict[str, int],
    running: dict[str, int],
    extra: dict[str, Any],
    expected: object,
) -> None:
    max_skew = extra.pop("max_skew", 1)
    constraint = {**spread_constraint(ZONE, WEB, max_skew), **extra}
    the_pod = pod(labels=WEB, spread=[constraint])
    assert zones_allowed(with_pods(zones, running), the_pod) == expected


def test_node_affinity_policy_honor_ignores_domains_the_pod_cannot_use() -> None:
    snap = with_pods({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1})
    # zone c fails the pod's node selector: with Honor it is no domain (min stays 1).
    selector = {"pool": "main"}
    for zone in ("a", "b"):
        snap.upsert_node("c1", node(f"{zone}-0", labels={ZONE: zone, **selector}))
    constraint = spread_constraint(ZONE, WEB)
    honor = pod(labels=WEB, spread=[constraint], node_selector=selector)
    assert zones_allowed(snap, honor, "nodeAffinity") == {"a", "b"}
    ignore = pod(labels=WEB, spread=[{**constraint, "nodeAffinityPolicy": "Ignore"}],
                 node_selector=selector)  # fmt: skip
    # zone c counts 0: a and b are too skewed, and c fails the selector
    assert isinstance(zones_allowed(snap, ignore, "nodeAffinity"), str)


def test_node_taints_policy_honor_ignores_tainted_domains() -> None:
    snap = with_pods({"a": 1, "b": 1}, {"a": 1})
    snap.upsert_node(
        "c1",
        node(
            "b-0", labels={ZONE: "b"}, taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]
        ),
    )
    constraint = spread_constraint(ZONE, WEB)
    ignore = pod(labels=WEB, spread=[constraint])
    # b is a domain with 0 pods: a is too skewed, and b's taint keeps the pod off
    assert isinstance(zones_allowed(snap, ignore, "taintToleration"), str)
    honor = pod(labels=WEB, spread=[{**constraint, "nodeTaintsPolicy": "Honor"}])
    assert zones_allowed(snap, honor, "taintToleration") == {"a"}


def test_a_burst_spreads_evenly_through_assumed_pods() -> None:
    snap = snapshot({"c1": zoned_nodes({"a": 3, "b": 3, "c": 3})})
    scheduler = scheduler_with(snap, ["podTopologySpread"])
    replica = pod(labels=WEB, spread=[spread_constraint(ZONE, WEB)])
    zones: Counter[str] = Counter()
    for i in range(9):
        result = place_and_assume(scheduler, {**replica, "metadata": {
            **replica["metadata"], "name": f"web-{i}"}})  # fmt: skip
        zones[placed_node(result).split("-")[0]] += 1
    assert zones == {"a": 3, "b": 3, "c": 3}


def test_schedule_anyway_prefers_the_emptiest_domain() -> None:
    snap = with_pods({"a": 1, "b": 1}, {"a": 3})
    the_pod = pod(labels=WEB, spread=[spread_constraint(ZONE, WEB, hard=False)])
    assert zones_allowed(snap, the_pod) == {"b"}


def test_domains_are_the_tenants_allowed_locations_only() -> None:
    snap = snapshot({"c1": [node("a-0", labels={ZONE: "a"})],
                     "c2": [node("b-0", labels={ZONE: "b"})]})  # fmt: skip
    snap.upsert_pod("c1", pod("w", labels=WEB, node_name="a-0", phase="Running"))
    scheduler = scheduler_with(snap, ["tenantLocation", "podTopologySpread"])
    the_pod = pod(labels=WEB, spread=[spread_constraint(ZONE, WEB)])
    only_c1 = SchedulingPolicy(allowed_clusters=frozenset({"c1"}))
    assert isinstance(scheduler.schedule(the_pod, only_c1), Placement)


def test_hostname_spread_uses_the_tenants_node_names() -> None:
    snap = ClusterSnapshot(node_namer=lambda cluster, name: f"vn-{cluster}-{name}")
    snap.set_cluster("c1", "r", True, {})
    for name in ("n0", "n1"):
        snap.upsert_node("c1", node(name))
    snap.upsert_pod("c1", pod("w", labels=WEB, node_name="n0", phase="Running"))
    the_pod = pod(labels=WEB, spread=[spread_constraint(HOSTNAME, WEB)])
    assert placed_node(scheduler_with(snap, ["podTopologySpread"]).schedule(the_pod)) == "n1"


def test_malformed_constraints_reject_the_pod() -> None:
    bad = pod(labels=WEB, spread=[{**spread_constraint(ZONE, WEB), "maxSkew": 0}])
    result = scheduler_with(with_pods({"a": 1}, {}), ["podTopologySpread"]).schedule(bad)
    assert isinstance(result, Unschedulable)
    assert "maxSkew: must be an integer >= 1" in result.message
