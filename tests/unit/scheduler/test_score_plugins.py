"""Each Score plugin alone: which node it prefers, and that its scores stay within 0..100."""

from typing import Any

import pytest

from scheduler import DEFAULT_POLICY, Placement, SchedulingPolicy
from scheduler.framework import CycleState
from scheduler.plugins import (
    CostScore,
    LatencyScore,
    NodeAffinity,
    ResourceAllocationScore,
    SpreadScore,
    TaintToleration,
)
from scheduler.podinfo import PodInfo
from scheduler.policy import ResourceStrategy
from scheduler.snapshot import ClusterSnapshot

from .factories import node, pod, scheduler_with, snapshot


def scores_of(
    plugin: Any,
    snap: ClusterSnapshot,
    the_pod: dict[str, Any],
    policy: SchedulingPolicy = DEFAULT_POLICY,
) -> dict[str, int]:
    """Run one plugin's PreScore, Score and NormalizeScore over every node, by node name."""
    nodes = [n for c in snap.clusters.values() for n in c.nodes.values()]
    state = CycleState(snap, policy)
    info = PodInfo.from_pod(the_pod)
    if hasattr(plugin, "pre_score"):
        assert plugin.pre_score(state, info, nodes) is None
    scores = plugin.score(state, info, nodes)
    plugin.normalize_score(state, info, scores)
    assert all(0 <= s <= 100 for s in scores)
    return {n.facts.name: s for n, s in zip(nodes, scores, strict=True)}


def best(
    plugin_name: str,
    snap: ClusterSnapshot,
    the_pod: dict[str, Any],
    policy: SchedulingPolicy = DEFAULT_POLICY,
) -> str:
    """The node a scheduler running only this score plugin (and fit) picks."""
    result = scheduler_with(snap, ["nodeResourcesFit", plugin_name], {plugin_name: 1}).schedule(
        the_pod, policy
    )
    assert isinstance(result, Placement)
    return result.node


def test_latency_prefers_the_nearest_cluster_from_the_nearest_user_region() -> None:
    snap = snapshot(
        {
            "near": [node("n-near")],
            "mid": [node("n-mid")],
            "far": [node("n-far")],
            "unknown": [node("n-unknown")],
        },
        latency={"near": {"eu": 5, "us": 90}, "mid": {"eu": 40}, "far": {"eu": 80, "us": 120}},
    )
    policy = SchedulingPolicy(user_regions=("eu", "us"))
    scores = scores_of(LatencyScore(), snap, pod(), policy)
    assert scores["n-near"] > scores["n-mid"] > scores["n-far"] == scores["n-unknown"] == 0
    assert best("latency", snap, pod(), policy) == "n-near"


def test_cost_uses_the_pods_share_of_the_node_price() -> None:
    snap = snapshot(
        {
            "c1": [
                node("big-cheap-per-core", cpu="64", memory="256Gi", price="3.20"),  # 0.05 per core
                node("small", cpu="4", memory="16Gi", price="0.40"),  # 0.10 per core
                node("unpriced", cpu="4", memory="16Gi"),  # median of the cluster: 1.80
            ]
        }
    )
    scores = scores_of(CostScore(), snap, pod(cpu="1", memory="1Gi"))
    assert scores["big-cheap-per-core"] > scores["small"] > scores["unpriced"]


def test_cost_of_gpu_pods_follows_the_price_per_gpu() -> None:
    gpu = {"nvidia.com/gpu": "8"}
    snap = snapshot(
        {
            "c1": [
                node("a100", cpu="64", extra=gpu, price="24"),
                node("l4", cpu="64", extra=gpu, price="8"),
            ]
        }
    )
    assert best("cost", snap, pod(extra={"nvidia.com/gpu": "1"})) == "l4"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [(ResourceStrategy.LEAST_ALLOCATED, "empty"), (ResourceStrategy.BIN_PACKING, "busy")],
)
def test_resource_strategy(strategy: ResourceStrategy, expected: str) -> None:
    snap = snapshot(
        {"c1": [node("empty", cpu="8", memory="16Gi"), node("busy", cpu="8", memory="16Gi")]}
    )
    snap.upsert_pod("c1", pod("x", cpu="4", memory="8Gi", node_name="busy", phase="Running"))
    policy = SchedulingPolicy(resource_strategy=strategy)
    assert best("resources", snap, pod(cpu="1", memory="1Gi"), policy) == expected


def test_gpu_pods_are_bin_packed_even_when_cpu_is_least_allocated() -> None:
    gpu = {"nvidia.com/gpu": "8"}
    snap = snapshot(
        {
            "c1": [
                node("fresh", cpu="64", memory="256Gi", extra=gpu),
                node("half", cpu="64", memory="256Gi", extra=gpu),
            ]
        }
    )
    snap.upsert_pod(
        "c1", pod("x", cpu="1", extra={"nvidia.com/gpu": "4"}, node_name="half", phase="Running")
    )
    the_pod = pod(cpu="1", extra={"nvidia.com/gpu": "2"})
    assert best("resources", snap, the_pod) == "half"
    scores = scores_of(ResourceAllocationScore(), snap, the_pod)
    assert scores["half"] > scores["fresh"]


def test_spread_prefers_clusters_and_regions_without_replicas() -> None:
    snap = snapshot(
        {"a": [node("a1")], "b": [node("b1")], "c": [node("c1")]},
        regions={"a": "r1", "b": "r1", "c": "r2"},
    )
    snap.upsert_pod("a", pod("rep-1", node_name="a1", phase="Running", owner_annotation="rs-1"))
    the_pod = pod(owner="rs-1")
    scores = scores_of(SpreadScore(), snap, the_pod)
    assert scores["c1"] > scores["b1"] > scores["a1"]  # b shares a's region
    assert best("spread", snap, the_pod) == "c1"


def test_spread_counts_assumed_pods() -> None:
    snap = snapshot({"a": [node("a1")], "b": [node("b1")]})
    snap.assume("a", "a1", pod("rep-1", owner_annotation="rs-1"))
    assert best("spread", snap, pod(owner="rs-1")) == "b1"


def test_preferred_node_affinity_sums_matching_weights() -> None:
    snap = snapshot(
        {
            "c1": [
                node("ssd", labels={"disk": "ssd"}),
                node("ssd-fast", labels={"disk": "ssd", "net": "fast"}),
                node("hdd", labels={"disk": "hdd"}),
            ]
        }
    )
    term = {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
    fast = {"matchExpressions": [{"key": "net", "operator": "Exists"}]}
    the_pod = pod(
        affinity={
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": term},
                {"weight": 5, "preference": fast},
            ]
        }
    )
    scores = scores_of(NodeAffinity(), snap, the_pod)
    assert scores == {"ssd-fast": 100, "ssd": 66, "hdd": 0}


def test_prefer_no_schedule_taints_lower_the_score() -> None:
    soft = {"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}
    snap = snapshot({"c1": [node("tainted", taints=[soft]), node("clean")]})
    scores = scores_of(TaintToleration(), snap, pod())
    assert scores == {"tainted": 0, "clean": 100}
    assert best("taintToleration", snap, pod()) == "clean"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([300, 600, 1200], [100, 50, 25]),
        ([0, 0], [100, 100]),
        ([500], [100]),
        ([], []),
    ],
)
def test_cost_is_scored_relative_to_the_cheapest_candidate(
    raw: list[int], expected: list[int]
) -> None:
    from scheduler.plugins.cost import relative_to_cheapest

    scores = list(raw)
    relative_to_cheapest(scores)
    assert scores == expected


def test_a_dear_gpu_node_does_not_flatten_cheap_cpu_nodes() -> None:
    from scheduler.plugins.cost import relative_to_cheapest

    scores = [300_000, 500_000, 24_000_000]  # 0.30, 0.50 and 24.00 per hour
    relative_to_cheapest(scores)
    assert scores[0] - scores[1] >= 35
