"""Latency fusionvc adds to a pod, quiet and under a rollout (issue 16, part 3).

On a running sandbox with its syncer (`hack/sandbox --dir D up --with-syncer`):

1. quiet: tenant-a creates Q bare pods one at a time, each waited for until Running;
2. loaded: tenant-a and tenant-b each roll out a Deployment of N/2 replicas at once.

For every pod it prints two legs, both from the arrival of watch events at this
benchmark (one local monotonic clock; the objects' creationTimestamps have 1 s
resolution, too coarse for a 50 ms goal, and are printed only as a cross-check of the
first leg): tenant create -> edge create (the tenant watch's first sight of the pod to
the edge watch's first sight of its copy) and edge Running -> tenant Running; and
"added" = tenant create-to-Running minus edge create-to-Running. Also the syncer's
busy share (its CPU seconds over wall seconds, /proc/<pid>/stat), its queue waits
(fusionvc_queue_wait_seconds by tenant), reconcile times by resource
(fusionvc_sync_duration_seconds), and the event loop stalls it logged meanwhile.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/loaded_latency.py \
        --state-dir .sandbox-lat --replicas 2000 --quiet 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import time
from pathlib import Path
from typing import Any

from common import cpu_seconds, live_processes, percentile, sandbox_status
from syncer_scrape import between, call_waits, histograms, scrape_text
from syncer_throughput import (
    DEPLOYMENTS,
    EDGES,
    Watched,
    clients,
    deployment,
    namespace_gone,
    pod_spec,
    until,
    watch_new_namespace,
)

from syncer.core.names import edge_namespace
from syncer.kube.apis import NAMESPACES, PODS, TENANTS
from syncer.kube.client import KubeClient

TENANTS_USED = ("tenant-a", "tenant-b")


def spread(values: list[float]) -> dict[str, float]:
    return {"p50_s": round(percentile(values, 0.5), 3), "p99_s": round(percentile(values, 0.99), 3),
            "max_s": round(max(values), 3) if values else float("nan")}


def legs_of(watched: list[Watched]) -> dict[str, Any]:
    """p50/p99/max of each leg over every pod seen Running on both sides."""
    legs = [x for w in watched for n in w.tenant.running if (x := w.legs(n))]
    added, down, up = ([leg[i] for leg in legs] for i in range(3))
    tenant_seen = [x for w in watched for x in w.tenant.seen.values()]
    edge_seen = [x for w in watched for e in w.edges.values() for x in e.seen.values()]
    return {"pods": len(legs),
            # How fast pods arrived (the tenants' ReplicaSet controllers) against how fast
            # their copies were made: when copies come slower, the backlog is the latency.
            "tenant_pods_appeared_within_s": round(max(tenant_seen) - min(tenant_seen), 1),
            "edge_copies_appeared_within_s": round(max(edge_seen) - min(tenant_seen), 1),
            "tenant_create_to_edge_create": spread(down),
            "edge_running_to_tenant_running": spread(up), "added": spread(added)}


class SyncerProbe:
    """What the syncer did between start() and stop(): CPU share, queue waits, stalls."""

    def __init__(self, status: dict[str, Any], state_dir: str) -> None:  # type: ignore[misc]
        self.url = status["syncer"]["metrics"]
        self.roles = {c["name"]: c["role"] for c in status["clusters"]}
        self.log = Path(status["syncer"]["log"])
        self.pid = next(pid for name, pid in live_processes(state_dir) if name == "syncer")

    def _scrape(self) -> dict[str, Any]:
        text = scrape_text(self.url)
        return {"text": text, "wait": histograms(text, "fusionvc_queue_wait_seconds", "tenant"),
                "sync": histograms(text, "fusionvc_sync_duration_seconds", "resource")}

    def start(self) -> None:
        self.t0, self.cpu0 = time.perf_counter(), cpu_seconds(self.pid)
        self.log_at, self.before = self.log.stat().st_size, self._scrape()

    def stop(self) -> dict[str, Any]:
        wall, cpu = time.perf_counter() - self.t0, cpu_seconds(self.pid) - self.cpu0
        after = self._scrape()
        with self.log.open("rb") as f:
            f.seek(self.log_at)
            stalls = [json.loads(line) for line in f
                      if b'"event loop stall ended"' in line]
        return {"wall_s": round(wall, 1), "syncer_cpu_s": round(cpu, 1),
                "syncer_busy_share": round(cpu / wall, 3),
                "queue_wait_by_tenant": between(self.before["wait"], after["wait"]),
                "reconcile_s_by_resource": between(self.before["sync"], after["sync"]),
                "api_calls_by_role_verb": call_waits(self.before["text"], after["text"],
                                                     self.roles),
                "loop_stalls": len(stalls),
                "loop_stalled_s": round(sum(s.get("stalled_s", 0.0) for s in stalls), 1),
                "loop_stall_cpu_s": round(sum(s.get("loop_cpu_s", 0.0) for s in stalls), 1)}


def stamp(obj: dict[str, Any]) -> float:  # type: ignore[misc]
    ts = obj["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(ts).timestamp()


async def created_cross_check(cl: dict[str, KubeClient], ns: str) -> dict[str, float]:
    """Edge copy's creationTimestamp minus the tenant pod's (1 s resolution): p50/p99/max."""
    gaps: list[float] = []
    for t in TENANTS_USED:
        uid = (await cl["management"].get(TENANTS, t))["metadata"]["uid"]
        tenant = {p["metadata"]["name"]: stamp(p)
                  for p in (await cl[t].list(PODS, ns))["items"]}
        for e in EDGES:
            for p in (await cl[e].list(PODS, edge_namespace(t, uid, ns)))["items"]:
                if p["metadata"]["name"] in tenant:
                    gaps.append(stamp(p) - tenant[p["metadata"]["name"]])
    return spread(gaps)


async def quiet(cl: dict[str, KubeClient], count: int) -> dict[str, Any]:
    """Pods created one at a time by tenant-a on an otherwise idle sandbox."""
    ns = f"lat-quiet-{int(time.time())}"
    watched = await watch_new_namespace(cl, "tenant-a", ns)
    await asyncio.sleep(2)  # watches running, default ServiceAccount made
    try:
        for i in range(count):
            name = f"quiet-{i:03d}"
            await cl["tenant-a"].create(PODS, {"metadata": {"name": name}, "spec": pod_spec()},
                                        namespace=ns)
            await until(lambda n=name: n in watched.tenant.running, 120, f"{name} Running")
            await asyncio.sleep(0.5)  # the last status write lands before the next pod
        return legs_of([watched])
    finally:
        watched.stop()
        await cl["tenant-a"].delete(NAMESPACES, ns)
        await namespace_gone(cl["tenant-a"], ns)


async def loaded(cl: dict[str, KubeClient], replicas: int, probe: SyncerProbe) -> dict[str, Any]:
    """Both tenants roll out replicas/2 each at once; legs per pod and the syncer's figures."""
    ns = f"lat-load-{int(time.time())}"
    watched = [await watch_new_namespace(cl, t, ns) for t in TENANTS_USED]
    await asyncio.sleep(2)
    per_tenant = replicas // len(TENANTS_USED)
    try:
        probe.start()
        start = time.perf_counter()
        for t in TENANTS_USED:
            await cl[t].create(DEPLOYMENTS, deployment(ns, per_tenant), namespace=ns)
        end = await until(lambda: sum(len(w.tenant.running) for w in watched)
                          >= per_tenant * len(TENANTS_USED), 1800, "every tenant pod Running")
        syncer = probe.stop()
        return {"rollout_s": round(end - start, 1),
                "pods_per_s": round(per_tenant * len(TENANTS_USED) / (end - start), 1),
                **legs_of(watched),
                "tenant_create_to_edge_create_by_creationTimestamp":
                    await created_cross_check(cl, ns),
                **syncer, "load_average": os.getloadavg()}
    finally:
        for w in watched:
            w.stop()
        for t in TENANTS_USED:
            await cl[t].delete(NAMESPACES, ns)
        for t in TENANTS_USED:
            await namespace_gone(cl[t], ns)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    status = sandbox_status(args.state_dir)
    if not status.get("syncer"):
        raise SystemExit("no syncer in the sandbox: start it with the sandbox (--with-syncer)")
    cl = await clients(status)
    try:
        out: dict[str, Any] = {}
        if args.quiet:
            out["quiet"] = {**await quiet(cl, args.quiet), "load_average": os.getloadavg()}
        if args.replicas:
            out["loaded"] = await loaded(cl, args.replicas, SyncerProbe(status, args.state_dir))
        return out
    finally:
        for client in cl.values():
            await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=None, help="sandbox state dir (default .sandbox)")
    parser.add_argument("--replicas", type=int, default=2000, help="pods of the rollout, total")
    parser.add_argument("--quiet", type=int, default=5, help="pods created one at a time")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
