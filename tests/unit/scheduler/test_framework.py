"""The framework: weighted sum of normalized scores, registry, profile, message, observer."""

from collections.abc import Sequence

import pytest

from scheduler import (
    ClusterSnapshot,
    Placement,
    Profile,
    Registry,
    Scheduler,
    SchedulingError,
    SchedulingPolicy,
    Unschedulable,
    build_profile,
)
from scheduler.framework import CycleState, ScorePlugin, default_normalize_score
from scheduler.nodeinfo import NodeInfo
from scheduler.plugins import default_registry
from scheduler.podinfo import PodInfo
from scheduler.result import unavailable_message

from .factories import node, pod, snapshot


class FixedScore(ScorePlugin):
    """A score plugin giving fixed raw scores by node name, normalized by the maximum."""

    order = 500
    weight = 1

    def __init__(self, name: str, raw: dict[str, int]) -> None:
        self.name = name
        self.raw = raw

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        return [self.raw[n.facts.name] for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=False)


def two_node_scheduler(weights: dict[str, int]) -> Scheduler:
    # "likes-a" prefers node a strongly, "likes-b" prefers node b a little less strongly.
    plugins = [FixedScore("likes-a", {"a": 10, "b": 0}), FixedScore("likes-b", {"a": 3, "b": 5})]
    return Scheduler(snapshot({"c1": [node("a"), node("b")]}), Profile(plugins, weights))


def test_weights_are_applied_to_normalized_scores() -> None:
    # normalized: likes-a a=100 b=0; likes-b a=60 b=100
    result = two_node_scheduler({"likes-a": 1, "likes-b": 1}).schedule(pod())
    assert isinstance(result, Placement)
    assert (result.node, result.score) == ("a", 160)
    result = two_node_scheduler({"likes-a": 1, "likes-b": 3}).schedule(pod())
    assert isinstance(result, Placement)
    assert (result.node, result.score) == ("b", 300)  # a: 100 + 180 = 280


def test_policy_weights_override_the_profile() -> None:
    scheduler = two_node_scheduler({"likes-a": 1, "likes-b": 1})
    result = scheduler.schedule(pod(), SchedulingPolicy(weights={"likes-a": 0}))
    assert isinstance(result, Placement)
    assert (result.node, result.score) == ("b", 100)


def test_default_normalize_score() -> None:
    scores = [0, 5, 10]
    default_normalize_score(scores, reverse=False)
    assert scores == [0, 50, 100]
    default_normalize_score(scores, reverse=True)
    assert scores == [100, 50, 0]
    zeros = [0, 0]
    default_normalize_score(zeros, reverse=True)
    assert zeros == [100, 100]


def test_scores_outside_0_to_100_are_a_plugin_error() -> None:
    class Broken(FixedScore):
        def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
            pass

    # Scores are range-checked in the sampled cycles: sample every cycle here.
    profile = Profile(
        [Broken("broken", {"a": 500, "b": 1})], {"broken": 1}, plugin_metrics_sample_percent=100
    )
    scheduler = Scheduler(snapshot({"c1": [node("a"), node("b")]}), profile)
    with pytest.raises(SchedulingError):
        scheduler.schedule(pod())


def test_registry_builds_profiles_by_name() -> None:
    registry = default_registry()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("latency", lambda: FixedScore("latency", {}))
    with pytest.raises(KeyError, match="no plugin named 'nope'"):
        registry.create("nope")
    registry.register("likes-a", lambda: FixedScore("likes-a", {"a": 1, "b": 0}))
    profile = build_profile(["nodeResourcesFit", "likes-a"], {"likes-a": 1}, registry)
    result = Scheduler(snapshot({"c1": [node("b"), node("a")]}), profile).schedule(pod())
    assert isinstance(result, Placement) and result.node == "a"


def test_registry_rejects_a_plugin_under_another_name() -> None:
    registry = Registry()
    registry.register("x", lambda: FixedScore("y", {}))
    with pytest.raises(ValueError, match="calls itself"):
        registry.create("x")


@pytest.mark.parametrize(
    ("nodes", "percentage", "expected"),
    [
        (50, 0, 50),
        (100, 0, 100),
        (1_000, 0, 420),
        (5_000, 0, 500),
        (20_000, 0, 1_000),
        (100_000, 0, 5_000),
        (1_000, 100, 1_000),
        (1_000, 20, 200),
        (300, 10, 100),
    ],
)
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, expected: int) -> None:
    profile = build_profile(percentage_of_nodes_to_score=percentage)
    assert profile.num_feasible_nodes_to_find(nodes) == expected


def big_snapshot(clusters: int, nodes_per_cluster: int) -> ClusterSnapshot:
    return snapshot(
        {f"c{c}": [node(f"c{c}-n{i}") for i in range(nodes_per_cluster)] for c in range(clusters)}
    )


def test_filtering_stops_after_enough_feasible_nodes_and_rotates() -> None:
    snap = big_snapshot(clusters=4, nodes_per_cluster=100)
    profile = build_profile(
        ["nodeResourcesFit", "resources"], {"resources": 1}, percentage_of_nodes_to_score=25
    )
    scheduler = Scheduler(snap, profile)
    seen_clusters = set()
    for _ in range(4):
        result = scheduler.schedule(pod())
        assert isinstance(result, Placement)
        assert (result.feasible_nodes, result.evaluated_nodes) == (100, 100)
        seen_clusters.add(result.cluster)
    assert seen_clusters == {"c0", "c1", "c2", "c3"}  # the start moves on each cycle


def test_nearest_groups_are_visited_first_when_not_every_node_is_evaluated() -> None:
    snap = big_snapshot(clusters=5, nodes_per_cluster=40)
    for c, ms in enumerate([50.0, 40.0, 5.0, 30.0, 20.0]):
        snap.set_cluster(f"c{c}", f"region-c{c}", True, {"eu": ms})
    profile = build_profile(percentage_of_nodes_to_score=10)  # 100 of 200 nodes
    result = Scheduler(snap, profile).schedule(pod(), SchedulingPolicy(user_regions=("eu",)))
    assert isinstance(result, Placement)
    assert result.cluster == "c2"


def test_unschedulable_message_counts_each_nodes_first_failing_filter() -> None:
    gpu_taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    nodes = (
        [node(f"cpu-{i}") for i in range(20)]
        + [node(f"arm-{i}", arch="arm64") for i in range(12)]
        + [node(f"gpu-{i}", taints=[gpu_taint], extra={"nvidia.com/gpu": "8"}) for i in range(5)]
    )
    result = Scheduler(snapshot({"c1": nodes})).schedule(pod(extra={"nvidia.com/gpu": "1"}))
    assert isinstance(result, Unschedulable)
    assert result.message == (
        "0/37 nodes are available: 20 Insufficient nvidia.com/gpu, "
        "5 node(s) had a taint the tenant may not tolerate, "
        "12 node(s) were arm64; a pod that selects no kubernetes.io/arch runs on amd64 only."
    )
    assert result.num_nodes == 37


def test_unavailable_message_sorts_by_reason_and_lists_every_reason_of_a_node() -> None:
    assert unavailable_message(
        3, {"Insufficient memory": 1, "Insufficient cpu": 1, "node(s) were not ready": 2}
    ) == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
        "2 node(s) were not ready."
    )
    assert unavailable_message(0, {}) == "0/0 nodes are available."


def test_unschedulable_result_carries_the_generation_to_retry_after() -> None:
    snap = snapshot({"c1": [node("n", cpu="1")]})
    scheduler = Scheduler(snap)
    result = scheduler.schedule(pod(cpu="2"))
    assert isinstance(result, Unschedulable)
    assert result.generation == snap.generation
    snap.upsert_node("c1", node("n", cpu="4"))
    assert snap.generation > result.generation
    assert isinstance(scheduler.schedule(pod(cpu="2")), Placement)


def test_malformed_pod_quantities_make_the_pod_unschedulable() -> None:
    result = Scheduler(snapshot({"c1": [node("n")]})).schedule(pod(cpu="lots"))
    assert isinstance(result, Unschedulable)
    assert "invalid pod resources" in result.message


class RecordingObserver:
    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.points: set[tuple[str, str]] = set()
        self.timings: list[tuple[str, str]] = []

    def attempt(self, result: str, seconds: float) -> None:
        assert seconds >= 0
        self.attempts.append(result)

    def plugin(self, name: str, extension_point: str, seconds: float) -> None:
        self.points.add((name, extension_point))
        self.timings.append((name, extension_point))


def test_plugin_timings_come_from_sampled_cycles_only() -> None:
    observer = RecordingObserver()
    profile = build_profile(plugin_metrics_sample_percent=0)
    scheduler = Scheduler(snapshot({"c1": [node("a"), node("b")]}), profile, observer)
    scheduler.schedule(pod())
    assert observer.attempts == ["scheduled"] and observer.points == set()


def test_the_first_decision_is_sampled_then_every_nth() -> None:
    observer = RecordingObserver()
    profile = build_profile(plugin_metrics_sample_percent=10)
    scheduler = Scheduler(snapshot({"c1": [node("a"), node("b")]}), profile, observer)
    timed = []
    for _ in range(21):
        before = len(observer.timings)
        scheduler.schedule(pod())
        timed.append(len(observer.timings) > before)
    assert [i + 1 for i, was in enumerate(timed) if was] == [1, 11, 21]


def test_observer_gets_attempts_and_plugin_timings() -> None:
    observer = RecordingObserver()
    profile = build_profile(plugin_metrics_sample_percent=100)
    scheduler = Scheduler(snapshot({"c1": [node("a"), node("b")]}), profile, observer)
    scheduler.schedule(pod())
    scheduler.schedule(pod(cpu="100"))
    assert observer.attempts == ["scheduled", "unschedulable"]
    assert {
        ("nodeResourcesFit", "Filter"),
        ("nodeReady", "ShapeFilter"),
        ("clusterHealthy", "ClusterFilter"),
        ("nodeArch", "PreFilter"),
        ("resources", "Score"),
        ("cost", "NormalizeScore"),
    } <= observer.points
