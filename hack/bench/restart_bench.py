"""Restart of the syncer holding many pods (issue 16, part 5).

On a sandbox with room for the pods (`hack/sandbox --dir D up --with-syncer
--pods-per-node 550` fits 10,000 on its 19 amd64 nodes):

1. the syncer is restarted empty (its RSS with no pod synced is the baseline);
2. for each size S of --sizes: tenant-a and tenant-b scale one Deployment each to S/2
   replicas and wait until all of them run; then an idle window (the syncer running,
   nothing to do) and a restart window of the same length, side by side:
   the syncer is stopped (SIGTERM) and started again (a cold restart of the one
   replica, not a failover to a standby).

Per size it prints: time from the start of the new process to /readyz answering 200
while it leads ("ready") and the CPU seconds the new process had used by then (by
converged too: on a loaded machine the wall times follow the load, the CPU does not);
time to converged, defined from the syncer's own metrics as the last moment before which
its work queue was empty (sum of fusionvc_queue_depth 0) and it made no write to a
tenant or edge cluster (fusionvc_api_requests_total, verbs other than GET/WATCH; the
management cluster gets the leader Lease every 2 s) for --quiet seconds, virtual node
heartbeats left out (Lease renewals and Node status, resource ``leases.coordination.k8s.io``
and ``nodes/status``: they come every --node-heartbeat whatever the syncer has to do, and
~40 nodes renewed every 10 s leave no quiet gap); the new process's own writes by cluster
role, verb and resource, per pod without those heartbeats ("syncer_writes_per_pod") and
with everything ("syncer_writes_per_pod_all", management included), and the heartbeat
writes per second of its life; every API server's writes during the
restart window minus the idle window's, by cluster role, verb and resource
(apiserver_request_total), per pod; and the syncer's RSS per synced pod ((RSS after
converging with S pods - RSS with none) / S).

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/restart_bench.py \
        --state-dir .sandbox-big --sizes 5000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import sandbox_meter as meter
from common import REPO, cpu_seconds, live_processes, rss_kib, sandbox_status
from syncer_scrape import counters, gauges, leading_and_ready, scrape_text
from syncer_throughput import DEPLOYMENTS, Tracker, clients, deployment, track, until

from syncer.kube.apis import NAMESPACES, PODS, ResourceType
from syncer.kube.client import KubeClient, KubeError

TENANTS_USED = ("tenant-a", "tenant-b")
# Virtual node heartbeats (syncer/kinds/nodes.py): periodic, not work the restart caused.
HEARTBEATS = frozenset({"leases.coordination.k8s.io", "nodes/status"})
NS = "restart-bench"


class Syncer:
    """The sandbox's syncer process: restart, readiness, queue depth and writes."""

    def __init__(self, state_dir: str, roles: dict[str, str]) -> None:
        self.state_dir = state_dir
        self.roles = roles  # cluster name -> role

    @property
    def url(self) -> str:
        return str(sandbox_status(self.state_dir)["syncer"]["metrics"])

    def pid(self) -> int:
        return next(pid for name, pid in live_processes(self.state_dir) if name == "syncer")

    async def restart(self) -> float:
        """Stops the syncer, starts it again; returns the perf_counter of the start."""
        await self._verb("stop")
        started = time.perf_counter()
        await self._verb("start")
        return started

    async def _verb(self, verb: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            str(REPO / "hack/sandbox"), "--dir", self.state_dir, verb, "syncer",
            stdout=asyncio.subprocess.DEVNULL)
        await proc.wait()

    def ready(self) -> bool:
        return leading_and_ready(self.url)

    def writes(self, text: str) -> dict[tuple[str, str, str], float]:
        """The process's writes by (cluster role, verb, resource)."""
        out: dict[tuple[str, str, str], float] = {}
        for (cluster, verb, resource), n in counters(
                text, "fusionvc_api_requests", ("cluster", "verb", "resource")).items():
            if verb not in meter.READ_VERBS:
                key = (self.roles.get(cluster, "management"), verb, resource)
                out[key] = out.get(key, 0.0) + n
        return out

    def depth_and_writes(self) -> tuple[float, float]:
        text = scrape_text(self.url)
        # Tenant and edge writes: the management cluster gets the leader Lease every 2 s,
        # and the virtual nodes their heartbeats.
        writes = sum(n for (role, _, resource), n in self.writes(text).items()
                     if role in ("tenant", "edge") and resource not in HEARTBEATS)
        return gauges(text, "fusionvc_queue_depth"), writes

    async def converged(self, quiet: float, timeout: float) -> float:
        """perf_counter of the last activity once the queue stayed empty and no write came
        for ``quiet`` seconds."""
        last_active, last_writes, deadline = time.perf_counter(), -1.0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                depth, writes = self.depth_and_writes()
            except OSError:
                depth, writes = 1.0, last_writes
            now = time.perf_counter()
            if depth or writes != last_writes:
                last_active, last_writes = now, writes
            elif now - last_active >= quiet:
                return last_active
            await asyncio.sleep(0.2)
        raise SystemExit(f"the syncer did not converge within {timeout:.0f}s")


async def create_if_missing(client: KubeClient, rt: ResourceType,
                            obj: dict[str, Any],  # type: ignore[misc]
                            namespace: str | None = None) -> None:
    """Creates; an object left by an earlier run (the pods kept for the next size) is fine."""
    try:
        await client.create(rt, obj, namespace=namespace)
    except KubeError as err:
        if not err.conflict:
            raise


async def scale_to(cl: dict[str, KubeClient], trackers: dict[str, Tracker], size: int) -> float:
    per_tenant = size // len(TENANTS_USED)
    start = time.perf_counter()
    for t in TENANTS_USED:
        await cl[t].patch(DEPLOYMENTS, "bench", {"spec": {"replicas": per_tenant}}, namespace=NS)
    await until(lambda: all(len(trackers[t].running) >= per_tenant for t in TENANTS_USED),
                3600, f"{size} pods Running")
    return time.perf_counter() - start


def per_pod_writes(idle: dict[str, dict[str, float]], restart: dict[str, dict[str, float]],
                   pods: int) -> dict[str, dict[str, float]]:
    """Writes of the restart window minus the idle window's, per pod, by role and verb."""
    out: dict[str, dict[str, float]] = {}
    for role, counts in sorted(restart.items()):
        row = {k.removeprefix("write "): round((v - idle.get(role, {}).get(k, 0.0)) / pods, 4)
               for k, v in sorted(counts.items()) if k.startswith("write ") or k == "writes"}
        out[role] = {k: v for k, v in row.items() if v}
    return out


async def api_window(clusters: list[dict[str, Any]], seconds: float,  # type: ignore[misc]
                     during: Any = None) -> tuple[dict[str, dict[str, float]], Any]:
    """API server counts over ``seconds`` (while ``during()`` runs, if given)."""
    before = await meter.api_by_role(clusters)
    start = time.perf_counter()
    result = await during() if during else None
    await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - start)))
    after = await meter.api_by_role(clusters)
    delta = {r: {k: v - before.get(r, {}).get(k, 0.0) for k, v in c.items()}
             for r, c in after.items()}
    return delta, result


async def one_size(cl: dict[str, KubeClient], status: dict[str, Any],  # type: ignore[misc]
                   syncer: Syncer, size: int, args: argparse.Namespace,
                   rss_empty: float) -> dict[str, Any]:
    async def restart() -> dict[str, Any]:
        started = await syncer.restart()
        ready = await until(syncer.ready, 600, "the restarted syncer ready")
        cpu_ready = cpu_seconds(syncer.pid())
        done = await syncer.converged(args.quiet, 900)
        cpu_done = cpu_seconds(syncer.pid())
        own, lived = syncer.writes(scrape_text(syncer.url)), time.perf_counter() - started
        work = sum(n for (role, _, r), n in own.items()
                   if role in ("tenant", "edge") and r not in HEARTBEATS)
        beats = sum(n for (role, _, r), n in own.items() if role == "tenant" and r in HEARTBEATS)
        return {"ready_s": round(ready - started, 2), "converged_s": round(done - started, 2),
                "syncer_cpu_s_to_ready": round(cpu_ready, 2),
                "syncer_cpu_s_to_converged": round(cpu_done, 2),
                "syncer_writes_by_role_verb_resource": {" ".join(k): n
                                                        for k, n in sorted(own.items())},
                "syncer_writes_per_pod": round(work / size, 4),
                "syncer_writes_per_pod_all": round(sum(own.values()) / size, 4),
                "syncer_heartbeat_writes_per_s": round(beats / lived, 2),
                "rss_kib": rss_kib(syncer.pid())}

    await syncer.converged(args.quiet, 900)  # the fill's last writes are done
    await asyncio.sleep(args.settle)  # and the controller-managers' status writes and Events
    idle, _ = await api_window(status["clusters"], args.window)
    busy, got = await api_window(status["clusters"], args.window, restart)
    return {"pods": size, **{k: v for k, v in got.items() if k != "rss_kib"},
            "syncer_rss_mib": round(got["rss_kib"] / 1024, 1),
            "rss_per_synced_pod_kib": round((got["rss_kib"] - rss_empty) / size, 2),
            "apiserver_writes_per_pod_restart_minus_idle": per_pod_writes(idle, busy, size),
            "window_s": args.window, "load_average": os.getloadavg()}


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    status = sandbox_status(args.state_dir)
    roles = {c["name"]: c["role"] for c in status["clusters"]}
    syncer, cl = Syncer(args.state_dir, roles), await clients(status)
    trackers = {t: Tracker() for t in TENANTS_USED}
    tasks = []
    try:
        for t in TENANTS_USED:
            await create_if_missing(cl[t], NAMESPACES, {"metadata": {"name": NS}})
            for p in (await cl[t].list(PODS, NS))["items"]:  # pods an earlier run left
                trackers[t].note(p)
            tasks.append(asyncio.create_task(track(cl[t], NS, trackers[t])))
            await create_if_missing(cl[t], DEPLOYMENTS, deployment(NS, 0), NS)
        await asyncio.sleep(2)
        rss_empty: float = args.rss_empty_mib * 1024
        if not any(x.seen for x in trackers.values()):  # a fresh syncer holding no pod
            await syncer.restart()
            await until(syncer.ready, 600, "the syncer ready")
            await syncer.converged(args.quiet, 300)
            rss_empty = rss_kib(syncer.pid())
        out: list[dict[str, Any]] = [{"syncer_rss_mib_with_no_pod": round(rss_empty / 1024, 1)}]
        for size in args.sizes:
            fill_s = await scale_to(cl, trackers, size)
            out.append({"fill_s": round(fill_s, 1),
                        **await one_size(cl, status, syncer, size, args, rss_empty)})
            print(json.dumps(out[-1], default=str), flush=True)
        return out
    finally:
        for task in tasks:
            task.cancel()
        for client in cl.values():
            await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=str(REPO / ".sandbox"))
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[5000, 10000], help="pods held at each restart, ascending")
    parser.add_argument("--quiet", type=float, default=3.0,
                        help="converged: queue empty and no write for this many seconds")
    parser.add_argument("--rss-empty-mib", type=float, default=float("nan"),
                        help="the syncer's RSS with no pod, when the pods exist already")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds after the fill before the idle window")
    parser.add_argument("--window", type=float, default=60.0,
                        help="seconds of the idle and of the restart window (API counts)")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=1, default=str))


if __name__ == "__main__":
    main()
