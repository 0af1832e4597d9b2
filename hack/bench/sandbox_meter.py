"""What one benchmark phase cost the sandbox: CPU by role, API writes and watch events.

CPU comes from /proc/<pid>/stat of the sandbox's own processes (processes.json), of
any extra processes the benchmark started (kube-schedulers) and of the benchmark
itself: never /proc/stat, which counts whatever else runs on the machine. Requests
and watch events come from every kube-apiserver's own /metrics
(apiserver_request_total, apiserver_watch_events_total), summed by cluster role.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field

from common import cpu_seconds, live_processes

READ_VERBS = {"GET", "LIST", "WATCH", "WATCHLIST", "CONNECT"}
_SAMPLE = re.compile(r'^(\w+)\{(.*)\} ([0-9.e+]+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def role(name: str) -> str:
    """The role of a process: 'tenant apiserver', 'edge kwok', 'syncer', 'bench', ..."""
    if name in ("etcd", "syncer", "gslb", "bench"):
        return name
    for part in ("apiserver", "controller-manager", "kwok", "metrics-server", "dns",
                 "kube-scheduler"):
        if name.endswith("-" + part):
            cluster = name[: -len(part) - 1]
            side = "management" if cluster == "management" else cluster.split("-")[0]
            return f"{side} {part}"
    return name


@dataclass
class Processes:
    """The processes measured: the sandbox's, plus extra ones the benchmark started."""

    state_dir: str
    extra: dict[str, int] = field(default_factory=dict)

    def cpu_by_role(self) -> dict[str, float]:
        out: dict[str, float] = {"bench": cpu_seconds(os.getpid())}
        pids = [*live_processes(self.state_dir), *self.extra.items()]
        for name, pid in pids:
            try:
                used = cpu_seconds(pid)
            except OSError:  # it ended between the listing and the read
                continue
            out[role(name)] = out.get(role(name), 0.0) + used
        return out


async def scrape(kubeconfig: str) -> str:
    """One kube-apiserver's /metrics text (kubectl get --raw, with the admin kubeconfig)."""
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", kubeconfig, "get", "--raw", "/metrics",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode()


def api_counts(text: str) -> dict[str, float]:
    """{'writes', 'reads', 'watch events', 'writes <resource>', 'write <VERB> <resource>'}
    from one /metrics text."""
    out = {"writes": 0.0, "reads": 0.0, "watch events": 0.0}
    for line in text.splitlines():
        if not line.startswith(("apiserver_request_total{", "apiserver_watch_events_total{")):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        name, labels, value = m.group(1), dict(_LABEL.findall(m.group(2))), float(m.group(3))
        if name == "apiserver_watch_events_total":
            out["watch events"] += value
            continue
        if labels.get("verb") in READ_VERBS:
            out["reads"] += value
            continue
        out["writes"] += value
        res = labels.get("resource", "") + (f"/{labels['subresource']}"
                                            if labels.get("subresource") else "")
        out[f"writes {res}"] = out.get(f"writes {res}", 0.0) + value
        verb = f"write {labels.get('verb', '?')} {res}"  # "write", not "writes": not summed
        out[verb] = out.get(verb, 0.0) + value
    return out


async def api_by_role(clusters: list[dict]) -> dict[str, dict[str, float]]:  # type: ignore[type-arg]
    """api_counts summed per cluster role (management, tenant, edge)."""
    texts = await asyncio.gather(*(scrape(c["kubeconfig"]) for c in clusters))
    out: dict[str, dict[str, float]] = {}
    for c, text in zip(clusters, texts, strict=True):
        into = out.setdefault(c["role"], {})
        for k, v in api_counts(text).items():
            into[k] = into.get(k, 0.0) + v
    return out


async def syncer_requests(metrics_url: str | None,
                          roles: dict[str, str]) -> dict[str, float]:
    """fusionvc_api_requests_total by cluster role and verb (the syncer's own count)."""
    if not metrics_url:
        return {}
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "--noproxy", "*", "-m", "10", metrics_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    found: dict[str, float] = {}
    for line in out.decode().splitlines():
        if line.startswith("fusionvc_gc_seconds_total{"):
            found["gc ms"] = found.get("gc ms", 0.0) + 1000 * float(line.rsplit(" ", 1)[1])
            continue
        m = _SAMPLE.match(line)
        if m is None or m.group(1) != "fusionvc_api_requests_total":
            continue
        labels = dict(_LABEL.findall(m.group(2)))
        cluster_role = roles.get(labels.get("cluster", ""), "management")
        key = f"{cluster_role} {labels.get('verb', '?')}"
        found[key] = found.get(key, 0.0) + float(m.group(3))
    return found


@dataclass
class Snapshot:
    cpu: dict[str, float]
    api: dict[str, dict[str, float]]
    syncer: dict[str, float]


async def snapshot(procs: Processes, clusters: list[dict],  # type: ignore[type-arg]
                   syncer_metrics: str | None) -> Snapshot:
    roles = {c["name"]: c["role"] for c in clusters}
    return Snapshot(procs.cpu_by_role(), await api_by_role(clusters),
                    await syncer_requests(syncer_metrics, roles))


def per_pod(before: Snapshot, after: Snapshot, pods: int) -> dict[str, dict[str, float]]:
    """{'cpu ms': {role: ms}, 'api <role>': {what: per pod}, 'syncer': {verb: per pod}}."""
    out: dict[str, dict[str, float]] = {"cpu ms": {}}
    for r in sorted(after.cpu):
        out["cpu ms"][r] = round(1000 * (after.cpu[r] - before.cpu.get(r, 0.0)) / pods, 3)
    out["cpu ms"]["total"] = round(sum(out["cpu ms"].values()), 3)
    for cluster_role, counts in sorted(after.api.items()):
        was = before.api.get(cluster_role, {})
        out[f"api {cluster_role}"] = {
            k: round((v - was.get(k, 0.0)) / pods, 3) for k, v in sorted(counts.items())
            if v - was.get(k, 0.0) > 0}
    out["syncer requests"] = {k: round((v - before.syncer.get(k, 0.0)) / pods, 3)
                              for k, v in sorted(after.syncer.items())
                              if v - before.syncer.get(k, 0.0) > 0}
    writes = [v for k, v in out["syncer requests"].items()
              if k != "gc ms" and k.split()[-1] not in READ_VERBS]
    if writes:
        out["syncer requests"]["writes"] = round(sum(writes), 3)
    return out
