"""The tenant speaks in virtual node names: nodeName admission, hostname and metadata.name."""

from typing import Any

import pytest

from scheduler import ClusterSnapshot, Placement, Scheduler, SchedulingPolicy, Unschedulable

from .factories import HOSTNAME, node, pod, scheduler_with


def virtual(cluster: str, name: str) -> str:
    return f"vn-{cluster}-{name}"


def fleet() -> ClusterSnapshot:
    snap = ClusterSnapshot(node_namer=virtual)
    for cluster in ("sh", "gz"):
        snap.set_cluster(cluster, f"region-{cluster}", True, {})
        snap.upsert_node(cluster, node(f"{cluster}-0", cpu="1",
                                       labels={HOSTNAME: f"{cluster}-0"}))  # fmt: skip
        snap.upsert_node(cluster, node(f"{cluster}-arm", arch="arm64"))
    return snap


NODE_NAME_CASES = [
    ("virtual node name", pod(node_name="vn-sh-sh-0"), ("sh", "sh-0")),
    ("too big for it", pod(cpu="2", node_name="vn-sh-sh-0"),
     "0/1 nodes are available: 1 Insufficient cpu."),
    ("wrong arch", pod(node_name="vn-gz-gz-arm"),
     "0/1 nodes are available: 1 node(s) were arm64; a pod that selects no kubernetes.io/arch "
     "runs on amd64 only."),
    ("edge name is no tenant name", pod(node_name="sh-0"),
     "spec.nodeName 'sh-0' names no virtual node of this tenant's fleet"),
    ("nowhere", pod(node_name="vn-xx-nope"),
     "spec.nodeName 'vn-xx-nope' names no virtual node of this tenant's fleet"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "the_pod", "expected"), NODE_NAME_CASES, ids=[c[0] for c in NODE_NAME_CASES]
)
def test_node_name_runs_there_or_is_refused(
    case: str, the_pod: dict[str, Any], expected: object
) -> None:
    result = Scheduler(fleet()).schedule(the_pod)
    if isinstance(expected, tuple):
        assert isinstance(result, Placement), result
        assert (result.cluster, result.node) == expected
    else:
        assert isinstance(result, Unschedulable)
        assert result.message == expected
        assert result.unknown_node == expected.startswith("spec.nodeName")


def test_node_name_outside_the_tenants_locations_is_refused() -> None:
    policy = SchedulingPolicy(allowed_clusters=frozenset({"gz"}))
    result = Scheduler(fleet()).schedule(pod(node_name="vn-sh-sh-0"), policy)
    assert isinstance(result, Unschedulable) and not result.unknown_node


SELECTOR_CASES = [
    ("hostname label is the virtual name", pod(node_selector={HOSTNAME: "vn-gz-gz-0"}), "gz-0"),
    ("edge hostname matches nothing", pod(node_selector={HOSTNAME: "gz-0"}), None),
    ("matchFields metadata.name", pod(affinity={"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["vn-sh-sh-0"]}]}]}}), "sh-0"),
    ("matchFields edge name", pod(affinity={"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["sh-0"]}]}]}}), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "the_pod", "expected"), SELECTOR_CASES, ids=[c[0] for c in SELECTOR_CASES]
)
def test_selectors_match_virtual_node_names(
    case: str, the_pod: dict[str, Any], expected: str | None
) -> None:
    result = scheduler_with(fleet(), ["nodeAffinity"]).schedule(the_pod)
    if expected is None:
        assert isinstance(result, Unschedulable)
    else:
        assert isinstance(result, Placement) and result.node == expected


def test_removed_node_is_no_longer_known_by_its_virtual_name() -> None:
    snap = fleet()
    snap.remove_node("sh", "sh-0")
    assert snap.node_by_visible_name("vn-sh-sh-0") is None
    snap.remove_cluster("gz")
    assert snap.node_by_visible_name("vn-gz-gz-0") is None
