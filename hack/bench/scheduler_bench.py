"""Benchmark of the scheduler on synthetic fleets: decisions per second, latency, memory.

Usage: python hack/bench/scheduler_bench.py [--quick] [--profile] [--workload W]
       [--nodes N] [--against REF]

Each size and workload runs in its own process (so the memory figures do not
mix): it builds a snapshot of mixed amd64 CPU, GPU (tainted, 8 GPUs; the
tenant may tolerate nvidia.com/gpu) and arm64 nodes, three zones per edge
cluster, with existing pods, then schedules the pending pods one by one,
assuming each placed pod as the syncer does, under four tenant policies in
turn. Workloads: "plain" (resources, selectors, tolerations: no inter-pod
rules) and "affinity" (the same pods, replicas of 400 apps: 30% with required
anti-affinity by hostname, 30% with a DoNotSchedule zone spread, 20% with a
preferred zone anti-affinity, counted over the assumed replicas) and "gpu"
(GPU-heavy: half the pods ask for 1-4 GPUs and tolerate the GPU taint, the
rest as in "plain"). dec/s is wall-clock; cpu dec/s counts only the measuring
process's CPU time (the machine is shared). Memory: RSS growth for the
snapshot, and in all. --against REF (a git revision, e.g. main) runs each row
a second time with REF's scheduler/ package (the same workload code), right
after this tree's, and prints the CPU ratio: side by side in one run.
--profile runs the scheduling loop of the largest size under cProfile and
prints the hottest functions. --per-node prints what each filter and score
plugin costs per candidate node (CPU time of this thread, one typical pod, the
candidates a 5,000-node cycle scores), and the decisions per second those
per-node costs alone allow: the floor of the per-node work in CPython. It
times the per-node forms (filter(), score()); a cycle uses a plugin's array
form (filter_slots, score_array) where it has one.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# --against: the child imports another revision's scheduler/ package (first on the path).
sys.path.insert(0, os.environ.get("FUSIONVC_BENCH_SCHEDULER_ROOT") or sys.path[0])

from common import percentile, rss_kib

from scheduler import (
    ClusterSnapshot,
    Placement,
    Scheduler,
    SchedulingPolicy,
    parse_policy,
)

ROOT = Path(__file__).resolve().parents[2]
SIZES = ((1_000, 10), (5_000, 50), (20_000, 500))
EDGE_REGIONS = [f"edge-{i}" for i in range(12)]
USER_REGIONS = ["users-eu", "users-us", "users-asia", "users-sa"]
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
WORKLOADS = ("plain", "affinity", "gpu")
ZONE = "topology.kubernetes.io/zone"


def make_node(name: str, index: int, rng: random.Random, zone: str) -> dict[str, Any]:
    kind = index % 20
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64", ZONE: zone}
    spec: dict[str, Any] = {"unschedulable": index % 97 == 0}
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    price = rng.uniform(1.0, 2.0)
    if kind >= 17:
        labels["kubernetes.io/arch"] = "arm64"
        allocatable.update(cpu="64", memory="256Gi")
        price = rng.uniform(0.8, 1.5)
    elif kind >= 14:
        labels["nvidia.com/gpu.product"] = rng.choice(["A10", "L4", "A100"])
        allocatable.update({"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "8"})
        spec["taints"] = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
        price = rng.uniform(8.0, 20.0)
    ready = "False" if index % 113 == 0 else "True"
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"fusionvc.io/price-per-hour": f"{price:.2f}"},
        },
        "spec": spec,
        "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": ready}]},
    }


def inter_pod_rules(app: str, rng: random.Random) -> dict[str, Any]:
    """The affinity workload's rules for one replica of `app` (none for 20% of them)."""
    own = {"labelSelector": {"matchLabels": {"app": app}}}
    roll = rng.random()
    if roll < 0.3:
        term = {**own, "topologyKey": "kubernetes.io/hostname"}
        return {"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term]}}}  # fmt: skip
    if roll < 0.6:
        spread = {**own, "maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
        return {"topologySpreadConstraints": [spread]}
    if roll < 0.8:
        weighted: dict[str, Any] = {"weight": 50, "podAffinityTerm": {**own, "topologyKey": ZONE}}
        return {"affinity": {"podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [weighted]}}}  # fmt: skip
    return {}


def make_pod(
    name: str, rng: random.Random, owner: str | None, workload: str = "plain"
) -> dict[str, Any]:
    roll = rng.random()
    spec: dict[str, Any] = {}
    requests = {
        "cpu": f"{rng.choice([100, 250, 500, 1000, 2000])}m",
        "memory": f"{rng.choice([128, 256, 512, 1024, 4096])}Mi",
    }
    if workload == "gpu" and roll < 0.5:
        gpus = rng.choice([1, 1, 2, 4])
        requests.update(
            {"cpu": str(4 * gpus), "memory": f"{16 * gpus}Gi", "nvidia.com/gpu": str(gpus)}
        )
        spec["tolerations"] = [GPU_TOLERATION]
    elif roll < 0.07:
        requests.update({"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": str(rng.choice([1, 2]))})
        spec["tolerations"] = [GPU_TOLERATION]
    elif roll < 0.15:
        spec["nodeSelector"] = {"kubernetes.io/arch": "arm64"}
    spec["containers"] = [{"name": "main", "image": "app", "resources": {"requests": requests}}]
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if owner:
        metadata["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet"}]
        metadata["labels"] = {"app": owner}
        if workload == "affinity":
            spec.update(inter_pod_rules(owner, rng))
    return {"metadata": metadata, "spec": spec}


def build_snapshot(num_nodes: int, num_clusters: int, rng: random.Random) -> ClusterSnapshot:
    snapshot = ClusterSnapshot()
    per_cluster = num_nodes // num_clusters
    for c in range(num_clusters):
        cluster = f"edge-cluster-{c}"
        latency = {user: rng.uniform(5, 250) for user in USER_REGIONS}
        snapshot.set_cluster(cluster, EDGE_REGIONS[c % len(EDGE_REGIONS)], c % 50 != 49, latency)
        for n in range(per_cluster):
            node = make_node(f"{cluster}-node-{n}", c * per_cluster + n, rng, f"{cluster}-z{n % 3}")
            snapshot.upsert_node(cluster, node)
            for p in range(3 if n % 2 else 0):  # existing pods, not all fusionvc's
                pod = make_pod(f"existing-{n}-{p}", rng, None)
                pod["spec"].update(nodeName=node["metadata"]["name"], tolerations=[GPU_TOLERATION])
                pod["status"] = {"phase": "Running"}
                snapshot.upsert_pod(cluster, pod)
    return snapshot


def policies(snapshot: ClusterSnapshot) -> list[SchedulingPolicy]:
    known = snapshot.known_regions()
    gpu = {"tolerableTaints": ["nvidia.com/gpu"]}  # the operator lets tenants use GPU nodes
    return [
        parse_policy(gpu, known),
        parse_policy({"mode": "latency-first", "userRegions": ["users-eu"], **gpu}, known),
        parse_policy({"mode": "cost-first", "resourceStrategy": "bin-packing", **gpu}, known),
        parse_policy(
            {
                "mode": "balanced",
                "userRegions": ["users-us", "users-asia"],
                "maxLatencyMs": 200,
                **gpu,
            },
            known,
        ),
    ]


def schedule_all(
    snapshot: ClusterSnapshot, pods: list[dict[str, Any]], profiler: cProfile.Profile | None = None
) -> tuple[list[float], list[float], float, int]:
    """Schedule and assume each pod; per-decision wall and CPU times, total CPU time, pods
    placed."""
    scheduler = Scheduler(snapshot, rng=random.Random(1))
    tenant_policies = policies(snapshot)
    latencies: list[float] = []
    cpu_times: list[float] = []
    placed = 0
    cpu_started = time.process_time()
    if profiler:
        profiler.enable()
    for i, pod in enumerate(pods):
        t0, c0 = time.perf_counter(), time.thread_time()
        result = scheduler.schedule(pod, tenant_policies[i % len(tenant_policies)])
        if isinstance(result, Placement):
            edge_pod = {
                **pod,
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "namespace": "default",  # as the syncer's tenancy reports it
                    "labels": pod["metadata"].get("labels", {}),
                    "annotations": {"fusionvc.io/owner-uid": f"owner-{i % 400}"},
                },
            }
            snapshot.assume(result.cluster, result.node, edge_pod)
            placed += 1
        latencies.append(time.perf_counter() - t0)
        cpu_times.append(time.thread_time() - c0)
    if profiler:
        profiler.disable()
    return latencies, cpu_times, time.process_time() - cpu_started, placed


def run_size(
    num_nodes: int, num_clusters: int, num_pods: int, workload: str
) -> dict[str, float | str]:
    rng = random.Random(num_nodes)
    rss_before = rss_kib(os.getpid())
    started = time.perf_counter()
    snapshot = build_snapshot(num_nodes, num_clusters, rng)
    build_seconds = time.perf_counter() - started
    rss_snapshot = rss_kib(os.getpid())
    pods = [make_pod(f"pod-{i}", rng, f"owner-{i % 400}", workload) for i in range(num_pods)]
    latencies, cpu_times, cpu_seconds, placed = schedule_all(snapshot, pods)
    total = sum(latencies)
    return {
        "workload": workload,
        "nodes": num_nodes,
        "clusters": num_clusters,
        "pods": num_pods,
        "placed": placed,
        "build_s": build_seconds,
        "decisions_per_s": num_pods / total,
        "cpu_decisions_per_s": num_pods / cpu_seconds,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "cpu_p50_ms": 1000 * percentile(cpu_times, 0.5),
        "cpu_p99_ms": 1000 * percentile(cpu_times, 0.99),
        "snapshot_rss_mib": (rss_snapshot - rss_before) / 1024,
        "total_rss_mib": (rss_kib(os.getpid()) - rss_before) / 1024,
    }


def profile_largest(num_pods: int, workload: str) -> None:
    """cProfile of the scheduling loop (not the snapshot build) at the largest size."""
    nodes, clusters = SIZES[-1]
    rng = random.Random(nodes)
    snapshot = build_snapshot(nodes, clusters, rng)
    pods = [make_pod(f"pod-{i}", rng, f"owner-{i % 400}", workload) for i in range(num_pods)]
    profiler = cProfile.Profile()
    schedule_all(snapshot, pods, profiler)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def per_node_costs(num_nodes: int = 5_000, clusters: int = 50, repeats: int = 200) -> None:
    """CPU per candidate node of each filter and score plugin (see the module docstring)."""
    from scheduler.framework import SKIP, CycleState
    from scheduler.podinfo import PodInfo

    rng = random.Random(num_nodes)
    snapshot = build_snapshot(num_nodes, clusters, rng)
    scheduler = Scheduler(snapshot, rng=random.Random(1))
    to_find = scheduler.profile.num_feasible_nodes_to_find(num_nodes)
    candidates = [
        n
        for g in snapshot.node_groups()
        for s in g.shapes.values()
        for n in s.nodes
        if not n.facts.hard_taints and n.facts.arch == "amd64" and n.facts.ready
    ][:to_find]
    pod = PodInfo.from_pod(make_pod("typical", random.Random(3), "owner-1"))
    print(f"per candidate node, {len(candidates)} candidates, load {os.getloadavg()[0]:.1f}")
    for policy in policies(snapshot)[:2]:
        state = CycleState(snapshot, policy)
        for plugin in scheduler.profile.pre_filters:
            plugin.pre_filter(state, pod)
        total = 0.0
        print(f"  policy {policy.mode}, userRegions {list(policy.user_regions)}:")
        for filter_plugin in scheduler.profile.filters:
            if filter_plugin.name != "nodeResourcesFit":
                continue  # the others skip for this pod (their PreFilter said so)
            check = filter_plugin.filter
            started = time.thread_time()
            for _ in range(repeats):
                for node in candidates:
                    check(state, pod, node)
            seconds = (time.thread_time() - started) / repeats / len(candidates)
            total += seconds
            print(f"    Filter {filter_plugin.name:<24} {seconds * 1e9:7.0f} ns")
        for plugin in scheduler.profile.scores:
            pre = scheduler.profile.pre_scores_by_name.get(plugin.name)
            if pre is not None and pre.pre_score(state, pod, candidates) is SKIP:
                continue
            started = time.thread_time()
            for _ in range(repeats):
                scores = plugin.score(state, pod, candidates)
                plugin.normalize_score(state, pod, scores)
            seconds = (time.thread_time() - started) / repeats / len(candidates)
            total += seconds
            print(f"    Score  {plugin.name:<24} {seconds * 1e9:7.0f} ns")
        print(
            f"    sum {total * 1e9:.0f} ns per node x {len(candidates)} candidates = "
            f"{total * len(candidates) * 1e3:.2f} ms per decision: at most "
            f"{1 / (total * len(candidates)):.0f} decisions/s from per-node work alone"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 pending pods per size")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    parser.add_argument(
        "--workload", choices=(*WORKLOADS, "all"), default="all", help="default: all, in turn"
    )
    parser.add_argument("--nodes", type=int, help="only the size with this many nodes")
    parser.add_argument("--per-node", action="store_true", help="CPU per node per plugin")
    parser.add_argument("--against", help="also run each row with this git revision's scheduler")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # NODESxCLUSTERSxPODS, in a child
    args = parser.parse_args()
    num_pods = 1_000 if args.quick else 10_000
    workloads = WORKLOADS if args.workload == "all" else (args.workload,)
    if args.one:
        nodes, clusters, pods = (int(part) for part in args.one.split("x"))
        print(json.dumps(run_size(nodes, clusters, pods, workloads[0])))
        return
    if args.profile:
        profile_largest(num_pods, workloads[-1])
        return
    if args.per_node:
        per_node_costs()
        return
    reference = extract(args.against) if args.against else None
    print(f"load average before: {os.getloadavg()[0]:.2f} (the machine is shared)")
    print(
        f"{'tree':>6} {'workload':>8} {'nodes':>6} {'pods':>6} {'placed':>6} {'build s':>7} "
        f"{'dec/s':>6} {'cpu dec/s':>9} {'p50 ms':>6} {'p99 ms':>7} {'cpu p50':>7} "
        f"{'cpu p99':>7} {'snap MiB':>8} {'total MiB':>9}"
    )
    sizes = [(n, c) for n, c in SIZES if args.nodes in (None, n)]
    for (nodes, clusters), workload in ((size, w) for size in sizes for w in workloads):
        ours = run_child(nodes, clusters, num_pods, workload, None)
        print_row("this", ours)
        if reference is not None:
            theirs = run_child(nodes, clusters, num_pods, workload, reference)
            print_row(args.against[:6], theirs)
            ratio = ours["cpu_decisions_per_s"] / theirs["cpu_decisions_per_s"]
            print(f"{'':>6} {'ratio this/' + args.against:>24}: cpu dec/s x{ratio:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def extract(revision: str) -> str:
    """REF's scheduler/ package in a temporary directory (removed at exit)."""
    target = tempfile.mkdtemp(prefix="sched-bench-")
    atexit.register(shutil.rmtree, target, True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "scheduler"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, check=True)
    return target


def run_child(
    nodes: int, clusters: int, pods: int, workload: str, scheduler_root: str | None
) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("FUSIONVC_BENCH_SCHEDULER_ROOT", None)
    if scheduler_root:
        env["FUSIONVC_BENCH_SCHEDULER_ROOT"] = scheduler_root
    child = subprocess.run(
        [sys.executable, __file__, "--one", f"{nodes}x{clusters}x{pods}", f"--workload={workload}"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(child.stdout)
    return result


def print_row(tree: str, r: dict[str, Any]) -> None:
    print(
        f"{tree:>6} {r['workload']:>8} {r['nodes']:>6} {r['pods']:>6} {r['placed']:>6} "
        f"{r['build_s']:>7.2f} {r['decisions_per_s']:>6.0f} {r['cpu_decisions_per_s']:>9.0f} "
        f"{r['p50_ms']:>6.2f} {r['p99_ms']:>7.2f} {r['cpu_p50_ms']:>7.2f} {r['cpu_p99_ms']:>7.2f} "
        f"{r['snapshot_rss_mib']:>8.1f} {r['total_rss_mib']:>9.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
