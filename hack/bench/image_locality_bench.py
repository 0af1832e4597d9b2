"""Benchmark: scheduler decisions/s with the ImageLocality plugin on and off, side by side.

Usage: python hack/bench/image_locality_bench.py [--pods N] [--rounds R] [--churn K]

For each size (5,000 and 20,000 nodes) the same synthetic fleet as
scheduler_bench.py is built afresh (same seed) for every run, with a fifth of the
nodes reporting one to three of six model images (2-8 GB) in status.images; 80% of
the pending pods use one of those images (some nodes have them: the plugin has
work to do), the rest an image no node has. The same pods are scheduled (and
assumed) once with the default profile and once without imageLocality, "off" and
"on" interleaved over R rounds (the order alternating), all in this process. The
collector is emptied (gc.collect) before each measured run, so that neither side
pays for the garbage of the snapshot build; the collections during a run are
measured CPU and printed ("gc ms", the mean per run).

Printed per size: the best CPU decisions/s of each side (the machine is shared:
the best run is the least disturbed), best on / best off (goal: >= 0.90), the
median of the per-round ratios, the share of image pods placed on a node that
has their image ("on holder %": the plugin's effect), ImageLocality's own
PreScore + Score CPU as a share of the CPU of one more "on" run, with timers around
them ("plugin cpu %"; the timers are left out of the compared runs, as they cost
CPU too), and the load average before and after the size.

--churn K: while scheduling, every K-th decision one node changes, as informers
report it, the same in both runs: alternately a fact the plugin does not read (a
label: a new NodeInfo, a new snapshot layout) and a node that finished a pre-warm
(gains a model image). 0 (the default): no change during the runs.

To measure another revision's scheduler with this same bench (e.g. "before"):
``git archive main scheduler | tar -x -C /tmp/main-sched`` and run with
``FUSIONVC_BENCH_SCHEDULER_ROOT=/tmp/main-sched`` (scheduler_bench.py puts it first
on the import path).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scheduler_bench import build_snapshot, make_pod, policies

from scheduler import ClusterSnapshot, Placement, Scheduler, build_profile
from scheduler.images import normalize_image
from scheduler.profile import DEFAULT_PLUGIN_ORDER

SIZES = ((5_000, 50), (20_000, 500))
GB = 1024**3
MODELS = [(f"registry.local/llm/model-{i}:1", (2 + i) * GB) for i in range(6)]


def with_images(node: dict[str, Any], images: list[tuple[str, int]]) -> dict[str, Any]:
    """A copy of the node reporting these images too (the original is left alone)."""
    status = dict(node["status"])
    status["images"] = [*status.get("images", ()),
                        *({"names": [name], "sizeBytes": size} for name, size in images)]
    return {**node, "status": status}


def add_images(snapshot: ClusterSnapshot, rng: random.Random) -> int:
    """A fifth of the nodes report 1..3 model images; returns how many do."""
    count = 0
    for cluster in list(snapshot.clusters.values()):
        for info in list(cluster.nodes.values()):
            if rng.random() >= 0.2:
                continue
            images = rng.sample(MODELS, rng.randint(1, 3))
            snapshot.upsert_node(cluster.name, with_images(dict(info.node), images))
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


def churn(snapshot: ClusterSnapshot, step: int) -> None:
    """One node changes, as its informer reports it (see --churn)."""
    clusters = list(snapshot.clusters.values())
    cluster = clusters[step * 7 % len(clusters)]
    names = list(cluster.nodes)
    node = dict(cluster.nodes[names[step * 13 % len(names)]].node)
    if step % 2:
        node = with_images(node, [MODELS[step % len(MODELS)]])
    else:
        metadata = dict(node["metadata"])
        metadata["labels"] = {**metadata.get("labels", {}), "bench/tick": str(step)}
        node["metadata"] = metadata
    snapshot.upsert_node(cluster.name, node)


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


@contextmanager
def gc_timed(spent: list[float]) -> Iterator[None]:
    """Adds the CPU time of the collections run inside the block to spent[0]."""
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            spent[0] += time.process_time() - started[0]

    gc.collect()
    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)


def on_holder(snapshot: ClusterSnapshot, pod: dict[str, Any], result: Placement) -> bool:
    info = snapshot.node(result.cluster, result.node)
    image = normalize_image(pod["spec"]["containers"][0]["image"])
    return info is not None and image in info.facts.images


@dataclass
class Run:
    """One measured run: CPU seconds, of which GC and the plugin, image pods on a holder."""

    cpu: float = 0.0
    gc: list[float] = field(default_factory=lambda: [0.0])
    plugin: list[float] = field(default_factory=lambda: [0.0])
    on_holder: int = 0


def run(nodes: int, clusters: int, locality: bool, pods: list[dict[str, Any]],
        churn_every: int, timed: bool = False) -> Run:
    """Schedule and assume every pod on a fresh snapshot (dropped afterwards); timed: count
    the plugin's own CPU (its timers cost too: not in the runs the ratio compares)."""
    rng = random.Random(nodes)
    snapshot = build_snapshot(nodes, clusters, rng)
    add_images(snapshot, rng)
    profile = build_profile([n for n in DEFAULT_PLUGIN_ORDER
                             if locality or n != "imageLocality"])
    result = Run()
    if timed:
        timed_plugin(profile, result.plugin)
    scheduler = Scheduler(snapshot, profile, rng=random.Random(1))
    tenant_policies = policies(snapshot)
    with gc_timed(result.gc):
        started = time.process_time()
        for i, pod in enumerate(pods):
            if churn_every and i % churn_every == churn_every - 1:
                churn(snapshot, i // churn_every)
            placed = scheduler.schedule(pod, tenant_policies[i % len(tenant_policies)])
            if isinstance(placed, Placement):
                edge_pod = {**pod, "metadata": {"name": pod["metadata"]["name"],
                                                "namespace": "tenant-ns"}}
                snapshot.assume(placed.cluster, placed.node, edge_pod)
                result.on_holder += on_holder(snapshot, pod, placed)
        result.cpu = time.process_time() - started
    return result


def measure(nodes: int, clusters: int, pods: list[dict[str, Any]], rounds: int,
            churn_every: int) -> dict[str, list[Run]]:
    """R rounds of one "off" and one "on" run, the order alternating."""
    runs: dict[str, list[Run]] = {"off": [], "on": []}
    for i in range(rounds):
        for side in (("off", "on") if i % 2 == 0 else ("on", "off")):
            runs[side].append(run(nodes, clusters, side == "on", pods, churn_every))
    runs["timed"] = [run(nodes, clusters, True, pods, churn_every, timed=True)]
    return runs


def report(nodes: int, pods: list[dict[str, Any]], runs: dict[str, list[Run]],
           load_before: float) -> None:
    count = len(pods)
    off, on = runs["off"], runs["on"]
    best_off = max(count / r.cpu for r in off)
    best_on = max(count / r.cpu for r in on)
    median = statistics.median(r_off.cpu / r_on.cpu for r_off, r_on in zip(off, on, strict=True))
    image_pods = sum(1 for p in pods if p["spec"]["containers"][0]["image"].startswith("registry"))
    holder = {side: 100 * sum(r.on_holder for r in runs[side]) / (image_pods * len(runs[side]))
              for side in ("off", "on")}
    gc_ms = {side: 1000 * sum(r.gc[0] for r in runs[side]) / len(runs[side])
             for side in ("off", "on")}
    timed = runs["timed"][0]
    share = 100 * timed.plugin[0] / timed.cpu
    print(f"{nodes:>6} {count:>5} {best_off:>8.0f} {best_on:>7.0f} {best_on / best_off:>6.2f} "
          f"{median:>6.2f} {gc_ms['off']:>6.1f} {gc_ms['on']:>5.1f} {holder['off']:>6.1f} "
          f"{holder['on']:>5.1f} {share:>7.1f} {load_before:>5.2f} {os.getloadavg()[0]:>5.2f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--churn", type=int, default=0, metavar="K",
                        help="one node changes every K decisions (0: none)")
    parser.add_argument("--nodes", type=int, help="only the size with this many nodes")
    args = parser.parse_args()
    print(f"cpu decisions/s, best of {args.rounds} interleaved rounds per side; "
          f"churn: {f'one node every {args.churn} decisions' if args.churn else 'none'}")
    print(f"{'':>12} {'dec/s (cpu)':>17} {'on/off':>13} {'gc ms/run':>12} {'on holder %':>12} "
          f"{'plugin':>7} {'load avg':>11}")
    print(f"{'nodes':>6} {'pods':>5} {'off':>8} {'on':>7} {'best':>6} {'median':>6} {'off':>6} "
          f"{'on':>5} {'off':>6} {'on':>5} {'cpu %':>7} {'before':>5} {'after':>5}")
    for nodes, clusters in SIZES:
        if args.nodes not in (None, nodes):
            continue
        load_before = os.getloadavg()[0]
        pods = pending_pods(args.pods, random.Random(7))
        runs = measure(nodes, clusters, pods, args.rounds, args.churn)
        report(nodes, pods, runs, load_before)


if __name__ == "__main__":
    main()
