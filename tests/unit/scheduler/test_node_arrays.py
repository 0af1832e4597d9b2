"""NodeArrays mirror the NodeInfos through every change, and the array forms of the
filters decide exactly what the per-node forms do (same placements, reasons, counts)."""

from __future__ import annotations

import math
import random
from typing import Any

from scheduler import ClusterSnapshot, Placement, Scheduler
from scheduler.nodearrays import Candidates, group_runs, slots_of
from scheduler.policy import DEFAULT_POLICY, parse_policy

from .factories import GPU_TAINT, HOSTNAME, ZONE, node, pod, snapshot, term

GPU = {"nvidia.com/gpu": "4"}


def fleet(clusters: int = 3, per_cluster: int = 12) -> ClusterSnapshot:
    nodes: dict[str, list[dict[str, Any]]] = {}
    for c in range(clusters):
        nodes[f"c{c}"] = [
            node(
                f"c{c}-n{n}",
                cpu="4",
                memory="8Gi",
                pods="6",
                labels={ZONE: f"c{c}-z{n % 3}"},
                taints=[GPU_TAINT] if n % 4 == 3 else (),
                extra=GPU if n % 4 == 3 else None,
                arch="arm64" if n % 6 == 5 else "amd64",
                price=str(1 + (n * 7 + c) % 5),
                ready=n != 7,
            )
            for n in range(per_cluster)
        ]
    return snapshot(nodes, latency={f"c{c}": {"users": 10.0 * (c + 1)} for c in range(clusters)})


def assert_mirrored(snap: ClusterSnapshot) -> None:
    arrays = snap.arrays
    for cluster in snap.clusters.values():
        for info in cluster.nodes.values():
            row = info.index_id
            assert info.arrays is arrays
            for name in info.free.keys() | info.facts.allocatable.keys() | arrays.free.keys():
                assert arrays.column(name)[row] == info.free.get(name, 0), (info.facts.name, name)
                assert arrays.allocatable_of(name)[row] == info.facts.allocatable.get(name, 0)
            assert arrays.nonzero_cpu[row] == info.nonzero_cpu
            assert arrays.nonzero_memory[row] == info.nonzero_memory
            price = info.facts.price
            assert math.isnan(arrays.price[row]) if price is None else arrays.price[row] == price
            assert arrays.group_serial[row] == info.group.serial


def test_arrays_follow_pods_assumed_forgotten_and_nodes_changed_removed_and_added() -> None:
    snap = fleet()
    arrays = snap.arrays
    arrays.labels(ZONE)  # a label column made before the changes below: kept up to date
    snap.assume("c0", "c0-n0", pod("a", cpu="1", memory="1Gi"))
    snap.assume("c0", "c0-n3", pod("g", cpu="1", extra={"nvidia.com/gpu": "2"}))
    snap.upsert_pod("c1", pod("real", cpu="2", node_name="c1-n1", phase="Running"))
    assert_mirrored(snap)
    snap.forget("c0", "default", "a")
    snap.upsert_node("c1", node("c1-n1", cpu="16", labels={ZONE: "moved"}, pods="6"))
    snap.remove_node("c2", "c2-n2")
    added = node("c2-new", cpu="2", labels={ZONE: "c2-z9"}, extra={"example/x": "3"})
    snap.upsert_node("c2", added)
    assert_mirrored(snap)
    moved = snap.node("c1", "c1-n1")
    assert moved is not None
    assert arrays.label_in(ZONE, [moved.index_id], ["moved"]).tolist() == [True]


def without_array_forms(scheduler: Scheduler) -> Scheduler:
    scheduler.profile.array_filters.clear()
    scheduler.profile.array_scores.clear()
    return scheduler


def workload(rng: random.Random, count: int) -> list[dict[str, Any]]:
    pods = []
    for i in range(count):
        app = f"app{i % 5}"
        kind = rng.random()
        extra: dict[str, Any] = {"owner": app, "labels": {"app": app}}
        if kind < 0.2:
            extra["anti_affinity"] = {
                "requiredDuringSchedulingIgnoredDuringExecution": [term({"app": app}, HOSTNAME)]
            }
        elif kind < 0.4:
            constraint = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
            extra["spread"] = [{**constraint, "labelSelector": {"matchLabels": {"app": app}}}]
        elif kind < 0.5:
            extra["pod_affinity"] = {
                "requiredDuringSchedulingIgnoredDuringExecution": [term({"app": app}, ZONE)]
            }
        elif kind < 0.6:
            extra["anti_affinity"] = {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "podAffinityTerm": term({"app": app}, ZONE)}]}  # fmt: skip
        elif kind < 0.7:
            extra.update(extra={"nvidia.com/gpu": str(rng.choice([1, 2, 5]))},
                         tolerations=[{"key": "gpu", "operator": "Exists"}])  # fmt: skip
        elif kind < 0.8:
            extra["node_selector"] = {"kubernetes.io/arch": "arm64"}
        cpu = f"{rng.choice([100, 500, 1500, 3000])}m"
        pods.append(pod(f"p{i}", cpu=cpu, memory=f"{rng.choice([128, 2048])}Mi", **extra))
    return pods


def run(scheduler: Scheduler, pods: list[dict[str, Any]]) -> list[str]:
    snap = scheduler.snapshot
    policies = [DEFAULT_POLICY, parse_policy({"mode": "cost-first"}, snap.known_regions()),
                parse_policy({"userRegions": ["users"], "resourceStrategy": "bin-packing"},
                             snap.known_regions())]  # fmt: skip
    results = []
    for i, item in enumerate(pods):
        if i == len(pods) // 2:  # node changes between decisions: rows and plans renewed
            snap.upsert_node("c0", node("c0-n1", cpu="8", labels={ZONE: "c0-z1"}, pods="6"))
            snap.remove_node("c1", "c1-n4")
        result = scheduler.schedule(item, policies[i % len(policies)])
        if isinstance(result, Placement):
            edge = {**item, "metadata": {**item["metadata"], "annotations": {
                "fusionvc.io/owner-uid": item["metadata"]["labels"]["app"]}}}  # fmt: skip
            snap.assume(result.cluster, result.node, edge)
        results.append(repr(result))
    return results


def test_array_forms_decide_as_the_per_node_forms_do() -> None:
    pods = workload(random.Random(7), 160)
    fast = Scheduler(fleet(), rng=random.Random(3))
    slow = without_array_forms(Scheduler(fleet(), rng=random.Random(3)))
    assert fast.profile.array_filters and not slow.profile.array_filters
    ours, reference = run(fast, pods), run(slow, pods)
    assert ours == reference
    assert any("Placement" in r for r in ours) and any("Unschedulable" in r for r in ours)


def test_a_large_fleet_stops_where_a_node_by_node_walk_would() -> None:
    """Early stop (percentageOfNodesToScore) within a group: the same evaluated count."""
    pods = workload(random.Random(11), 60)
    fast = Scheduler(fleet(clusters=12, per_cluster=40), rng=random.Random(5))
    slow = without_array_forms(Scheduler(fleet(clusters=12, per_cluster=40), rng=random.Random(5)))
    ours, reference = run(fast, pods), run(slow, pods)
    assert ours == reference
    to_find = fast.profile.num_feasible_nodes_to_find(fast.snapshot.num_nodes)
    assert to_find < fast.snapshot.num_nodes
    assert any(f"feasible_nodes={to_find}," in r for r in ours)


def test_group_runs_of_candidates_are_computed_once_and_match_a_plain_list() -> None:
    snap = fleet()
    nodes = [info for c in snap.clusters.values() for info in c.nodes.values()]
    mixed = nodes[:5] + nodes[14:20] + nodes[30:]  # runs of three clusters' groups
    candidates = Candidates(mixed, slots_of(mixed))
    starts, lengths = group_runs(snap.arrays, candidates)
    plain_starts, plain_lengths = group_runs(snap.arrays, list(mixed))
    assert starts == plain_starts and lengths.tolist() == plain_lengths.tolist()
    assert sum(lengths.tolist()) == len(mixed)
    assert group_runs(snap.arrays, candidates) is candidates.runs  # the second plugin's ask
