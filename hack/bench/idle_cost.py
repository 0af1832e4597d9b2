"""Idle cost of virtual nodes (issue 16, part 6): tenant writes/s, syncer CPU and RSS.

On a running sandbox with its syncer, each tenant (tenant-a, tenant-b) gets one Deployment
of --nodes replicas that must not share an edge node (required pod anti-affinity on
kubernetes.io/hostname), so each tenant has --nodes virtual nodes. Then, side by side in
one run, idle windows of --window seconds:

- ``no syncer``: the sandbox's syncer stopped: what the tenant control planes write on
  their own (kube-apiserver identity Leases, controller-manager), the floor;
- one per --heartbeats value: a syncer started with the sandbox syncer's command line plus
  ``--node-heartbeat=<H>s``, measured from H/2 after it is ready over whole heartbeats
  (a whole number of renewals per node, however the window falls).

Each window prints the tenant kube-apiservers' own writes/s (``apiserver_request_total``
of every writing verb, /metrics before and after) split by resource (leases, nodes,
other), the same minus the no-syncer floor per virtual node, the syncer's own tenant
writes (``fusionvc_api_requests_total``) per virtual node, and the syncer's CPU (ms of
CPU per second, from /proc/<pid>/stat) and RSS. The tenant controller-managers must allow
the largest heartbeat: start the sandbox with ``hack/sandbox up --node-heartbeat 60``
(their --node-monitor-grace-period is then 300 s) for a 60 s heartbeat.

    hack/sandbox --dir .sandbox-idle up --with-syncer --node-heartbeat 60
    PYTHONPATH=. .venv/bin/python hack/bench/idle_cost.py --state-dir .sandbox-idle \\
        --nodes 12 --heartbeats 10,60 --window 120
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sandbox_meter as meter
from common import REPO, cpu_seconds, rss_kib, sandbox_status
from fair_throughput import sandbox_verb
from syncer_throughput import DEPLOYMENTS, clients, namespace_gone, pod_spec

from syncer.core import markers
from syncer.kinds.node_heartbeat import recommended_grace_period_s
from syncer.kube.apis import NAMESPACES, NODES, PODS
from syncer.kube.client import KubeClient

TENANTS = ("tenant-a", "tenant-b")
OWN = "syncer's own"  # the syncer's count of its own tenant writes
Counts = dict[str, float]


def spread_deployment(ns: str, replicas: int) -> dict[str, Any]:
    """replicas pods, never two on one edge node: one virtual node each."""
    spec = pod_spec()
    spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "idle"}},
         "topologyKey": "kubernetes.io/hostname"}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "idle", "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "idle"}},
                     "template": {"metadata": {"labels": {"app": "idle"}}, "spec": spec}}}


async def virtual_nodes(cl: dict[str, KubeClient]) -> int:
    nodes = [n for t in TENANTS for n in (await cl[t].list(NODES))["items"]]
    return sum(1 for n in nodes if markers.is_managed(n))


async def make_idle_nodes(cl: dict[str, KubeClient], ns: str, per_tenant: int) -> None:
    for t in TENANTS:
        await cl[t].create(NAMESPACES, {"metadata": {"name": ns}})
        await cl[t].create(DEPLOYMENTS, spread_deployment(ns, per_tenant), namespace=ns)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = [sum(1 for p in (await cl[t].list(PODS, ns))["items"]
                       if (p.get("status") or {}).get("phase") == "Running") for t in TENANTS]
        if min(running) >= per_tenant:
            return
        await asyncio.sleep(2)
    raise SystemExit(f"timed out: {running} of {per_tenant} pods Running per tenant "
                     "(fewer edge nodes than --nodes?)")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass
class SyncerRun:
    """A syncer with the sandbox syncer's command line plus --node-heartbeat."""

    state_dir: Path
    heartbeat_s: float
    proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> tuple[list[str], str]:
        recs = json.loads((self.state_dir / "processes.json").read_text())
        argv = list(next(r["argv"] for r in recs if r["name"] == "syncer"))
        port = next(a.split("=", 1)[1] for a in argv if a.startswith("--http-port="))
        return [*argv, f"--node-heartbeat={self.heartbeat_s:g}s"], port

    def launch(self) -> str:
        """Starts it; returns its HTTP base URL."""
        argv, port = self.argv()
        log = (self.state_dir / "logs" / f"idle-syncer-{self.heartbeat_s:g}s.log").open("ab")
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                     env=env)
        return f"http://127.0.0.1:{port}"

    async def start(self) -> str:
        """Starts it; returns its /metrics URL once it answers /readyz."""
        url = self.launch()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if await asyncio.to_thread(answers, f"{url}/readyz"):
                return f"{url}/metrics"
            await asyncio.sleep(0.5)
        raise SystemExit(f"the syncer with --node-heartbeat={self.heartbeat_s:g}s never got ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


async def tenant_writes(status: dict[str, Any]) -> Counts:
    """Writes so far of every tenant kube-apiserver: 'total', 'leases', 'nodes', 'other'."""
    tenants = [c for c in status["clusters"] if c["role"] == "tenant"]
    texts = await asyncio.gather(*(meter.scrape(c["kubeconfig"]) for c in tenants))
    out: Counts = {"total": 0.0, "leases": 0.0, "nodes": 0.0, "other": 0.0}
    for text in texts:
        for key, value in meter.api_counts(text).items():
            if not key.startswith("writes "):
                continue
            resource = key.removeprefix("writes ").split("/")[0]
            out["total"] += value
            out[resource if resource in ("leases", "nodes") else "other"] += value
    return out


def rates(before: Counts, after: Counts, seconds: float) -> Counts:
    return {k: round((after[k] - before.get(k, 0.0)) / seconds, 4) for k in after}


async def window(status: dict[str, Any], seconds: float, pid: int | None,
                 metrics_url: str | None) -> dict[str, Any]:
    """Tenant writes/s (by resource), the syncer's own tenant writes/s and CPU over one window."""
    roles = {c["name"]: c["role"] for c in status["clusters"]}
    writes0, own0 = await tenant_writes(status), await meter.syncer_requests(metrics_url, roles)
    cpu0, start = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    cpu1 = cpu_seconds(pid) if pid else 0.0
    writes1, own1 = await tenant_writes(status), await meter.syncer_requests(metrics_url, roles)
    own = {k: v - own0.get(k, 0.0) for k, v in own1.items()
           if k.startswith("tenant ") and k.split()[-1] not in meter.READ_VERBS}
    return {"seconds": round(elapsed, 1), "tenant_writes_per_s": rates(writes0, writes1, elapsed),
            "syncer_tenant_writes_per_s": round(sum(own.values()) / elapsed, 4),
            "syncer_cpu_ms_per_s": round(1000 * (cpu1 - cpu0) / elapsed, 2),
            "syncer_rss_mib": round(rss_kib(pid) / 1024, 1) if pid else 0.0,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def kcm_grace_s(state_dir: Path) -> float:
    """The tenant controller-managers' --node-monitor-grace-period (their default: 50 s)."""
    recs = json.loads((state_dir / "processes.json").read_text())
    for rec in recs:
        if rec["name"].startswith("tenant-") and rec["name"].endswith("-controller-manager"):
            for arg in rec.get("argv", []):
                if arg.startswith("--node-monitor-grace-period="):
                    return float(arg.split("=", 1)[1].rstrip("s"))
    return 50.0


def per_node(phase: dict[str, Any], floor: dict[str, Any], nodes: int) -> dict[str, float]:
    """A window's writes/s above the no-syncer floor, per virtual node, by resource."""
    have, base = phase["tenant_writes_per_s"], floor["tenant_writes_per_s"]
    out = {k: round((have[k] - base.get(k, 0.0)) / nodes, 4) for k in have}
    out[OWN] = round(phase["syncer_tenant_writes_per_s"] / nodes, 4)
    return out


async def measure(status: dict[str, Any], state_dir: Path, heartbeat: float,
                  seconds: float) -> dict[str, Any]:
    syncer = SyncerRun(state_dir, heartbeat)
    url = await syncer.start()
    try:
        await asyncio.sleep(max(heartbeat / 2, 5.0))  # past the renewals made on start
        whole = max(1, round(seconds / heartbeat)) * heartbeat  # whole renewals per node
        assert syncer.proc is not None
        return await window(status, whole, syncer.proc.pid, url)
    finally:
        syncer.stop()


def print_table(nodes: int, phases: dict[str, dict[str, Any]]) -> None:
    print(f"\nIdle cost, {nodes} virtual nodes in {len(TENANTS)} tenants "
          "(writes/s; per node: above the no-syncer floor)")
    print(f"{'window':<14}{'s':>6}{'total':>9}{'leases':>9}{'nodes':>8}{'other':>8}"
          f"{'/node':>9}{'leases/node':>13}{'syncer/node':>13}{'cpu ms/s':>10}{'rss MiB':>9}"
          f"  load")
    for name, p in phases.items():
        w, n = p["tenant_writes_per_s"], p.get("per_node", {})
        print(f"{name:<14}{p['seconds']:>6.0f}{w['total']:>9.3f}{w['leases']:>9.3f}"
              f"{w['nodes']:>8.3f}{w['other']:>8.3f}{n.get('total', 0):>9.4f}"
              f"{n.get('leases', 0):>13.4f}{n.get(OWN, 0):>13.4f}"
              f"{p['syncer_cpu_ms_per_s']:>10.2f}{p['syncer_rss_mib']:>9.1f}  "
              f"{' '.join(str(x) for x in p['load_average'])}")


async def main_async(args: argparse.Namespace) -> None:
    state_dir = args.state_dir.resolve()
    status = sandbox_status(str(state_dir))
    heartbeats = [float(h) for h in args.heartbeats.split(",")]
    grace = kcm_grace_s(state_dir)
    if max(heartbeats) + 15 > grace:
        raise SystemExit(
            f"the tenant controller-managers' grace period is {grace:g}s: a {max(heartbeats):g}s "
            f"heartbeat needs more (recommended {recommended_grace_period_s(max(heartbeats))}s); "
            f"start the sandbox with hack/sandbox up --node-heartbeat {max(heartbeats):g}")
    cl = await clients(status)
    ns = f"idle-{int(time.time())}"
    phases: dict[str, dict[str, Any]] = {}
    try:
        await make_idle_nodes(cl, ns, args.nodes)
        nodes = await virtual_nodes(cl)
        await sandbox_verb(state_dir, "stop", "syncer")
        await asyncio.sleep(args.settle)  # the rollout's last status writes and Events
        phases["no syncer"] = await window(status, min(args.window, grace - 20), None, None)
        for h in heartbeats:
            phases[f"heartbeat {h:g}s"] = await measure(status, state_dir, h, args.window)
            phases[f"heartbeat {h:g}s"]["per_node"] = per_node(
                phases[f"heartbeat {h:g}s"], phases["no syncer"], nodes)
    finally:
        await sandbox_verb(state_dir, "start", "syncer")
        if not args.keep:
            for t in TENANTS:
                await cl[t].delete(NAMESPACES, ns)
            for t in TENANTS:
                await namespace_gone(cl[t], ns)
        for c in cl.values():
            await c.close()
    print(json.dumps({"virtual_nodes": nodes, "tenants": len(TENANTS),
                      "tenant_kcm_grace_s": grace, "phases": phases}, indent=1))
    print_table(nodes, phases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=12, help="virtual nodes per tenant")
    parser.add_argument("--heartbeats", default="10,60", help="seconds, comma-separated")
    parser.add_argument("--window", type=float, default=120.0, help="idle seconds measured")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="seconds between the pods Running and the first window")
    parser.add_argument("--keep", action="store_true", help="keep the idle Deployments")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
