"""Pure parts of EdgeDataset: its spec, the nodes that get a copy, the download Job of one
node, and the status the tenant reads (``kubectl get edgedatasets``).

One Job per chosen node, pinned to it, runs the downloader of this repository
(``python -m syncer.datasetfetch``, in the fusionvc image) into a host folder
private to the tenant namespace and the source's checksum:
``/var/lib/fusionvc/datasets/<edge namespace>/<name>/<sha256[:16]>``. The tenant
never writes that hostPath: the Jobs run in fusionvc's own edge namespace
``fusionvc-datasets``, and their names hash the tenant, namespace, name, source
and node, so tenants never collide. A checksum mismatch fails the Job at once
(a pod failure policy on the downloader's exit status 3) and is reported as
``ChecksumMismatch``; nothing is published on that node. The Job's pod announces
the dataset it puts on its node (``syncer/warm_nodes.py``), so the scheduler
places pods that need it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.datasets import dataset_image
from scheduler.labels import NodeSelectorTerm
from syncer.bound_claims import DATASET_LABEL as DATASET_LABEL
from syncer.core import markers
from syncer.core.names import fit, short_hash
from syncer.datasetfetch.fetch import EXIT_CHECKSUM
from syncer.kinds.dataset_sources import parse_source
from syncer.kinds.edge_targets import (
    NodeState,
    Target,
    TargetError,
    counts,
    failed_nodes,
    job_state,
    name_set,
    nodes_in,
    parse_selector,
)
from syncer.kube import Obj
from syncer.ops.settings import DatasetSettings
from syncer.warm_nodes import DATASET_NAMESPACE as DATASET_NAMESPACE
from syncer.warm_nodes import PROVIDES, provides

SOURCE_ANNOTATION = "edge.fusionvc.io/source-sha256"
HOST_ROOT = "/var/lib/fusionvc/datasets"
MOUNT = "/dataset"
STRATEGIES = ("AllAtOnce", "Rolling", "OnFirstUse")  # OnFirstUse: dataset_first_use


def job_resources(settings: DatasetSettings) -> Obj:
    """Requests and limits of a download or cleanup Job's container (settings.datasets)."""
    return {"requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
            "limits": {"cpu": settings.cpu_limit, "memory": settings.memory_limit}}


# The fusionvc image holds the downloader (Dockerfile); kwok never runs it, a kubelet does.
# Both defaults are settings.datasets' (--dataset-image, --dataset-job-*).
FETCHER_IMAGE = DatasetSettings().image
FETCH_RESOURCES = job_resources(DatasetSettings())
DatasetError = TargetError


@dataclass(frozen=True)
class DatasetSpec:
    url: str
    sha256: str
    selector: NodeSelectorTerm | None
    clusters: frozenset[str] | None
    regions: frozenset[str] | None
    deployment: str | None  # "where this Deployment runs" (of the object's namespace)
    size: int = 0
    strategy: str = "AllAtOnce"
    max_concurrent: int = 5
    copies_per_region: int | None = None
    backoff_limit: int = 3
    timeout_s: int = 3600
    oci: str | None = None  # an OCI artifact reference instead of url (dataset_oci)


def parse_dataset_spec(spec: Obj) -> DatasetSpec:
    source, target = spec.get("source") or {}, spec.get("target") or {}
    strategy = spec.get("strategy") or {}
    found = parse_source(source)  # url + sha256, or oci (sha256: the reference's key)
    kind = str(strategy.get("type") or "AllAtOnce")
    if kind not in STRATEGIES:
        raise DatasetError(f"spec.strategy.type: {kind!r} is not one of {', '.join(STRATEGIES)}")
    copies = spec.get("copiesPerRegion")
    return DatasetSpec(url=found.url, sha256=found.sha256, oci=found.oci,
                       size=int(source.get("sizeBytes") or 0),
                       selector=parse_selector(target.get("nodeSelector")),
                       clusters=name_set(target.get("clusters")),
                       regions=name_set(target.get("regions")),
                       deployment=str(target.get("deployment") or "") or None,
                       strategy=kind, max_concurrent=int(strategy.get("maxConcurrent") or 5),
                       copies_per_region=int(copies) if copies else None,
                       backoff_limit=int(spec.get("backoffLimit", 3)),
                       timeout_s=int(spec.get("timeoutSeconds") or 3600))


def choose_nodes(candidates: Iterable[tuple[Target, str]], states: Mapping[Target, NodeState],
                 copies: int | None, seed: str) -> list[Target]:
    """The nodes that hold a copy: every candidate, or per region ``copies`` of them that have
    not failed (nodes already at work first, then in an order hashed from ``seed`` so that
    datasets spread over a region's nodes); a failed node stays listed (its reason shows)."""
    found = list(candidates)
    if copies is None:
        return sorted({t for t, _ in found} | set(states))
    by_region: dict[str, list[Target]] = {}
    for target, region in found:
        by_region.setdefault(region, []).append(target)
    chosen = set(states)
    for targets in by_region.values():
        ordered = sorted(targets, key=lambda t: (t not in states,
                                                 short_hash(f"{seed}/{t.cluster}/{t.node}", 12)))
        kept = 0
        for target in ordered:
            if kept >= copies:
                break
            state = states.get(target)
            if state is None or state.state != "failed":
                chosen.add(target)
                kept += 1
    return sorted(chosen)


def to_start(states: Mapping[Target, NodeState | None], spec: DatasetSpec) -> list[Target]:
    """Nodes whose download starts now: all of them (AllAtOnce), or while fewer than
    ``maxConcurrent`` run (Rolling)."""
    waiting = sorted(t for t, s in states.items() if s is None)
    if spec.strategy != "Rolling":
        return waiting
    active = sum(1 for s in states.values() if s is not None and s.state == "active")
    return waiting[:max(0, spec.max_concurrent - active)]


def copy_name(prefix: str, tenant: str, namespace: str, name: str, sha256: str,
              target: Target) -> str:
    """The name of an object of one node's copy (``prefix`` and the dataset's name, cut to
    fit, then a hash of the tenant, namespace, name, source and node)."""
    suffix = short_hash(f"{tenant}/{namespace}/{name}/{sha256}/{target.cluster}/{target.node}",
                        12)
    return f"{fit(f'{prefix}-{name}', 63 - 13)}-{suffix}"


def job_name(tenant: str, namespace: str, name: str, sha256: str, target: Target) -> str:
    return copy_name("eds", tenant, namespace, name, sha256, target)


def host_path(edge_namespace: str, name: str, sha256: str) -> str:
    return f"{HOST_ROOT}/{edge_namespace}/{name}/{sha256[:16]}"


def translate_dataset_job(dataset: Obj, spec: DatasetSpec, target: Target, *, tenant: str,
                          edge_namespace: str, image: str = FETCHER_IMAGE,
                          resources: Obj = FETCH_RESOURCES) -> Obj:
    meta = dataset["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    command = ["python", "-m", "syncer.datasetfetch", "--url", spec.url, "--sha256",
               spec.sha256, "--dest", MOUNT, "--termination-log", "/dev/termination-log"]
    pod_spec: Obj = {
        "nodeName": target.node, "restartPolicy": "Never",
        "automountServiceAccountToken": False, "enableServiceLinks": False,
        "tolerations": [{"operator": "Exists"}],  # the node was chosen by the tenant's target
        "containers": [{"name": "fetch", "image": image, "command": command,
                        "resources": resources,
                        "volumeMounts": [{"name": "dataset", "mountPath": MOUNT}],
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "dataset", "hostPath": {
            "path": host_path(edge_namespace, name, spec.sha256), "type": "DirectoryOrCreate"}}]}
    provided = provides({dataset_image(tenant, namespace, name): spec.size})
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(tenant, namespace, name, spec.sha256, target),
                         "namespace": DATASET_NAMESPACE,
                         "labels": {**markers.marker_labels(tenant), DATASET_LABEL: fit(name, 63)},
                         "annotations": {**markers.marker_annotations(dataset),
                                         markers.EDGE_NODE: target.node,
                                         SOURCE_ANNOTATION: spec.sha256}},
            "spec": {"completions": 1, "parallelism": 1, "backoffLimit": spec.backoff_limit,
                     "activeDeadlineSeconds": spec.timeout_s,
                     "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                         "containerName": "fetch", "operator": "In",
                         "values": [EXIT_CHECKSUM]}}]},
                     "template": {"metadata": {"labels": {DATASET_LABEL: fit(name, 63)},
                                               "annotations": {PROVIDES: provided}},
                                  "spec": pod_spec}}}


def dataset_job_state(job: Obj) -> NodeState:
    """A Job's state, its failure told in the downloader's terms."""
    state = job_state(job)
    if state.state != "failed":
        return state
    if state.reason == "PodFailurePolicy":
        return NodeState("failed", "ChecksumMismatch",
                         "the downloaded file's SHA-256 is not spec.source.sha256; "
                         "nothing was published on this node")
    if state.reason == "BackoffLimitExceeded":
        return NodeState("failed", "TransferFailed", state.message)
    return state


def dataset_status(states: Mapping[Target, NodeState | None]) -> Obj:
    """The status for the chosen nodes' states (None: its Job not created yet)."""
    totals = counts(states.values())
    ready, failed, desired = totals["succeeded"], totals["failed"], totals["desired"]
    if not states:
        phase, message = "Pending", "no edge node matches the target"
    elif ready + failed < desired:
        phase, message = "Distributing", f"{ready}/{desired} nodes ready"
    elif failed == desired:
        phase, message = "Failed", f"no node could get the dataset ({failed} failed)"
    else:
        phase = "Degraded" if failed else "Ready"
        message = f"{ready}/{desired} nodes ready"
    clusters = sorted({t.cluster for t in states})
    per_cluster = []
    for cluster in clusters:
        c = counts(s for t, s in states.items() if t.cluster == cluster)
        per_cluster.append({"name": cluster, "desired": c["desired"], "active": c["active"],
                            "ready": c["succeeded"], "failed": c["failed"]})
    return {"phase": phase, "message": message, "desired": desired,
            "active": totals["active"], "ready": ready, "failed": failed,
            "clusters": per_cluster, "readyNodes": nodes_in(states, "succeeded"),
            "failedNodes": failed_nodes(states)}
