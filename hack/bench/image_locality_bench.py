"""Benchmark: scheduler decisions/s with the ImageLocality plugin on and off, side by side.

Usage: python hack/bench/image_locality_bench.py [--pods N]

For each size (5,000 and 20,000 nodes) the same synthetic fleet as
scheduler_bench.py is built afresh (same seed) for every run, with a fifth of the nodes
reporting one to three of six model images (2-8 GB) in status.images; 80% of the
pending pods use one of those images. The same pods are scheduled (and
assumed) once with the default profile and once with the default profile
without imageLocality, in alternating order over three rounds; the best CPU
decisions/s of this process counts (the machine is shared), and the on/off ratio
(goal: on >= 0.9 x off). The on/off ratio also carries the effect of different
placements (pods gather on image nodes); "plugin cpu %" is ImageLocality's own
PreScore + Score CPU time as a share of the "on" runs' scheduling CPU time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scheduler_bench import build_snapshot, make_pod, policies

from scheduler import ClusterSnapshot, Placement, Scheduler, build_profile
from scheduler.profile import DEFAULT_PLUGIN_ORDER

SIZES = ((5_000, 50), (20_000, 500))
GB = 1024**3
MODELS = [(f"registry.local/llm/model-{i}:1", (2 + i) * GB) for i in range(6)]


def add_images(snapshot: ClusterSnapshot, rng: random.Random) -> int:
    """A fifth of the nodes report 1..3 model images; returns how many do."""
    count = 0
    for cluster in list(snapshot.clusters.values()):
        for info in list(cluster.nodes.values()):
            if rng.random() >= 0.2:
                continue
            node = dict(info.node)
            status = dict(node["status"])
            status["images"] = [{"names": [name], "sizeBytes": size}
                                for name, size in rng.sample(MODELS, rng.randint(1, 3))]
            node["status"] = status
            snapshot.upsert_node(cluster.name, node)
            count += 1
    return count


def pending_pods(count: int, rng: random.Random) -> list[dict[str, Any]]:
    pods = []
    for i in range(count):
        pod = make_pod(f"pod-{i}", rng, f"owner-{i % 400}")
        if rng.random() < 0.8:
            pod["spec"]["containers"][0]["image"] = rng.choice(MODELS)[0]
        pods.append(pod)
    return pods


def timed_plugin(profile: Any, spent: list[float]) -> None:
    """Counts the CPU time of ImageLocality's PreScore and Score into spent[0]."""
    for plugin in profile.scores:
        if plugin.name != "imageLocality":
            continue
        for method in ("pre_score", "score"):
            setattr(plugin, method, _timing(getattr(plugin, method), spent))


def _timing(call: Any, spent: list[float]) -> Any:
    def wrapped(*args: Any) -> Any:
        started = time.process_time()
        try:
            return call(*args)
        finally:
            spent[0] += time.process_time() - started
    return wrapped


def run(nodes: int, clusters: int, pods: list[dict[str, Any]], locality: bool,
        spent: list[float]) -> float:
    """CPU decisions/s of scheduling and assuming every pod on a fresh snapshot."""
    rng = random.Random(nodes)
    snapshot = build_snapshot(nodes, clusters, rng)
    add_images(snapshot, rng)
    names = [n for n in DEFAULT_PLUGIN_ORDER if locality or n != "imageLocality"]
    profile = build_profile(names)
    timed_plugin(profile, spent)
    scheduler = Scheduler(snapshot, profile, rng=random.Random(1))
    tenant_policies = policies(snapshot)
    started = time.process_time()
    for i, pod in enumerate(pods):
        result = scheduler.schedule(pod, tenant_policies[i % len(tenant_policies)])
        if isinstance(result, Placement):
            edge_pod = {**pod, "metadata": {"name": pod["metadata"]["name"],
                                            "namespace": "tenant-ns"}}
            snapshot.assume(result.cluster, result.node, edge_pod)
    return len(pods) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1_000)
    args = parser.parse_args()
    print(f"{'nodes':>6} {'pods':>6} {'off cpu dec/s':>13} {'on cpu dec/s':>12} {'on/off':>7} "
          f"{'plugin cpu %':>12}")
    for nodes, clusters in SIZES:
        pods = pending_pods(args.pods, random.Random(7))
        off: list[float] = []
        on: list[float] = []
        spent = [0.0]
        for order in ((False, True), (True, False), (False, True)):
            for locality in order:
                (on if locality else off).append(run(nodes, clusters, pods, locality, spent))
        best_off, best_on = max(off), max(on)
        # The plugin's own share of the CPU time of the "on" runs (robust to placement noise).
        share = 100 * spent[0] / sum(len(pods) / rate for rate in on)
        print(f"{nodes:>6} {args.pods:>6} {best_off:>13.0f} {best_on:>12.0f} "
              f"{best_on / best_off:>7.2f} {share:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
