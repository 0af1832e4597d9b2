"""Table tests of each Filter plugin: fits, does not fit, and the reason it gives."""

from typing import Any

import pytest

from scheduler import Placement, ScheduleResult, SchedulingPolicy, Unschedulable

from .factories import GPU_TAINT, node, pod, schedule_one, scheduler_with, snapshot


def reasons(result: object) -> dict[str, int]:
    assert isinstance(result, Unschedulable), result
    return dict(result.reasons)


def gpus(count: int) -> dict[str, str]:
    return {"nvidia.com/gpu": str(count)}


FIT_CASES = [
    ("fits", node("n", cpu="1"), pod(cpu="1"), None),
    ("cpu", node("n", cpu="1"), pod(cpu="1001m"), "Insufficient cpu"),
    ("memory", node("n", memory="1Gi"), pod(memory="1025Mi"), "Insufficient memory"),
    ("pods", node("n", pods="0"), pod(), "Too many pods"),
    ("gpu missing", node("n"), pod(extra=gpus(1)), "Insufficient nvidia.com/gpu"),
    ("gpu short", node("n", extra=gpus(1)), pod(extra=gpus(2)), "Insufficient nvidia.com/gpu"),
    ("gpu fits", node("n", extra=gpus(2)), pod(extra=gpus(2)), None),
    ("storage", node("n", extra={"ephemeral-storage": "1Gi"}),
     pod(extra={"ephemeral-storage": "2Gi"}), "Insufficient ephemeral-storage"),
    ("extended", node("n", extra={"example.com/x": "1"}), pod(extra={"example.com/x": "1"}), None),
]  # fmt: skip


def assert_outcome(result: ScheduleResult, reason: str | None) -> None:
    """Placed when reason is None, else refused by every node (one here) for that reason."""
    if reason is None:
        assert isinstance(result, Placement), result
    else:
        assert reasons(result) == {reason: 1}


@pytest.mark.parametrize(
    ("case", "the_node", "the_pod", "reason"), FIT_CASES, ids=[c[0] for c in FIT_CASES]
)
def test_node_resources_fit(
    case: str, the_node: dict[str, Any], the_pod: dict[str, Any], reason: str | None
) -> None:
    assert_outcome(schedule_one([the_node], the_pod, ["nodeResourcesFit"]), reason)


def test_fit_counts_pods_already_on_the_node_and_reports_every_resource() -> None:
    snap = snapshot({"c1": [node("n", cpu="2", memory="2Gi")]})
    snap.upsert_pod("c1", pod("other", cpu="1500m", memory="1Gi", node_name="n", phase="Running"))
    result = scheduler_with(snap, ["nodeResourcesFit"]).schedule(pod(cpu="1", memory="2Gi"))
    assert reasons(result) == {"Insufficient cpu": 1, "Insufficient memory": 1}


TOLERATE_GPU = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
SIMPLE_CASES = [
    ("ready", "nodeReady", node("n"), pod(), None),
    ("not ready", "nodeReady", node("n", ready=False), pod(), "node(s) were not ready"),
    (
        "cordoned",
        "nodeUnschedulable",
        node("n", unschedulable=True),
        pod(),
        "node(s) were unschedulable",
    ),
    (
        "arm64 node, no arch asked",
        "nodeArch",
        node("n", arch="arm64"),
        pod(),
        "node(s) were arm64; a pod that selects no kubernetes.io/arch runs on amd64 only",
    ),
    (
        "arm64 asked",
        "nodeArch",
        node("n", arch="arm64"),
        pod(node_selector={"kubernetes.io/arch": "arm64"}),
        None,
    ),
    (
        "arm64 asked, amd64 node",
        "nodeArch",
        node("n"),
        pod(node_selector={"kubernetes.io/arch": "arm64"}),
        "node(s) didn't match node arch",
    ),
    ("arch from nodeInfo", "nodeArch", node("n", arch=None), pod(), None),
    (
        "arch by affinity",
        "nodeArch",
        node("n", arch="arm64"),
        pod(
            affinity={
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/arch",
                                    "operator": "In",
                                    "values": ["arm64", "amd64"],
                                }
                            ]
                        }
                    ]
                }
            }
        ),
        None,
    ),
    (
        "selector",
        "nodeAffinity",
        node("n", labels={"disk": "ssd"}),
        pod(node_selector={"disk": "ssd"}),
        None,
    ),
    (
        "selector mismatch",
        "nodeAffinity",
        node("n", labels={"disk": "hdd"}),
        pod(node_selector={"disk": "ssd"}),
        "node(s) didn't match Pod's node affinity/selector",
    ),
    (
        "virtual node labels",
        "nodeAffinity",
        node("n"),
        pod(
            node_selector={
                "fusionvc.io/edge-cluster": "c1",
                "topology.kubernetes.io/region": "region-c1",
            }
        ),
        None,
    ),
    (
        "matchFields",
        "nodeAffinity",
        node("n"),
        pod(
            affinity={
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["m"]}
                            ]
                        }
                    ]
                }
            }
        ),
        "node(s) didn't match Pod's node affinity/selector",
    ),
]


@pytest.mark.parametrize(
    ("case", "plugin", "the_node", "the_pod", "reason"),
    SIMPLE_CASES,
    ids=[c[0] for c in SIMPLE_CASES],
)
def test_node_filters(
    case: str, plugin: str, the_node: dict[str, Any], the_pod: dict[str, Any], reason: str | None
) -> None:
    assert_outcome(schedule_one([the_node], the_pod, [plugin]), reason)


GPU_TENANT = SchedulingPolicy(tolerable_taints=frozenset({"gpu"}))
PLATFORM_TAINT = "node(s) had a taint the tenant may not tolerate"
TAINT_CASES = [
    ("cordon tolerated is still cordoned", "nodeUnschedulable", node("n", unschedulable=True),
     pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]),
     SchedulingPolicy(tolerable_taints=frozenset({"node.kubernetes.io/unschedulable"})),
     "node(s) were unschedulable"),
    ("tolerable taint", "taintToleration", node("n", taints=[GPU_TAINT]), pod(), GPU_TENANT,
     "node(s) had untolerated taint {gpu: true}"),
    ("tolerable taint tolerated", "taintToleration", node("n", taints=[GPU_TAINT]),
     pod(tolerations=[TOLERATE_GPU]), GPU_TENANT, None),
    ("platform taint tolerated by the pod", "taintToleration", node("n", taints=[GPU_TAINT]),
     pod(tolerations=[TOLERATE_GPU]), SchedulingPolicy(), PLATFORM_TAINT),
    ("Exists tolerates no platform taint", "taintToleration",
     node("n", taints=[{"key": "dedicated", "value": "other-tenant", "effect": "NoSchedule"}]),
     pod(tolerations=[{"operator": "Exists"}]), GPU_TENANT, PLATFORM_TAINT),
    ("NoExecute", "taintToleration",
     node("n", taints=[{"key": "gpu", "value": "v", "effect": "NoExecute"}]), pod(), GPU_TENANT,
     "node(s) had untolerated taint {gpu: v}"),
    ("platform NoExecute", "taintToleration",
     node("n", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]), pod(), GPU_TENANT,
     PLATFORM_TAINT),
    ("PreferNoSchedule is no filter", "taintToleration",
     node("n", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]), pod(),
     SchedulingPolicy(), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "plugin", "the_node", "the_pod", "policy", "reason"),
    TAINT_CASES,
    ids=[c[0] for c in TAINT_CASES],
)
def test_platform_taints_and_cordon(
    case: str,
    plugin: str,
    the_node: dict[str, Any],
    the_pod: dict[str, Any],
    policy: SchedulingPolicy,
    reason: str | None,
) -> None:
    assert_outcome(schedule_one([the_node], the_pod, [plugin], policy), reason)


def test_invalid_affinity_rejects_the_pod_up_front() -> None:
    bad = pod(
        affinity={
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "k", "operator": "Near", "values": ["x"]}]}
                ]
            }
        }
    )
    result = schedule_one([node("n1"), node("n2")], bad, ["nodeAffinity"])
    assert isinstance(result, Unschedulable)
    assert result.message.startswith("0/2 nodes are available: spec.affinity")
    assert "unsupported operator 'Near'" in result.message


def test_unhealthy_cluster_is_skipped_whole() -> None:
    snap = snapshot({"good": [node("g1")], "bad": [node("b1"), node("b2")]}, unhealthy=["bad"])
    scheduler = scheduler_with(snap, ["clusterHealthy"])
    assert isinstance(scheduler.schedule(pod()), Placement)
    snap.set_cluster("good", "region-good", False, {})
    why = "which is unreachable or closed to new pods"
    assert reasons(scheduler.schedule(pod())) == {f"node(s) were in edge cluster good, {why}": 1,
                                                  f"node(s) were in edge cluster bad, {why}": 2}


LOCATION_CASES = [
    ("allowed region", SchedulingPolicy(allowed_regions=frozenset({"eu"})), True),
    ("other region", SchedulingPolicy(allowed_regions=frozenset({"us"})), False),
    ("allowed cluster", SchedulingPolicy(allowed_clusters=frozenset({"c1"})), True),
    ("other cluster", SchedulingPolicy(allowed_clusters=frozenset({"c2"})), False),
    ("near enough", SchedulingPolicy(user_regions=("users",), max_latency_ms=30), True),
    ("too far", SchedulingPolicy(user_regions=("users",), max_latency_ms=10), False),
    (
        "unknown latency",
        SchedulingPolicy(user_regions=("elsewhere",), max_latency_ms=1000),
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "policy", "allowed"), LOCATION_CASES, ids=[c[0] for c in LOCATION_CASES]
)
def test_tenant_location(case: str, policy: SchedulingPolicy, allowed: bool) -> None:
    """Nodes outside the tenant's locations are not its own: not counted, no reason given."""
    snap = snapshot({"c1": [node("n1")]}, regions={"c1": "eu"}, latency={"c1": {"users": 20.0}})
    result = scheduler_with(snap, ["tenantLocation"]).schedule(pod(), policy)
    if allowed:
        assert isinstance(result, Placement), result
    else:
        assert isinstance(result, Unschedulable)
        assert (result.message, result.num_nodes) == ("0/0 nodes are available.", 0)


def test_message_counts_only_the_nodes_the_tenant_may_use() -> None:
    snap = snapshot({"c1": [node("a", cpu="1")], "c2": [node("b"), node("c")]})
    scheduler = scheduler_with(snap, ["tenantLocation", "nodeResourcesFit"])
    policy = SchedulingPolicy(allowed_clusters=frozenset({"c1"}))
    result = scheduler.schedule(pod(cpu="2"), policy)
    assert isinstance(result, Unschedulable)
    assert result.message == "0/1 nodes are available: 1 Insufficient cpu."
    result = scheduler.schedule(pod(cpu="lots"), policy)
    assert isinstance(result, Unschedulable)
    assert result.message.startswith("0/1 nodes are available: invalid pod resources")


def test_node_region_label_overrides_cluster_region() -> None:
    snap = snapshot(
        {"c1": [node("n1", labels={"topology.kubernetes.io/region": "us"}), node("n2")]},
        regions={"c1": "eu"},
    )
    result = scheduler_with(snap, ["tenantLocation"]).schedule(
        pod(), SchedulingPolicy(allowed_regions=frozenset({"us"}))
    )
    assert isinstance(result, Placement)
    assert (result.node, result.region) == ("n1", "us")
