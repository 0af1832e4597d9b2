"""Baseline: how fast pods with spec.nodeName reach Running when created straight
into one edge cluster (no fusionvc in the path). Every later benchmark compares
against this. Also prints the sandbox's total RSS.

    .venv/bin/python hack/bench/edge_pod_create.py [--pods 1000] [--edge edge-gz]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from common import kubeconfig, percentile, sandbox_rss_mib, sandbox_status
from kubernetes_asyncio.config import new_client_from_config

from syncer.kube.apis import NAMESPACES, NODES, PODS
from syncer.kube.client import KubeClient, KubeError


def pod(name: str, node: str) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "direct"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "c",
                    "image": "registry.local/bench:1",
                    "resources": {"requests": {"cpu": "1m"}},
                }
            ],
        },
    }


async def watch_running(
    client: KubeClient, ns: str, names: set[str], running_at: dict[str, float], done: asyncio.Event
) -> None:
    listed = await client.list(PODS, ns)
    rv = listed["metadata"]["resourceVersion"]
    while not done.is_set():
        try:
            async for ev in client.watch(
                PODS, rv, namespace=ns, timeout_seconds=300, read_timeout=330
            ):
                obj = ev["object"]
                rv = obj["metadata"].get("resourceVersion", rv)
                name = obj["metadata"].get("name")
                if obj.get("status", {}).get("phase") == "Running" and name in names:
                    running_at.setdefault(name, time.perf_counter())
                    if len(running_at) == len(names):
                        done.set()
                        return
        except KubeError:
            await asyncio.sleep(0.5)


async def run(pods: int, edge: str, concurrency: int) -> dict[str, float]:
    status = sandbox_status()
    api = await new_client_from_config(config_file=kubeconfig(status, edge))
    client = KubeClient(api, edge, 30)
    try:
        ns = f"bench-direct-{int(time.time())}"
        await client.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        )
        nodes = [n["metadata"]["name"] for n in (await client.list(NODES))["items"]]
        names = [f"p-{i:05d}" for i in range(pods)]
        running_at: dict[str, float] = {}
        created_at: dict[str, float] = {}
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_running(client, ns, set(names), running_at, done))
        await asyncio.sleep(0.5)
        sem = asyncio.Semaphore(concurrency)

        async def create(i: int, name: str) -> None:
            async with sem:
                created_at[name] = time.perf_counter()
                await client.create(PODS, pod(name, nodes[i % len(nodes)]), namespace=ns)

        start = time.perf_counter()
        await asyncio.gather(*(create(i, n) for i, n in enumerate(names)))
        created = time.perf_counter()
        await asyncio.wait_for(done.wait(), timeout=900)
        finished = time.perf_counter()
        watcher.cancel()
        latencies = [running_at[n] - created_at[n] for n in names]
        await client.delete(NAMESPACES, ns)
        return {
            "pods": pods,
            "create_seconds": created - start,
            "create_rate_pods_per_s": pods / (created - start),
            "all_running_seconds": finished - start,
            "running_rate_pods_per_s": pods / (finished - start),
            "p50_create_to_running_s": percentile(latencies, 0.5),
            "p99_create_to_running_s": percentile(latencies, 0.99),
        }
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--edge", default="edge-gz")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    figures = asyncio.run(run(args.pods, args.edge, args.concurrency))
    rss = sandbox_rss_mib()
    figures["sandbox_rss_mib_total"] = sum(rss.values())
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=1
        )
    )
    print("sandbox RSS by process (MiB):", {k: round(v) for k, v in sorted(rss.items())})


if __name__ == "__main__":
    main()
