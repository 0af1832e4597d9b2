"""Pure parts of ImagePrewarm: its spec, its target nodes, the pull Job of one node, and
the status the tenant reads (``kubectl get imageprewarms``).

One Job per target node, in the tenant's edge namespace, pinned to the node
(``nodeName``), with one container per image running a no-op command: the
kubelet pulls the images to start it. An entry with ``kind: Artifact`` (an OCI
artifact without a shell) is pulled as an image volume instead, mounted
read-only into a no-op container. The Job carries fusionvc's markers and
the ImagePrewarm as its tenant reference; its pods carry none (they are not
copies of tenant pods, so the pod syncer leaves them alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.labels import NodeSelectorTerm
from syncer.core import markers
from syncer.core.names import fit, short_hash
from syncer.kinds.dataset_translate import FETCHER_IMAGE
from syncer.kinds.edge_targets import (
    NodeState,
    Target,
    TargetError,
    cluster_matches,
    counts,
    failed_nodes,
    job_state,
    name_set,
    node_matches,
    nodes_in,
    parse_selector,
    per_cluster,
)
from syncer.kube import Obj
from syncer.warm_nodes import PROVIDES, provides

__all__ = ["NodeState", "PrewarmError", "PrewarmSpec", "Target", "cluster_matches",
           "job_name", "job_state", "node_matches", "parse_prewarm_spec", "prewarm_status",
           "to_create", "translate_prewarm_job", "work_pod_spec"]

PREWARM_LABEL = "edge.fusionvc.io/imageprewarm"
NOOP_COMMAND = ("/bin/sh", "-c", "exit 0")
JOB_NAME_MAX = 63  # a Job's name becomes a label value of its pods
WORK_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"},
                  "limits": {"cpu": "100m", "memory": "64Mi"}}
NOOP_USER = 65534  # nobody: a no-op needs no privileges, and restricted tenants require it
PrewarmError = TargetError  # a spec fusionvc cannot act on (told to the tenant in status)
ARTIFACT = "Artifact"  # an images entry's kind for an OCI artifact without a shell
ARTIFACT_RUNNER = FETCHER_IMAGE  # runs the no-op when every entry is an artifact


@dataclass(frozen=True)
class PrewarmSpec:
    images: tuple[str, ...]
    selector: NodeSelectorTerm | None  # None: every node
    clusters: frozenset[str] | None
    regions: frozenset[str] | None
    deployment: str | None  # "where this Deployment runs" (of the object's namespace)
    parallelism: int = 10
    backoff_limit: int = 3
    timeout_s: int = 600
    ttl_s: int | None = None
    sizes: tuple[int, ...] = ()  # size hints, per image (0: none given)
    artifacts: frozenset[int] = frozenset()  # indexes of entries with kind: Artifact


def parse_prewarm_spec(spec: Obj) -> PrewarmSpec:
    target = spec.get("target") or {}
    images = tuple(str(i.get("image", "")) for i in spec.get("images") or [])
    if not images or not all(images):
        raise PrewarmError("spec.images: at least one image reference is needed")
    ttl = spec.get("ttlSecondsAfterFinished")
    return PrewarmSpec(images=images, selector=parse_selector(target.get("nodeSelector")),
                       clusters=name_set(target.get("clusters")),
                       regions=name_set(target.get("regions")),
                       deployment=str(target.get("deployment") or "") or None,
                       parallelism=int(spec.get("parallelism") or 10),
                       backoff_limit=int(spec.get("backoffLimit", 3)),
                       timeout_s=int(spec.get("timeoutSeconds") or 600),
                       ttl_s=int(ttl) if ttl is not None else None,
                       sizes=tuple(int(i.get("sizeBytes") or 0)
                                   for i in spec.get("images") or []),
                       artifacts=frozenset(n for n, i in enumerate(spec.get("images") or [])
                                           if i.get("kind") == ARTIFACT))


def job_name(prewarm: str, target: Target) -> str:
    suffix = short_hash(f"{target.cluster}/{target.node}", 10)
    return f"{fit(f'ipw-{prewarm}', JOB_NAME_MAX - 11)}-{suffix}"


def image_volume(name: str, reference: str) -> Obj:
    """An image volume (an OCI artifact or image, mounted read-only; the kubelet pulls it)."""
    return {"name": name, "image": {"reference": reference, "pullPolicy": "IfNotPresent"}}


def _noop(name: str, image: str) -> Obj:
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "command": list(NOOP_COMMAND), "resources": WORK_RESOURCES,
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}}}


def _pull_artifacts(spec: PrewarmSpec, containers: list[Obj], out: Obj) -> None:
    """Artifacts (no shell to run) are pulled as image volumes, mounted read-only into the
    first no-op container (one in ``ARTIFACT_RUNNER`` when every entry is an artifact)."""
    if not containers:
        containers.append(_noop("artifacts", ARTIFACT_RUNNER))
    out["volumes"] = [image_volume(f"artifact-{i}", spec.images[i])
                      for i in sorted(spec.artifacts)]
    containers[0]["volumeMounts"] = [{"name": f"artifact-{i}", "mountPath": f"/artifacts/{i}",
                                      "readOnly": True} for i in sorted(spec.artifacts)]


def work_pod_spec(spec: PrewarmSpec, node: str, pull_secrets: tuple[str, ...]) -> Obj:
    """The pod of one node's pull: every image, a no-op each; artifacts as image volumes."""
    containers = [_noop(f"image-{i}", image) for i, image in enumerate(spec.images)
                  if i not in spec.artifacts]
    out: Obj = {"nodeName": node, "restartPolicy": "Never", "containers": containers,
                "automountServiceAccountToken": False, "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 0,
                "tolerations": [{"operator": "Exists"}],  # the node was chosen by the tenant
                "securityContext": {"runAsNonRoot": True, "runAsUser": NOOP_USER,
                                    "seccompProfile": {"type": "RuntimeDefault"}}}
    if spec.artifacts:
        _pull_artifacts(spec, containers, out)
    if pull_secrets:
        out["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    return out


def provided_images(spec: PrewarmSpec) -> str:
    """What a succeeded pull puts on its node, with the size hints (syncer/warm_nodes.py)."""
    sizes = spec.sizes or (0,) * len(spec.images)
    return provides(dict(zip(spec.images, sizes, strict=False)))


def translate_prewarm_job(prewarm: Obj, spec: PrewarmSpec, target: Target, *, tenant: str,
                          edge_namespace: str, pull_secrets: tuple[str, ...] = ()) -> Obj:
    name = prewarm["metadata"]["name"]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(name, target), "namespace": edge_namespace,
                         "labels": {**markers.marker_labels(tenant), PREWARM_LABEL: name},
                         "annotations": {**markers.marker_annotations(prewarm),
                                         markers.EDGE_NODE: target.node}},
            "spec": {"completions": 1, "parallelism": 1, "backoffLimit": spec.backoff_limit,
                     "activeDeadlineSeconds": spec.timeout_s,
                     "template": {"metadata": {"labels": {PREWARM_LABEL: name},
                                               "annotations": {PROVIDES: provided_images(spec)}},
                                  "spec": work_pod_spec(spec, target.node, pull_secrets)}}}


def prewarm_status(states: Mapping[Target, NodeState | None], previous: Obj, now: str) -> Obj:
    """The status for the nodes' states (None: its Job not created yet)."""
    totals = counts(states.values())
    finished = totals["succeeded"] + totals["failed"]
    if not states:
        phase, message = "Pending", "no edge node matches the target"
    elif finished == totals["desired"]:
        phase = "Failed" if totals["failed"] else "Succeeded"
        message = f"{totals['succeeded']}/{totals['desired']} nodes pulled every image"
    else:
        phase = "Running" if any(s is not None for s in states.values()) else "Pending"
        message = f"{finished}/{totals['desired']} nodes finished"
    status: Obj = {"phase": phase, "message": message, **totals,
                   "clusters": per_cluster(states),
                   "succeededNodes": nodes_in(states, "succeeded"),
                   "failedNodes": failed_nodes(states),
                   "startTime": previous.get("startTime") or now}
    if phase in ("Succeeded", "Failed"):
        status["completionTime"] = previous.get("completionTime") or now
    return status


def to_create(states: Mapping[Target, NodeState | None], parallelism: int) -> list[Target]:
    """Targets whose Job to create now: in order, while fewer than ``parallelism`` run."""
    active = sum(1 for s in states.values() if s is not None and s.state == "active")
    room = max(0, parallelism - active)
    return sorted(t for t, s in states.items() if s is None)[:room]
