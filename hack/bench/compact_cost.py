"""CPU of the informer caches' compaction (syncer/kube/compact.py), with and without a
similar object to compare with, on the pods of a running sandbox.

Reads every pod of one cluster as its API server gives it (managedFields included, as a
list page), then times in this one process, best of --rounds:

- ``list``: compacting the pods one after another as a list after a restart does, each
  alone (``compact(obj)``) and like its neighbour (``compact(obj, previous)``);
- ``lifecycle``: each pod's create (no node, Pending), bind (nodeName, PodScheduled) and
  Running versions, compacted as watch events: alone, and the later versions like the
  cached one (``same_object=True``), the new ones like the last pod compacted.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/compact_cost.py \
        --state-dir .sandbox --cluster tenant-a

Prints microseconds of CPU per pod for each mode and the ratio like/alone.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import orjson
from common import kubeconfig, sandbox_status

from syncer.kube.compact import Compactor

Obj = dict[str, Any]


def raw_pods(state_dir: str, cluster: str) -> list[Obj]:
    config = kubeconfig(sandbox_status(state_dir), cluster)
    out = subprocess.run(["kubectl", "--kubeconfig", config, "get", "--raw", "/api/v1/pods"],
                         capture_output=True, check=True, timeout=300).stdout
    items: list[Obj] = orjson.loads(out)["items"]
    return items


def lifecycle(pod: Obj) -> list[bytes]:
    """The pod's versions as its watch events give them: created, bound, running."""
    created, bound = copy.deepcopy(pod), copy.deepcopy(pod)
    created["spec"].pop("nodeName", None)
    created["status"] = {"phase": "Pending", "qosClass": pod["status"].get("qosClass", "")}
    conditions = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    bound["status"] = {**created["status"], "conditions": conditions}
    return [orjson.dumps(created), orjson.dumps(bound), orjson.dumps(pod)]


def best_of(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def list_cost(pages: list[bytes], like: bool) -> float:
    compactor, previous = Compactor(), None
    parsed = [orjson.loads(p) for p in pages]
    started = time.process_time()
    for obj in parsed:
        previous = compactor.compact(obj, previous) if like else compactor.compact(obj)
    return time.process_time() - started


def lifecycle_cost(versions: list[list[bytes]], like: bool) -> float:
    compactor, previous = Compactor(), None
    cached: list[Obj | None] = [None] * len(versions)
    parsed = [[orjson.loads(v) for v in pod] for pod in versions]
    started = time.process_time()
    for step in range(3):
        for i, pod in enumerate(parsed):
            obj, was = pod[step], cached[i]
            if not like:
                cached[i] = compactor.compact(obj)
            elif was is not None:
                cached[i] = compactor.compact(obj, was, same_object=True)
            else:
                cached[i] = previous = compactor.compact(obj, previous)
    return time.process_time() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", default=None)
    p.add_argument("--cluster", default="tenant-a")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    pods = [p for p in raw_pods(args.state_dir, args.cluster) if p["status"].get("conditions")]
    if not pods:
        raise SystemExit(f"no scheduled pod in {args.cluster}: create some first")
    pages = [orjson.dumps(p) for p in pods]
    versions = [lifecycle(p) for p in pods]
    out: dict[str, Any] = {"cluster": args.cluster, "pods": len(pods)}
    runs: dict[str, Callable[[bool], float]] = {
        "list": lambda like: list_cost(pages, like),
        "lifecycle": lambda like: lifecycle_cost(versions, like)}
    for name, run in runs.items():
        alone = best_of(args.rounds, lambda: run(False)) / len(pods)  # noqa: B023
        like = best_of(args.rounds, lambda: run(True)) / len(pods)  # noqa: B023
        out[name] = {"alone_us_per_pod": round(alone * 1e6, 1),
                     "like_us_per_pod": round(like * 1e6, 1), "ratio": round(like / alone, 3)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
