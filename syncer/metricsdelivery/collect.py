"""A tenant namespace's series, in the tenant's own terms (pure over the given lookups).

For every pod of the namespace (from the tenant's cache):

- ``kube_pod_status_phase{phase}`` (1 for the pod's phase, 0 for the others) and
  ``kube_pod_container_status_restarts_total{container}``, as kube-state-metrics names them;
- resource usage from the edge's metrics-server: ``container_cpu_usage_cores``,
  ``container_memory_working_set_bytes`` per container and ``pod_cpu_usage_cores``,
  ``pod_memory_working_set_bytes``;
- the pod's own metrics (``syncer/podmetrics``) under their own names and labels.

Every series carries ``namespace`` and ``pod`` as the tenant knows them and
``job="fusionvc"``; an own metric's labels named ``namespace``, ``pod`` or ``job`` are
replaced, so no edge namespace, edge node or other tenant's name can appear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from syncer.kube import Obj
from syncer.metricsapi.translate import PodUsage
from syncer.metricsdelivery.buffer import Entry
from syncer.metricsdelivery.remote_write import Labels
from syncer.podmetrics.source import PodSamples

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
RESERVED = frozenset({"__name__", "namespace", "pod", "job"})
Wants = Callable[[str], bool]


def _series(name: str, base: Labels, extra: Labels = ()) -> Labels:
    return (("__name__", name), *base, *extra)


def state_series(pod: Obj, base: Labels) -> list[tuple[Labels, float]]:
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    out = [(_series("kube_pod_status_phase", base, (("phase", p),)), float(p == phase))
           for p in PHASES]
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        out.append((_series("kube_pod_container_status_restarts_total", base,
                            (("container", str(status.get("name", ""))),)),
                    float(status.get("restartCount") or 0)))
    return out


def usage_series(usage: PodUsage, base: Labels) -> list[tuple[Labels, float]]:
    out = [(_series("pod_cpu_usage_cores", base), usage.cpu_nano / 1e9),
           (_series("pod_memory_working_set_bytes", base), float(usage.memory_bytes))]
    for c in usage.containers:
        container = (("container", c.name),)
        out.append((_series("container_cpu_usage_cores", base, container), c.cpu_nano / 1e9))
        out.append((_series("container_memory_working_set_bytes", base, container),
                    float(c.memory_bytes)))
    return out


def own_series(samples: PodSamples, base: Labels) -> list[tuple[Labels, float]]:
    return [(_series(s.name, base, tuple(kv for kv in s.labels if kv[0] not in RESERVED)),
             s.value) for s in samples.samples]


def pod_series(pod: Obj, usage: PodUsage | None, samples: PodSamples | None,
               now_ms: int, wants: Wants) -> list[Entry]:
    """Every wanted series of one tenant pod, stamped ``now_ms``."""
    meta = pod["metadata"]
    base: Labels = (("namespace", meta.get("namespace", "")), ("pod", meta["name"]),
                    ("job", "fusionvc"))
    found = state_series(pod, base)
    if usage is not None:
        found += usage_series(usage, base)
    if samples is not None:
        found += own_series(samples, base)
    return [(labels, value, now_ms) for labels, value in found if wants(labels[0][1])]


def namespace_series(pods: Iterable[Obj], usage_of: Callable[[Obj], PodUsage | None],
                     samples_of: Callable[[Obj], PodSamples | None], now_ms: int,
                     wants: Wants) -> list[Entry]:
    out: list[Entry] = []
    for pod in pods:
        out += pod_series(pod, usage_of(pod), samples_of(pod), now_ms, wants)
    return out
