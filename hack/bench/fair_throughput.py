"""Throughput of fusionvc against the same Deployments on plain clusters (issue 16, part 1).

On the running sandbox with its syncer (`hack/sandbox up --with-syncer`):

1. fusionvc phase: tenant-a and tenant-b each create a Deployment of N replicas (the
   same pod template); timed from the first create until every tenant pod is Running.
   Where fusionvc placed the pods is read from the edges.
2. baseline phase: the syncer stopped, one kube-scheduler per edge cluster, and on
   each edge cluster one Deployment per tenant with as many replicas as fusionvc
   placed there (same template); timed the same way on the edges.

Prints the throughput ratio, CPU ms per pod by role (the sandbox's own processes,
the kube-schedulers and this benchmark, from /proc/<pid>/stat), API writes, reads and
watch events per pod from every kube-apiserver's /metrics, and the syncer's own
requests per pod (fusionvc_api_requests_total). --split-cpus pins the tenants' side
(tenant and management control planes, syncer) to CPU 0 and the edges (and their
kube-schedulers) to CPU 1; etcd and the benchmark may use both. --bare adds the old
comparison (bare pods with nodeName on the edges, hack/bench/syncer_throughput.py)
as a secondary line.

    PYTHONPATH=. .venv/bin/python hack/bench/fair_throughput.py --pods 300 [--split-cpus]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import sandbox_meter as meter
from common import REPO, cpu_seconds, live_processes, sandbox_status
from syncer_throughput import (
    DEPLOYMENTS,
    EDGES,
    Tracker,
    add_token_flag,
    clients,
    deployment,
    namespace_gone,
    track,
    until,
)

from hack.sandbox_lib.processes import free_port
from syncer.core.names import edge_namespace
from syncer.kube.apis import NAMESPACES, PODS, TENANTS
from syncer.kube.client import KubeClient

TENANTS_USED = ("tenant-a", "tenant-b")
TENANT_SIDE = ("tenant", "management", "syncer")


def pin(pids: dict[str, int], split: bool) -> None:
    """--split-cpus: tenants' side on CPU 0, edges on CPU 1 (etcd: both); else all on both."""
    for name, pid in pids.items():
        r = meter.role(name)
        cpus = "0,1"
        if split and r not in ("etcd", "bench"):
            cpus = "0" if r.startswith(TENANT_SIDE) else "1"
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True,
                       check=False)


class Schedulers:
    """One kube-scheduler per edge cluster, for the baseline phase only."""

    def __init__(self, state_dir: Path, status: dict[str, Any]) -> None:  # type: ignore[misc]
        self.dir = state_dir / "bench-kube-scheduler"
        self.status = status
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, bindir: str) -> dict[str, int]:
        self.dir.mkdir(parents=True, exist_ok=True)
        for c in self.status["clusters"]:
            if c["role"] != "edge":
                continue
            config = self.dir / f"{c['name']}.yaml"
            # The same client rate limits the sandbox gives its controller-managers.
            config.write_text(json.dumps({
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "clientConnection": {"kubeconfig": c["kubeconfig"], "qps": 200, "burst": 400},
                "leaderElection": {"leaderElect": False},
            }))
            log = (self.dir / f"{c['name']}.log").open("wb")
            self.procs[c["name"]] = subprocess.Popen(
                [f"{bindir}/kube-scheduler", f"--config={config}", "--bind-address=127.0.0.1",
                 f"--secure-port={free_port()}", f"--cert-dir={self.dir / c['name']}",
                 f"--authentication-kubeconfig={c['kubeconfig']}",
                 f"--authorization-kubeconfig={c['kubeconfig']}", "--v=1"],
                stdout=log, stderr=subprocess.STDOUT)
        return {f"{n}-kube-scheduler": p.pid for n, p in self.procs.items()}

    def stop(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs.clear()


async def sandbox_verb(state_dir: Path, verb: str, name: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(REPO / "hack/sandbox"), "--dir", str(state_dir), verb, name)
    await proc.wait()


def all_pids(state_dir: Path, extra: dict[str, int]) -> dict[str, int]:
    return {**dict(live_processes(str(state_dir))), **extra, "bench": os.getpid()}


class Run:
    """The shared state of one benchmark run."""

    def __init__(self, state_dir: Path, pods_per_tenant: int, split: bool) -> None:
        self.state_dir = state_dir
        self.status = sandbox_status(str(state_dir))
        self.per_tenant = pods_per_tenant
        self.split = split
        self.procs = meter.Processes(str(state_dir))
        self.cl: dict[str, KubeClient] = {}
        self.bindir = subprocess.run([str(REPO / "hack/build-bins"), "--print-dir"],
                                     capture_output=True, text=True, check=True).stdout.strip()

    @property
    def syncer_metrics(self) -> str | None:
        syncer = json.loads((self.state_dir / "state.json").read_text()).get("syncer")
        return syncer["metrics"] if syncer else None

    async def measure(self, trackers: list[Tracker], pods: int, create: Any,
                      syncer: bool) -> dict[str, Any]:
        """Runs ``create()``, waits until ``pods`` pods are Running; rate and costs per pod."""
        pin(all_pids(self.state_dir, self.procs.extra), self.split)
        await asyncio.sleep(2)
        before = await meter.snapshot(self.procs, self.status["clusters"],
                                      self.syncer_metrics if syncer else None)
        start = time.perf_counter()
        await create()
        end = await until(lambda: sum(len(t.running) for t in trackers) >= pods, 1800,
                          f"{pods} pods Running")
        after = await meter.snapshot(self.procs, self.status["clusters"],
                                     self.syncer_metrics if syncer else None)
        lat = sorted(t.running[n] - t.seen[n] for t in trackers for n in t.running)
        return {"seconds": round(end - start, 2), "pods_per_s": round(pods / (end - start), 1),
                "create_to_running_p50_s": round(lat[len(lat) // 2], 3),
                "create_to_running_p99_s": round(lat[int(0.99 * (len(lat) - 1))], 3),
                "load_average": os.getloadavg(), **meter.per_pod(before, after, pods)}

    async def fusionvc_phase(self) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        ns = f"fair-{int(time.time())}"
        trackers, tasks, edge_ns = [], [], {}
        for t in TENANTS_USED:
            uid = (await self.cl["management"].get(TENANTS, t))["metadata"]["uid"]
            edge_ns[t] = edge_namespace(t, uid, ns)
            await self.cl[t].create(NAMESPACES, {"metadata": {"name": ns}})
            tracker = Tracker()
            trackers.append(tracker)
            tasks.append(asyncio.create_task(track(self.cl[t], ns, tracker)))

        async def create() -> None:
            for t in TENANTS_USED:
                await self.cl[t].create(DEPLOYMENTS, deployment(ns, self.per_tenant),
                                        namespace=ns)

        figures = await self.measure(trackers, 2 * self.per_tenant, create, syncer=True)
        placed = {t: {e: len((await self.cl[e].list(PODS, edge_ns[t]))["items"])
                      for e in EDGES} for t in TENANTS_USED}
        for task in tasks:
            task.cancel()
        syncer = self.procs.extra.get("syncer")  # syncer_ab.py: its CPU deleting the pods
        cpu_before = cpu_seconds(syncer) if syncer else 0.0
        for t in TENANTS_USED:
            await self.cl[t].delete(NAMESPACES, ns)
        for t in TENANTS_USED:
            await namespace_gone(self.cl[t], ns)
        for t in TENANTS_USED:  # the edge copies go too before the baseline needs the room
            for e in EDGES:
                await namespace_gone(self.cl[e], edge_ns[t])
        if syncer:
            figures["syncer delete ms"] = round(
                1000 * (cpu_seconds(syncer) - cpu_before) / (2 * self.per_tenant), 3)
        return figures, placed

    async def baseline_phase(self, placed: dict[str, dict[str, int]]) -> dict[str, Any]:
        await sandbox_verb(self.state_dir, "stop", "syncer")
        schedulers = Schedulers(self.state_dir, self.status)
        self.procs.extra = schedulers.start(self.bindir)
        try:
            await asyncio.sleep(5)  # the schedulers list and watch their edge
            return await self._baseline_rollout(placed)
        finally:
            schedulers.stop()
            self.procs.extra = {}
            await sandbox_verb(self.state_dir, "start", "syncer")

    async def _baseline_rollout(self, placed: dict[str, dict[str, int]]) -> dict[str, Any]:
        trackers, tasks, made = [], [], []
        for t in TENANTS_USED:
            ns = f"fair-base-{t}-{int(time.time())}"
            for e in EDGES:
                if placed[t][e]:
                    await self.cl[e].create(NAMESPACES, {"metadata": {"name": ns}})
                    made.append((e, ns, placed[t][e]))
                    tracker = Tracker()
                    trackers.append(tracker)
                    tasks.append(asyncio.create_task(track(self.cl[e], ns, tracker)))

        async def create() -> None:
            for e, ns, replicas in made:
                await self.cl[e].create(DEPLOYMENTS, deployment(ns, replicas), namespace=ns)

        total = sum(n for _, _, n in made)
        figures = await self.measure(trackers, total, create, syncer=False)
        for task in tasks:
            task.cancel()
        for e, ns, _ in made:
            await self.cl[e].delete(NAMESPACES, ns)
        for e, ns, _ in made:
            await namespace_gone(self.cl[e], ns)
        return figures

    async def bare_line(self) -> dict[str, Any]:
        """The old comparison: bare pods with nodeName straight on the edges."""
        from syncer_throughput import direct

        await sandbox_verb(self.state_dir, "stop", "syncer")
        try:
            got = await direct(self.cl, 2 * self.per_tenant)
        finally:
            await sandbox_verb(self.state_dir, "start", "syncer")
        return {"pods_per_s": round(got["rate"], 1)}


async def main_async(args: argparse.Namespace) -> None:
    run = Run(args.state_dir.resolve(), args.pods, args.split_cpus)
    if not run.status.get("syncer"):
        raise SystemExit("no syncer in the sandbox: run `hack/sandbox up --with-syncer`")
    run.cl = await clients(run.status)
    try:
        fvc, placed = await run.fusionvc_phase()
        if args.fusionvc_only:
            print(json.dumps({"placed": placed, "fusionvc": fvc}, indent=1, default=str))
            return
        base = await run.baseline_phase(placed)
        bare = await run.bare_line() if args.bare else None
    finally:
        pin(all_pids(run.state_dir, {}), False)
        for c in run.cl.values():
            await c.close()
    print(json.dumps({
        "pods_total": 2 * args.pods, "split_cpus": args.split_cpus, "placed": placed,
        "fair_throughput_ratio": round(fvc["pods_per_s"] / base["pods_per_s"], 3),
        "baseline": base, "fusionvc": fvc,
        **({"secondary_bare_pods_per_s": bare["pods_per_s"],
            "secondary_ratio_vs_bare_pods": round(fvc["pods_per_s"] / bare["pods_per_s"], 3)}
           if bare else {}),
    }, indent=1, default=str))
    print("CPU ms per pod by role (baseline | fusionvc):")
    for r in sorted(set(base["cpu ms"]) | set(fvc["cpu ms"])):
        print(f"  {r:30s} {base['cpu ms'].get(r, 0.0):8.3f} | {fvc['cpu ms'].get(r, 0.0):8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=300, help="replicas per tenant")
    parser.add_argument("--split-cpus", action="store_true",
                        help="tenants' side on CPU 0, edges on CPU 1")
    parser.add_argument("--bare", action="store_true",
                        help="also the old bare-pod comparison, as a secondary line")
    parser.add_argument("--fusionvc-only", action="store_true",
                        help="the fusionvc phase alone (profiling the syncer)")
    add_token_flag(parser)
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
