"""The same scheduling decision, hot and between other work: what CPU caches cost.

A decision measured in a loop of its own (scheduler_bench.py) runs with the
interpreter's code and the snapshot's objects in the CPU's caches. Inside the
syncer each decision comes between parsing watch events, compacting them and
sending requests, which push both out. This bench places a Deployment's identical
pods on a sandbox-sized fleet (3 clusters of 8 nodes, latency-first) and, before
each decision, walks KIB KiB of other Python objects and parses a JSON pod list, as
the syncer's other work does; it prints the decision's own CPU (thread time, the
other work excluded) for each amount, in rounds that alternate the order. The
garbage collector is tuned as the syncer tunes it (syncer.ops.stalls.tune_gc):
with Python's defaults the other work's allocations start full collections that
land inside decisions, and the figures would show the collector, not the caches.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/scheduler_cold_cache.py \\
        --kib 0,400,4000,16000 --rounds 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import orjson
from scheduler_bench import build_snapshot

from scheduler.policy import parse_policy
from scheduler.scheduler import Placement, Scheduler
from syncer.ops.stalls import tune_gc

# About 40 KiB of nested dicts and lists per entry, like cached pods.
OTHER_WORK: list[dict[str, Any]] = [
    {f"k{i}": {"a": [i, str(i), {"b": i}]} for i in range(200)} for _ in range(400)]
PODS_JSON = orjson.dumps(OTHER_WORK[:40])


def other_work(kib: int) -> int:
    """Touches about ``kib`` KiB of Python objects and parses a JSON document."""
    seen = 0
    for entry in OTHER_WORK[: max(1, kib // 40)]:
        for value in entry.values():
            seen += len(value["a"])
    orjson.loads(PODS_JSON)
    return seen


def replica(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"web-{i}", "namespace": "default", "labels": {"app": "web"},
                         "ownerReferences": [{"uid": "rs-1", "controller": True,
                                              "kind": "ReplicaSet", "name": "web-abc"}]},
            "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {
                "requests": {"cpu": "1m", "memory": "1Mi"}}}]}}


def decision_us(decisions: int, kib: int) -> float:
    """Mean thread CPU of one decision, with ``kib`` KiB of other work before each."""
    snapshot = build_snapshot(24, 3, random.Random(3))
    policy = parse_policy({"mode": "latency-first", "userRegions": ["users-eu"]},
                          snapshot.known_regions())
    scheduler = Scheduler(snapshot, rng=random.Random(1))
    spent = 0.0
    for i in range(decisions):
        pod = replica(i)
        if kib:
            other_work(kib)
        started = time.thread_time()
        result = scheduler.schedule(pod, policy, tenant="t")
        spent += time.thread_time() - started
        if isinstance(result, Placement):
            placed = {**pod, "metadata": {**pod["metadata"],
                                          "annotations": {"fusionvc.io/owner-uid": "rs-1"}}}
            snapshot.assume(result.cluster, result.node, placed)
    return 1e6 * spent / decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kib", default="0,400,4000,16000",
                        help="KiB of other work before each decision, comma-separated")
    parser.add_argument("--decisions", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tune_gc()
    amounts = [int(k) for k in args.kib.split(",")]
    runs: dict[int, list[float]] = {k: [] for k in amounts}
    for r in range(args.rounds):
        for kib in (amounts if r % 2 == 0 else amounts[::-1]):
            runs[kib].append(decision_us(args.decisions, kib))
        print({kib: round(runs[kib][-1]) for kib in amounts}, flush=True)
    hot = statistics.median(runs[amounts[0]])
    for kib in amounts:
        median = statistics.median(runs[kib])
        print(f"{kib:>6} KiB between decisions: {median:7.0f} us per decision "
              f"({median / hot:.2f}x the first)")


if __name__ == "__main__":
    main()
