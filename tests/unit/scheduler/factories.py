"""Builders of the Kubernetes dicts (nodes, pods) and snapshots the scheduler tests use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scheduler import ClusterSnapshot, Placement, Scheduler, ScheduleResult, build_profile
from scheduler.policy import DEFAULT_POLICY, MODE_PRESETS, SchedulingPolicy

GPU_TAINT = {"key": "gpu", "value": "true", "effect": "NoSchedule"}


def node(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    *,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    extra: Mapping[str, str] | None = None,
    arch: str | None = "amd64",
    price: str | None = None,
    ready: bool = True,
    unschedulable: bool = False,
) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if arch is not None:
        all_labels.setdefault("kubernetes.io/arch", arch)
    annotations = {} if price is None else {"fusionvc.io/price-per-hour": price}
    return {
        "metadata": {"name": name, "labels": all_labels, "annotations": annotations},
        "spec": {"taints": list(taints), "unschedulable": unschedulable},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(
    name: str = "web",
    cpu: str | None = "100m",
    memory: str | None = None,
    *,
    namespace: str = "default",
    extra: Mapping[str, str] | None = None,
    node_name: str | None = None,
    phase: str | None = None,
    tolerations: Sequence[Mapping[str, str]] = (),
    node_selector: Mapping[str, str] | None = None,
    affinity: Mapping[str, Any] | None = None,
    owner: str | None = None,
    owner_annotation: str | None = None,
    labels: Mapping[str, str] | None = None,
    pod_affinity: Mapping[str, Any] | None = None,
    anti_affinity: Mapping[str, Any] | None = None,
    spread: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    requests.update(extra or {})
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "app", "resources": {"requests": requests}}],
        "tolerations": list(tolerations),
    }
    if node_name:
        spec["nodeName"] = node_name
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    sections = (
        ("nodeAffinity", affinity),
        ("podAffinity", pod_affinity),
        ("podAntiAffinity", anti_affinity),
    )
    if any(value for _, value in sections):
        spec["affinity"] = {key: dict(value) for key, value in sections if value}
    if spread:
        spec["topologySpreadConstraints"] = [dict(c) for c in spread]
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if owner:
        metadata["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet"}]
    if owner_annotation:
        metadata["annotations"] = {"fusionvc.io/owner-uid": owner_annotation}
    result: dict[str, Any] = {"metadata": metadata, "spec": spec}
    if phase:
        result["status"] = {"phase": phase}
    return result


def snapshot(
    clusters: Mapping[str, Iterable[dict[str, Any]]],
    regions: Mapping[str, str] | None = None,
    latency: Mapping[str, Mapping[str, float]] | None = None,
    unhealthy: Iterable[str] = (),
) -> ClusterSnapshot:
    """One cluster per key (region from `regions`, default "region-<name>"), with its nodes."""
    result = ClusterSnapshot()
    bad = set(unhealthy)
    for cluster, nodes in clusters.items():
        region = (regions or {}).get(cluster, f"region-{cluster}")
        result.set_cluster(cluster, region, cluster not in bad, (latency or {}).get(cluster, {}))
        for item in nodes:
            result.upsert_node(cluster, item)
    return result


def scheduler_with(
    snap: ClusterSnapshot, plugins: Sequence[str], weights: Mapping[str, int] | None = None
) -> Scheduler:
    """A scheduler running only the named plugins (weights default to the balanced preset)."""
    return Scheduler(snap, build_profile(plugins, weights or MODE_PRESETS["balanced"]))


def schedule_one(
    nodes: Iterable[dict[str, Any]],
    the_pod: dict[str, Any],
    plugins: Sequence[str],
    policy: SchedulingPolicy = DEFAULT_POLICY,
) -> ScheduleResult:
    """Schedule one pod on a single-cluster snapshot with only `plugins` enabled."""
    return scheduler_with(snapshot({"c1": nodes}), plugins).schedule(the_pod, policy)


def placed_node(result: ScheduleResult) -> str:
    assert isinstance(result, Placement), result
    return result.node


ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"


def term(match: Mapping[str, str], key: str, **extra: Any) -> dict[str, Any]:
    """A pod affinity term selecting pods with the labels `match` over topology `key`."""
    return {"labelSelector": {"matchLabels": dict(match)}, "topologyKey": key, **extra}


def required(*terms: Mapping[str, Any]) -> dict[str, Any]:
    return {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}


def preferred(*weighted: tuple[int, Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": weight, "podAffinityTerm": dict(t)} for weight, t in weighted
        ]
    }


def spread_constraint(
    key: str, match: Mapping[str, str], max_skew: int = 1, hard: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(match)},
        **extra,
    }


def zoned_nodes(zones: Mapping[str, int], **node_args: Any) -> list[dict[str, Any]]:
    """`count` nodes per zone, named <zone>-<i>, labelled with the zone."""
    return [
        node(f"{zone}-{i}", labels={ZONE: zone}, **node_args)
        for zone, count in zones.items()
        for i in range(count)
    ]


def place_and_assume(
    scheduler: Scheduler, the_pod: dict[str, Any], policy: SchedulingPolicy = DEFAULT_POLICY
) -> ScheduleResult:
    """Schedule the pod and, when placed, assume it there as the syncer does (a burst)."""
    result = scheduler.schedule(the_pod, policy)
    if isinstance(result, Placement):
        bound = {**the_pod, "spec": {**the_pod["spec"], "nodeName": result.node}}
        scheduler.snapshot.assume(result.cluster, result.node, bound)
    return result
