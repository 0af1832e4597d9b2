"""Pure translation of resource metrics from edge clusters into a tenant's terms.

Edge PodMetrics (``metrics.k8s.io/v1beta1`` from an edge's metrics-server, edge
namespace and pod name) become ``PodUsage`` records keyed by edge pod. A tenant
sees PodMetrics under its own namespace, pod name and labels, and NodeMetrics of
its virtual nodes whose usage is the sum over that tenant's pods only. Quantities
are carried as integers (nanocores, bytes) and printed the way metrics-server does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scheduler.quantity import QuantityError, parse_quantity
from syncer.kube import Obj

GROUP_VERSION = "metrics.k8s.io/v1beta1"
EdgePodKey = tuple[str, str, str]  # (edge cluster, edge namespace, pod name)


@dataclass(frozen=True)
class ContainerUsage:
    name: str
    cpu_nano: int
    memory_bytes: int


@dataclass(frozen=True)
class PodUsage:
    timestamp: str
    window: str
    containers: tuple[ContainerUsage, ...]

    @property
    def cpu_nano(self) -> int:
        return sum(c.cpu_nano for c in self.containers)

    @property
    def memory_bytes(self) -> int:
        return sum(c.memory_bytes for c in self.containers)


def _quantity(usage: Obj, resource: str, scale: int) -> int | None:
    raw = usage.get(resource, "0")
    try:
        return round(parse_quantity(str(raw)) * scale)
    except QuantityError:
        return None


def pod_usage_from_edge(item: Obj) -> PodUsage | None:
    """One edge PodMetrics as a record; None when it is malformed."""
    containers = []
    for container in item.get("containers") or []:
        usage = container.get("usage") or {}
        cpu = _quantity(usage, "cpu", 1_000_000_000)
        memory = _quantity(usage, "memory", 1)
        if cpu is None or memory is None or not isinstance(container.get("name"), str):
            return None
        containers.append(ContainerUsage(container["name"], cpu, memory))
    timestamp = item.get("timestamp")
    if not isinstance(timestamp, str):
        return None
    return PodUsage(timestamp, str(item.get("window") or ""), tuple(containers))


def index_edge_pod_metrics(edge: str, items: Iterable[Obj]) -> dict[EdgePodKey, PodUsage]:
    """Usage of every well-formed edge PodMetrics, keyed by (edge, namespace, name)."""
    index: dict[EdgePodKey, PodUsage] = {}
    for item in items:
        meta = item.get("metadata") or {}
        usage = pod_usage_from_edge(item)
        if usage is not None and meta.get("namespace") and meta.get("name"):
            index[(edge, meta["namespace"], meta["name"])] = usage
    return index


def format_cpu(nanocores: int) -> str:
    return f"{nanocores}n"


def format_memory(num_bytes: int) -> str:
    return f"{num_bytes // 1024}Ki" if num_bytes % 1024 == 0 else str(num_bytes)


def _usage(cpu_nano: int, memory_bytes: int) -> Obj:
    return {"cpu": format_cpu(cpu_nano), "memory": format_memory(memory_bytes)}


def tenant_pod_metrics(pod: Obj, usage: PodUsage) -> Obj:
    """PodMetrics of a tenant pod: its tenant name, namespace and labels, edge usage."""
    meta = pod["metadata"]
    return {
        "kind": "PodMetrics", "apiVersion": GROUP_VERSION,
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace", ""),
                     "labels": dict(meta.get("labels") or {}),
                     "creationTimestamp": usage.timestamp},
        "timestamp": usage.timestamp, "window": usage.window,
        "containers": [{"name": c.name, "usage": _usage(c.cpu_nano, c.memory_bytes)}
                       for c in usage.containers],
    }


def tenant_node_metrics(node: Obj, usages: Sequence[PodUsage]) -> Obj | None:
    """NodeMetrics of a virtual node: the sum over the given (one tenant's) pods.

    None when none of them has been measured yet (metrics-server too omits a node
    it has no sample of)."""
    if not usages:
        return None
    newest = max(usages, key=lambda u: u.timestamp)
    meta = node["metadata"]
    return {
        "kind": "NodeMetrics", "apiVersion": GROUP_VERSION,
        "metadata": {"name": meta["name"], "labels": dict(meta.get("labels") or {}),
                     "creationTimestamp": newest.timestamp},
        "timestamp": newest.timestamp, "window": newest.window,
        "usage": _usage(sum(u.cpu_nano for u in usages), sum(u.memory_bytes for u in usages)),
    }


def metrics_list(kind: str, items: list[Obj]) -> Obj:
    return {"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}
