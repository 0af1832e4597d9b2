"""Failover: seconds from an edge cluster's loss to all replicas Running elsewhere, and another
tenant's pod latency during the outage versus before it, in one run.

tenant-b (cost-first) runs a Deployment of --pods replicas on edge-gz (the cheapest);
edge-gz's kube-apiserver is stopped (hack/sandbox stop). Meanwhile tenant-a (latency-first,
edge-bj) creates pods one at a time and the create->Running latency is measured, before and
during the outage. Needs a sandbox and a running syncer (`make up`; or --dir with a syncer
started on that sandbox).
Goals (issue 11): moved <= grace + 30 s; tenant-a's p99 during / before <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Any

from kubernetes_asyncio.config import new_client_from_config

from syncer.kube.apis import NAMESPACES, PODS, ResourceType
from syncer.kube.client import KubeClient, KubeError
from tests.builders import deployment, pod

sys.path.insert(0, os.path.dirname(__file__))
from common import REPO, kubeconfig, sandbox_status

DEPLOYMENTS = ResourceType("apps", "v1", "deployments", "Deployment")
LOST = "edge-gz"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sandbox(state_dir: str, *args: str) -> None:
    subprocess.run([str(REPO / "hack/sandbox"), "--dir", state_dir, *args], check=True,
                   capture_output=True, text=True)


def kubectl(config: str, *args: str) -> None:
    subprocess.run(["kubectl", f"--kubeconfig={config}", *args], check=True,
                   capture_output=True, text=True)


async def running(client: KubeClient, ns: str, avoid: str | None = None) -> int:
    pods = (await client.list(PODS, ns)).get("items", [])
    return sum(1 for p in pods if p["status"].get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")
               and (avoid is None or (p["metadata"].get("annotations") or {}).get(
                   "fusionvc.io/edge-cluster") != avoid))


async def until(check: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.5)
    return time.monotonic()


async def one_pod_latency(client: KubeClient, ns: str, name: str) -> float:
    start = time.monotonic()
    await client.create(PODS, pod(ns, name), namespace=ns)
    while True:
        p = await client.get(PODS, name, ns)
        if p["status"].get("phase") == "Running":
            return time.monotonic() - start
        await asyncio.sleep(0.05)


async def latencies(client: KubeClient, ns: str, prefix: str, stop: asyncio.Event,
                    at_most: int) -> list[float]:
    out: list[float] = []
    while not stop.is_set() and len(out) < at_most:
        out.append(await one_pod_latency(client, ns, f"{prefix}-{len(out)}"))
    return out


async def run(args: argparse.Namespace) -> None:
    status = sandbox_status(args.dir)
    mgmt, ta, tb = (kubeconfig(status, n) for n in ("management", "tenant-a", "tenant-b"))
    a = KubeClient(await new_client_from_config(config_file=ta), "tenant-a", 60)
    b = KubeClient(await new_client_from_config(config_file=tb), "tenant-b", 60)
    ns, stamp = f"bench-fo-{int(time.time())}", str(int(time.time()))
    kubectl(mgmt, "patch", "edgecluster", LOST, "--type=merge", "-p", json.dumps({"spec": {
        "failover": {"gracePeriodSeconds": args.grace, "recoveryStableSeconds": 10}}}))
    try:
        for client in (a, b):
            await client.create(NAMESPACES, {"metadata": {"name": ns}})
        await b.create(DEPLOYMENTS, deployment(ns, "load", args.pods), namespace=ns)
        await until(lambda: running(b, ns), 900, f"{args.pods} pods running")
        on_lost = args.pods - await running(b, ns, avoid=LOST)
        before = await latencies(a, ns, f"before{stamp}", asyncio.Event(), args.samples)
        lost_at = time.monotonic()
        sandbox(args.dir, "stop", f"{LOST}-apiserver")
        stop = asyncio.Event()
        during_task = asyncio.create_task(latencies(a, ns, f"during{stamp}", stop, 10_000))

        async def all_elsewhere() -> bool:
            return await running(b, ns, avoid=LOST) == args.pods
        moved_at = await until(all_elsewhere, args.grace + 600, "all replicas elsewhere")
        stop.set()
        during = await during_task
    finally:
        sandbox(args.dir, "start", f"{LOST}-apiserver")
        kubectl(mgmt, "patch", "edgecluster", LOST, "--type=merge", "-p",
                json.dumps({"spec": {"failover": None}}))
        for client in (a, b):
            with contextlib.suppress(KubeError):
                await client.delete(NAMESPACES, ns)
            await client.close()
    p99_before, p99_during = percentile(before, 0.99), percentile(during, 0.99)
    print(f"pods on {LOST} when it was lost: {on_lost} of {args.pods}; grace {args.grace}s")
    print(f"edge loss -> all {args.pods} replicas Running elsewhere: "
          f"{moved_at - lost_at:.1f} s (goal <= {args.grace + 30} s)")
    print(f"tenant-a pod create->Running: before p50 {percentile(before, 0.5):.2f}s "
          f"p99 {p99_before:.2f}s (n={len(before)}); during p50 {percentile(during, 0.5):.2f}s "
          f"p99 {p99_during:.2f}s (n={len(during)}); ratio p99 {p99_during / p99_before:.2f} "
          "(goal <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--grace", type=int, default=30, help="gracePeriodSeconds for the run")
    parser.add_argument("--samples", type=int, default=30, help="tenant-a pods before the loss")
    parser.add_argument("--dir", default=str(REPO / ".sandbox"), help="sandbox state folder")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
