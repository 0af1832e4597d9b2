"""Benchmark: time to pre-warm N edge nodes at a given parallelism (issue 15: 200 at 20).

    .venv/bin/python hack/bench/prewarm_bench.py [--nodes 200] [--parallelism 20]
        [--edge edge-gz] [--dir .sandbox]

Needs a sandbox with a running syncer (`hack/sandbox up --with-syncer`). Adds N kwok
nodes to one edge cluster (instance type "bench-prewarm"), creates an ImagePrewarm in
tenant-a that targets exactly them, and measures from its creation until its status says
Succeeded (every node's pull Job complete; kwok completes the pods). Prints the time, the
time to the first node done, nodes/s, and the CPU seconds the syncer, the edge's API
server, controller-manager and kwok spent meanwhile, with the load average. Removes
the ImagePrewarm, its namespace and the nodes afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from typing import Any

from common import cpu_seconds, kubeconfig, live_processes, sandbox_status
from kubernetes_asyncio.config import new_client_from_config

from syncer.kube.apis import IMAGEPREWARMS, NAMESPACES, NODES
from syncer.kube.client import KubeClient, KubeError

INSTANCE_TYPE = "bench-prewarm"
IMAGE = "registry.local:5000/llm/bench-model:1"


def bench_node(name: str, region: str) -> dict[str, Any]:
    capacity = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name,
                         "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                                    "kubernetes.io/hostname": name, "type": "kwok",
                                    "topology.kubernetes.io/region": region,
                                    "node.kubernetes.io/instance-type": INSTANCE_TYPE},
                         "annotations": {"kwok.x-k8s.io/node": "fake",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "status": {"capacity": capacity, "allocatable": capacity}}


async def each(limit: int, calls: list[Any]) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(call: Any) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(c) for c in calls))


async def _quiet(call: Any) -> None:
    with contextlib.suppress(KubeError):
        await call


async def add_nodes(edge: KubeClient, names: list[str], region: str) -> None:
    async def create(name: str) -> None:
        try:
            await edge.create(NODES, bench_node(name, region))
        except KubeError as err:
            if not err.conflict:
                raise
    await each(20, [create(n) for n in names])


async def wait_succeeded(tenant: KubeClient, ns: str, started: float,
                         timeout: float) -> tuple[float, float | None, dict[str, Any]]:
    first: float | None = None
    while time.perf_counter() - started < timeout:
        status = (await tenant.get(IMAGEPREWARMS, "bench", ns)).get("status") or {}
        if first is None and int(status.get("succeeded") or 0) > 0:
            first = time.perf_counter() - started
        if status.get("phase") in ("Succeeded", "Failed"):
            return time.perf_counter() - started, first, status
        await asyncio.sleep(0.5)
    raise SystemExit(f"not finished after {timeout:.0f} s: {status}")


def measured_cpu(state_dir: str | None, edge: str) -> dict[str, float]:
    """CPU seconds so far of the processes that do the work: the syncer, and the edge's API
    server, controller-manager (Job controller) and kwok."""
    names = ("syncer", f"{edge}-apiserver", f"{edge}-controller-manager", f"{edge}-kwok")
    return {name: cpu_seconds(pid) for name, pid in live_processes(state_dir) if name in names}


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> str:
    return ", ".join(f"{name} {after[name] - before.get(name, 0):.1f}" for name in sorted(after))


async def main(args: argparse.Namespace) -> None:
    status = sandbox_status(args.dir)
    edge_api = await new_client_from_config(config_file=kubeconfig(status, args.edge))
    tenant_api = await new_client_from_config(config_file=kubeconfig(status, "tenant-a"))
    edge, tenant = KubeClient(edge_api, args.edge, 30), KubeClient(tenant_api, "tenant-a", 30)
    run = uuid.uuid4().hex[:5]
    names = [f"pw-{run}-{i:03d}" for i in range(args.nodes)]
    ns = f"bench-prewarm-{run}"
    try:
        region = next(c.get("region", "") for c in status["clusters"] if c["name"] == args.edge)
        await add_nodes(edge, names, region)
        await tenant.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": ns}})
        await asyncio.sleep(3)  # the syncer's node informer and virtual nodes catch up
        cpu_before = measured_cpu(args.dir, args.edge)
        started = time.perf_counter()
        await tenant.create(IMAGEPREWARMS, {
            "apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ImagePrewarm",
            "metadata": {"name": "bench", "namespace": ns},
            "spec": {"images": [{"image": IMAGE, "sizeBytes": 5_000_000_000}],
                     "parallelism": args.parallelism, "timeoutSeconds": 600,
                     "target": {"clusters": [args.edge], "nodeSelector": {"matchLabels": {
                         "node.kubernetes.io/instance-type": INSTANCE_TYPE}}}}}, namespace=ns)
        took, first, final = await wait_succeeded(tenant, ns, started, args.timeout)
        cpu = cpu_delta(cpu_before, measured_cpu(args.dir, args.edge))
        load = os.getloadavg()
        print(f"{'nodes':>5} {'parallel':>8} {'phase':>9} {'seconds':>8} {'first s':>8} "
              f"{'nodes/s':>8}")
        print(f"{final.get('desired', 0):>5} {args.parallelism:>8} {final.get('phase'):>9} "
              f"{took:>8.1f} {first or 0:>8.1f} {int(final.get('succeeded') or 0) / took:>8.2f}")
        print(f"cpu seconds during the run: {cpu}; load average {load[0]:.1f} {load[1]:.1f}")
    finally:
        try:
            with contextlib.suppress(KubeError):
                await tenant.delete(NAMESPACES, ns)
            await each(20, [_quiet(edge.delete(NODES, n)) for n in names])
        finally:
            await edge_api.close()
            await tenant_api.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--parallelism", type=int, default=20)
    parser.add_argument("--edge", default="edge-gz")
    parser.add_argument("--dir", default=None, help="sandbox state folder (default .sandbox)")
    parser.add_argument("--timeout", type=float, default=900)
    asyncio.run(main(parser.parse_args()))
