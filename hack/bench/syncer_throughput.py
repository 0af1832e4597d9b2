"""Throughput of fusionvc against pods created straight into the edges.

On the running sandbox (`make up`): first the baseline, N pods per tenant
created directly on the edge clusters with nodeName; then 2 tenants create a
Deployment of N replicas each through fusionvc. Prints the throughput ratio
(goal >= 0.9x of direct), p50/p99 added latency per pod, syncer RSS per synced
pod (goal <= 20 KB) and the time from a syncer restart to converged; last, the
added latency of 20 pods created one at a time on the quiet machine.

    PYTHONPATH=. .venv/bin/python hack/bench/syncer_throughput.py [--pods 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from common import (
    REPO,
    CpuMeter,
    cpu_seconds,
    percentile,
    pin_sides,
    rss_kib,
    sandbox_status,
)
from kubernetes_asyncio.config import new_client_from_config

from syncer.core.names import edge_namespace
from syncer.kube.apis import NAMESPACES, NODES, PODS, TENANTS, ResourceType
from syncer.kube.client import KubeClient, KubeError

DEPLOYMENTS = ResourceType("apps", "v1", "deployments", "Deployment")
EDGES = ("edge-bj", "edge-sh", "edge-gz")
SEC = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
CSEC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


# The benches' pods mount no ServiceAccount token unless asked (--service-account-token):
# Kubernetes mounts one by default, and for fusionvc each costs a TokenRequest to the
# tenant and the pod's own Secret on its edge (syncer/kinds/pod_secrets.py).
SERVICE_ACCOUNT_TOKEN = {"mount": False}


class _MountToken(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        SERVICE_ACCOUNT_TOKEN["mount"] = True


def add_token_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service-account-token", action=_MountToken, nargs=0,
                        help="pods mount their ServiceAccount token, as Kubernetes' default")


def pod_spec() -> dict:  # type: ignore[type-arg]
    return {
        "securityContext": SEC,
        "automountServiceAccountToken": SERVICE_ACCOUNT_TOKEN["mount"],
        "containers": [
            {
                "name": "c",
                "image": "registry.local/bench:1",
                "securityContext": CSEC,
                "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
            }
        ],
    }


@dataclass
class Tracker:
    """First time each pod was seen, and first time it was seen Running (local clock)."""

    seen: dict[str, float] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)

    def note(self, obj: dict) -> None:  # type: ignore[type-arg]
        name, now = obj["metadata"]["name"], time.perf_counter()
        self.seen.setdefault(name, now)
        if obj.get("status", {}).get("phase") == "Running":
            self.running.setdefault(name, now)


async def track(client: KubeClient, ns: str, tracker: Tracker) -> None:
    rv = (await client.list(PODS, ns))["metadata"]["resourceVersion"]
    while True:
        try:
            async for ev in client.watch(
                PODS, rv, namespace=ns, timeout_seconds=600, read_timeout=630
            ):
                rv = ev["object"]["metadata"].get("resourceVersion", rv)
                if ev["type"] in ("ADDED", "MODIFIED"):
                    tracker.note(ev["object"])
        except KubeError:
            await asyncio.sleep(0.2)


@dataclass
class Watched:
    """One tenant namespace tracked in the tenant and in its copy on every edge."""

    tenant: Tracker
    edges: dict[str, Tracker]
    tasks: list[asyncio.Task[None]]

    def legs(self, name: str) -> tuple[float, float, float] | None:
        """(added latency, tenant create -> edge create, edge Running -> tenant Running)."""
        edge = next((t for t in self.edges.values() if name in t.running), None)
        if edge is None or name not in self.tenant.running:
            return None
        t_seen, t_running = self.tenant.seen[name], self.tenant.running[name]
        e_seen, e_running = edge.seen[name], edge.running[name]
        return (t_running - t_seen) - (e_running - e_seen), e_seen - t_seen, t_running - e_running

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def watch_new_namespace(cl: dict[str, KubeClient], tenant: str, ns: str) -> Watched:
    """Creates the namespace in the tenant and tracks its pods there and on every edge."""
    uid = (await cl["management"].get(TENANTS, tenant))["metadata"]["uid"]
    await cl[tenant].create(NAMESPACES, {"metadata": {"name": ns}})
    watched = Watched(Tracker(), {e: Tracker() for e in EDGES}, [])
    watched.tasks.append(asyncio.create_task(track(cl[tenant], ns, watched.tenant)))
    ens = edge_namespace(tenant, uid, ns)
    watched.tasks += [asyncio.create_task(track(cl[e], ens, watched.edges[e])) for e in EDGES]
    return watched


async def until(check, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return time.perf_counter()


async def namespace_gone(client: KubeClient, ns: str, timeout: float = 600) -> None:
    """Returns once the namespace (and so every pod in it) no longer exists."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            await client.get(NAMESPACES, ns)
        except KubeError as err:
            if err.not_found:
                return
        await asyncio.sleep(1)
    raise SystemExit(f"namespace {ns} still exists on {client.name} after {timeout:.0f}s")


async def clients(status: dict) -> dict[str, KubeClient]:  # type: ignore[type-arg]
    out = {}
    for c in status["clusters"]:
        api = await new_client_from_config(config_file=c["kubeconfig"])
        out[c["name"]] = KubeClient(api, c["name"], 60)
    return out


async def direct(cl: dict[str, KubeClient], total: int) -> dict[str, Any]:
    ns = f"bench-direct-{int(time.time())}"
    trackers, nodes = {}, {}
    for e in EDGES:
        await cl[e].create(NAMESPACES, {"metadata": {"name": ns}})
        nodes[e] = [n["metadata"]["name"] for n in (await cl[e].list(NODES))["items"]]
        trackers[e] = Tracker()
    tasks = [asyncio.create_task(track(cl[e], ns, trackers[e])) for e in EDGES]
    await asyncio.sleep(0.5)
    meter = CpuMeter()
    meter.start()
    sem, start = asyncio.Semaphore(16), time.perf_counter()

    async def make(i: int) -> None:
        e = EDGES[i % 3]
        body = {
            "metadata": {"name": f"p-{i:05d}"},
            "spec": {**pod_spec(), "nodeName": nodes[e][i % len(nodes[e])]},
        }
        async with sem:
            await cl[e].create(PODS, body, namespace=ns)

    await asyncio.gather(*(make(i) for i in range(total)))
    end = await until(
        lambda: sum(len(t.running) for t in trackers.values()) >= total, 900, "direct pods Running"
    )
    cpu = meter.per_pod_ms(total)
    for t in tasks:
        t.cancel()
    lat = [t.running[n] - t.seen[n] for t in trackers.values() for n in t.running]
    for e in EDGES:
        await cl[e].delete(NAMESPACES, ns)
    for e in EDGES:  # their pods must be gone before the next phase needs the room
        await namespace_gone(cl[e], ns)
    return {
        "seconds": end - start,
        "rate": total / (end - start),
        "p50": percentile(lat, 0.5),
        "p99": percentile(lat, 0.99),
        "cpu": cpu,
    }


def syncer_pid() -> int:
    recs = json.loads((REPO / ".sandbox/processes.json").read_text())
    return int(next(r["pid"] for r in recs if r["name"] == "syncer"))


def deployment(ns: str, replicas: int) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {"metadata": {"labels": {"app": "bench"}}, "spec": pod_spec()},
        },
    }


async def through_fusionvc(cl: dict[str, KubeClient], per_tenant: int) -> dict[str, Any]:
    ns, tenants = f"bench-{int(time.time())}", ("tenant-a", "tenant-b")
    watched = {t: await watch_new_namespace(cl, t, ns) for t in tenants}
    tt = {t: w.tenant for t, w in watched.items()}
    await restart_syncer()  # a fresh process: its growth is what the synced pods cost
    await asyncio.sleep(5)
    pid = syncer_pid()
    meter = CpuMeter()
    meter.start()
    rss_before, cpu_before, start = rss_kib(pid), cpu_seconds(pid), time.perf_counter()
    for t in tenants:
        await cl[t].create(DEPLOYMENTS, deployment(ns, per_tenant), namespace=ns)
    end = await until(
        lambda: sum(len(x.running) for x in tt.values()) >= 2 * per_tenant,
        1800,
        "tenant pods Running",
    )
    rss_after, cpu_used = rss_kib(pid), cpu_seconds(pid) - cpu_before
    cpu = meter.per_pod_ms(2 * per_tenant)
    legs = [x for w in watched.values() for n in w.tenant.running if (x := w.legs(n))]
    added, down, up = ([leg[i] for leg in legs] for i in range(3))
    figures: dict[str, Any] = {
        "seconds": end - start,
        "rate": 2 * per_tenant / (end - start),
        "added_p50": percentile(added, 0.5),
        "added_p99": percentile(added, 0.99),
        "down_p50": percentile(down, 0.5),
        "up_p50": percentile(up, 0.5),
        "rss_per_pod_kib": (rss_after - rss_before) / (2 * per_tenant),
        "syncer_rss_mib": rss_after / 1024,
        "syncer_cpu_share": cpu_used / (end - start),
    }
    figures["cpu"] = cpu
    figures.update(await restart_to_converged(cl, ns, tenants, tt, per_tenant))
    synced = 2 * per_tenant + 20
    figures["restarted_rss_per_pod_kib"] = (figures["restarted_rss_kib"] - rss_before) / synced
    for w in watched.values():
        w.stop()
    for t in tenants:
        await cl[t].delete(NAMESPACES, ns)
    for t in tenants:  # the next phase wants a quiet machine
        await namespace_gone(cl[t], ns)
    return figures


SPLIT_CPUS = False  # --split-cpus: tenants' side on CPU 0, edge clusters on CPU 1


async def restart_syncer() -> float:
    """Stops and starts the sandbox's syncer; returns when it answers /readyz."""
    sandbox = str(REPO / "hack/sandbox")
    for verb in ("stop", "start"):
        proc = await asyncio.create_subprocess_exec(sandbox, verb, "syncer")
        await proc.wait()
    if SPLIT_CPUS:
        pin_sides(True)
    metrics = json.loads((REPO / ".sandbox/state.json").read_text())["syncer"]["metrics"]
    ready_url = metrics.replace("/metrics", "/readyz")

    def ready() -> bool:
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    return await until(ready, 300, "restarted syncer ready")


async def restart_to_converged(
    cl: dict[str, KubeClient],
    ns: str,
    tenants: tuple[str, ...],
    tt: dict[str, Tracker],
    per_tenant: int,
) -> dict[str, float]:
    """Restart, then 10 more replicas per tenant; also the RSS of the fresh process."""
    start = time.perf_counter()
    ready_at = await restart_syncer()
    for t in tenants:
        await cl[t].patch(
            DEPLOYMENTS, "bench", {"spec": {"replicas": per_tenant + 10}}, namespace=ns
        )
    done = await until(
        lambda: sum(len(x.running) for x in tt.values()) >= 2 * per_tenant + 20,
        600,
        "20 more pods after the restart",
    )
    await asyncio.sleep(5)  # the last status writes and events settle
    return {
        "restart_to_ready_s": ready_at - start,
        "restart_to_new_pods_running_s": done - start,
        "restarted_rss_kib": rss_kib(syncer_pid()),
    }


async def one_at_a_time(cl: dict[str, KubeClient], pods: int) -> dict[str, float]:
    """Added latency on a quiet machine: tenant-a creates bare pods one after another."""
    tenant, ns = "tenant-a", f"bench-quiet-{int(time.time())}"
    watched = await watch_new_namespace(cl, tenant, ns)
    await asyncio.sleep(1)
    added: list[float] = []
    for i in range(pods):
        name = f"quiet-{i:03d}"
        await cl[tenant].create(
            PODS, {"metadata": {"name": name}, "spec": pod_spec()}, namespace=ns
        )
        await until(
            lambda n=name: n in watched.tenant.running,
            120,
            f"{name} Running",
        )
        legs = watched.legs(name)
        if legs is not None:
            added.append(legs[0])
    watched.stop()
    await cl[tenant].delete(NAMESPACES, ns)
    return {"p50": percentile(added, 0.5), "p99": percentile(added, 0.99)}


async def main_async(per_tenant: int) -> None:
    status = sandbox_status()
    if not status.get("syncer"):
        raise SystemExit("no syncer in the sandbox: run `make up`")
    cl = await clients(status)
    pin_sides(SPLIT_CPUS)
    try:
        base = await direct(cl, 2 * per_tenant)
        fvc = await through_fusionvc(cl, per_tenant)
        quiet = await one_at_a_time(cl, 20)
    finally:
        pin_sides(False)
        for c in cl.values():
            await c.close()
    print(
        json.dumps(
            {
                "pods_total": 2 * per_tenant,
                "split_cpus": SPLIT_CPUS,
                "direct_pods_per_s": round(base["rate"], 1),
                "direct_create_to_running_p50_s": round(base["p50"], 3),
                "fusionvc_pods_per_s": round(fvc["rate"], 1),
                "throughput_ratio": round(fvc["rate"] / base["rate"], 3),
                # Both phases saturate the same 2 cores, so the ratio is about the inverse
                # of the CPU each pod costs the whole machine. This is the ratio if the
                # syncer cost nothing: what the tenant control plane alone allows.
                "ratio_ceiling_with_free_syncer": None
                if SPLIT_CPUS
                else round(
                    base["cpu"]["whole machine"]
                    / (fvc["cpu"]["whole machine"] - fvc["cpu"]["syncer"]),
                    3,
                ),
                "added_latency_p50_s": round(fvc["added_p50"], 3),
                "added_latency_p99_s": round(fvc["added_p99"], 3),
                "tenant_create_to_edge_create_p50_s": round(fvc["down_p50"], 3),
                "quiet_added_latency_p50_s": round(quiet["p50"], 3),
                "quiet_added_latency_p99_s": round(quiet["p99"], 3),
                "edge_running_to_tenant_running_p50_s": round(fvc["up_p50"], 3),
                "syncer_rss_per_synced_pod_kib": round(fvc["rss_per_pod_kib"], 1),
                "restarted_syncer_rss_per_synced_pod_kib": round(
                    fvc["restarted_rss_per_pod_kib"], 1
                ),
                "syncer_rss_mib": round(fvc["syncer_rss_mib"], 1),
                "syncer_cpu_busy_fraction": round(fvc["syncer_cpu_share"], 2),
                "restart_to_ready_s": round(fvc["restart_to_ready_s"], 2),
                "restart_to_new_pods_running_s": round(fvc["restart_to_new_pods_running_s"], 2),
            },
            indent=1,
        )
    )
    print("CPU ms per pod, by sandbox role (direct | fusionvc):")
    for role, ms in fvc["cpu"].items():
        print(f"  {role:32s} {base['cpu'].get(role, 0.0):8.2f} | {ms:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000, help="pods per tenant")
    parser.add_argument(
        "--split-cpus",
        action="store_true",
        help="tenants' side on CPU 0, edge clusters on CPU 1, as on separate machines",
    )
    args = parser.parse_args()
    global SPLIT_CPUS
    SPLIT_CPUS = args.split_cpus
    asyncio.run(main_async(args.pods))


if __name__ == "__main__":
    main()
