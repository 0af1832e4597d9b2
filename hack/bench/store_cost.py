"""CPU and memory of the informer caches' stores and indexes (syncer/kube/store.py), on the
pods of a running sandbox, with the pod indexers the built-in kinds register.

Reads every pod of one cluster, then times in this one process, best of --rounds:

- ``first``: each pod stored into an empty store (a list after a restart);
- ``same``: each pod stored again with a new status (most watch events: no index moves);
- ``bytes``: what the store and its indexes hold per pod beyond the pods (tracemalloc).

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/store_cost.py \\
        --state-dir .sandbox --cluster edge-bj

To compare two versions of the store, run it from each checkout.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Any

from compact_cost import best_of, raw_pods

from syncer.kinds import BUILTIN_SYNCERS
from syncer.kube.apis import PODS
from syncer.kube.store import IndexFunc, Store

Obj = dict[str, Any]


def pod_indexers(role: str) -> dict[str, IndexFunc]:
    """The pod indexes of every built-in kind's watches on one side ("tenant" or "edge")."""
    found: dict[str, IndexFunc] = {}
    for kind in BUILTIN_SYNCERS:
        watches = getattr(kind, f"{role}_watches", ())
        for spec in watches if isinstance(watches, tuple) else ():
            if spec.resource.plural == PODS.plural:
                found.update(dict(spec.indexers))
    return found


def first(pods: list[Obj], indexers: dict[str, IndexFunc]) -> float:
    store, started = Store(indexers), time.process_time()
    for pod in pods:
        store.upsert(pod)
    return (time.process_time() - started) / len(pods)


def same(pods: list[Obj], indexers: dict[str, IndexFunc]) -> float:
    store = Store(indexers)
    for pod in pods:
        store.upsert(pod)
    newer = [{**pod, "status": {**pod.get("status", {}), "phase": "Running"}} for pod in pods]
    started = time.process_time()
    for pod in newer:
        store.upsert(pod)
    return (time.process_time() - started) / len(pods)


def held_bytes(pods: list[Obj], indexers: dict[str, IndexFunc]) -> float:
    tracemalloc.start()
    store = Store(indexers)
    for pod in pods:
        store.upsert(pod)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del store
    return held / len(pods)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--state-dir", default=".sandbox")
    parser.add_argument("--cluster", default="edge-bj")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    pods = raw_pods(args.state_dir, args.cluster)
    indexers = pod_indexers("tenant" if args.cluster.startswith("tenant") else "edge")
    print(f"{len(pods)} pods of {args.cluster}, indexers: {', '.join(sorted(indexers))}")
    print(f"first  {1e6 * best_of(args.rounds, lambda: first(pods, indexers)):7.2f} us per pod")
    print(f"same   {1e6 * best_of(args.rounds, lambda: same(pods, indexers)):7.2f} us per pod")
    print(f"bytes  {held_bytes(pods, indexers):7.0f} per pod (store and indexes)")


if __name__ == "__main__":
    main()
