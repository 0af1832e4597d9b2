"""Pure parts of ImagePrewarm: its spec, its target nodes, the pull Job of one node, and
the status the tenant reads (``kubectl get imageprewarms``).

One Job per target node, in the tenant's edge namespace, pinned to the node
(``nodeName``), with one container per image running a no-op command: the
kubelet pulls the images to start it. The Job carries fusionvc's markers and
the ImagePrewarm as its tenant reference; its pods carry none (they are not
copies of tenant pods, so the pod syncer leaves them alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.labels import NodeSelectorTerm, SelectorError, parse_term
from syncer.core import markers
from syncer.core.names import fit, short_hash, virtual_node_name
from syncer.kube import Obj

PREWARM_LABEL = "edge.fusionvc.io/imageprewarm"
NOOP_COMMAND = ("/bin/sh", "-c", "exit 0")
JOB_NAME_MAX = 63  # a Job's name becomes a label value of its pods
WORK_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"},
                  "limits": {"cpu": "100m", "memory": "64Mi"}}
NOOP_USER = 65534  # nobody: a no-op needs no privileges, and restricted tenants require it


class PrewarmError(ValueError):
    """A spec the API accepted but fusionvc cannot act on (told to the tenant in status)."""


@dataclass(frozen=True)
class PrewarmSpec:
    images: tuple[str, ...]
    selector: NodeSelectorTerm | None  # None: every node
    clusters: frozenset[str] | None
    regions: frozenset[str] | None
    parallelism: int = 10
    backoff_limit: int = 3
    timeout_s: int = 600
    ttl_s: int | None = None


@dataclass(frozen=True, order=True)
class Target:
    cluster: str
    node: str

    @property
    def virtual_node(self) -> str:
        return virtual_node_name(self.cluster, self.node)


@dataclass(frozen=True)
class NodeState:
    state: str  # "active", "succeeded" or "failed"
    reason: str = ""
    message: str = ""


def _selector(raw: Obj | None) -> NodeSelectorTerm | None:
    if not raw or not (raw.get("matchLabels") or raw.get("matchExpressions")):
        return None
    expressions = [{"key": k, "operator": "In", "values": [v]}
                   for k, v in (raw.get("matchLabels") or {}).items()]
    expressions += list(raw.get("matchExpressions") or [])
    try:
        return parse_term({"matchExpressions": expressions}, "spec.target.nodeSelector")
    except SelectorError as err:
        raise PrewarmError(str(err)) from None


def _set(values: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values else None


def parse_prewarm_spec(spec: Obj) -> PrewarmSpec:
    target = spec.get("target") or {}
    images = tuple(str(i.get("image", "")) for i in spec.get("images") or [])
    if not images or not all(images):
        raise PrewarmError("spec.images: at least one image reference is needed")
    ttl = spec.get("ttlSecondsAfterFinished")
    return PrewarmSpec(images=images, selector=_selector(target.get("nodeSelector")),
                       clusters=_set(target.get("clusters")), regions=_set(target.get("regions")),
                       parallelism=int(spec.get("parallelism") or 10),
                       backoff_limit=int(spec.get("backoffLimit", 3)),
                       timeout_s=int(spec.get("timeoutSeconds") or 600),
                       ttl_s=int(ttl) if ttl is not None else None)


def cluster_matches(spec: PrewarmSpec, cluster: str, region: str) -> bool:
    return ((spec.clusters is None or cluster in spec.clusters)
            and (spec.regions is None or region in spec.regions))


def node_matches(spec: PrewarmSpec, node: Obj, visible_labels: Mapping[str, str]) -> bool:
    """A schedulable node whose tenant-visible labels match the target's selector."""
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    return spec.selector is None or spec.selector.matches(visible_labels, "")


def job_name(prewarm: str, target: Target) -> str:
    suffix = short_hash(f"{target.cluster}/{target.node}", 10)
    return f"{fit(f'ipw-{prewarm}', JOB_NAME_MAX - 11)}-{suffix}"


def work_pod_spec(spec: PrewarmSpec, node: str, pull_secrets: tuple[str, ...]) -> Obj:
    """The pod of one node's pull: every image, a no-op each, nothing mounted."""
    containers = [{"name": f"image-{i}", "image": image, "imagePullPolicy": "IfNotPresent",
                   "command": list(NOOP_COMMAND), "resources": WORK_RESOURCES,
                   "securityContext": {"allowPrivilegeEscalation": False,
                                       "capabilities": {"drop": ["ALL"]}}}
                  for i, image in enumerate(spec.images)]
    out: Obj = {"nodeName": node, "restartPolicy": "Never", "containers": containers,
                "automountServiceAccountToken": False, "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 0,
                "tolerations": [{"operator": "Exists"}],  # the node was chosen by the tenant
                "securityContext": {"runAsNonRoot": True, "runAsUser": NOOP_USER,
                                    "seccompProfile": {"type": "RuntimeDefault"}}}
    if pull_secrets:
        out["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    return out


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
                     "template": {"metadata": {"labels": {PREWARM_LABEL: name}},
                                  "spec": work_pod_spec(spec, target.node, pull_secrets)}}}


def job_state(job: Obj) -> NodeState:
    status = job.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") in ("Complete", "SuccessCriteriaMet"):
            return NodeState("succeeded")
        if cond.get("type") in ("Failed", "FailureTarget"):
            return NodeState("failed", str(cond.get("reason") or "Failed"),
                             str(cond.get("message") or ""))
    if int(status.get("succeeded") or 0) >= 1:
        return NodeState("succeeded")
    return NodeState("active")


def _counts(states: Iterable[NodeState | None]) -> dict[str, int]:
    found = list(states)
    return {"desired": len(found),
            "active": sum(1 for s in found if s is not None and s.state == "active"),
            "succeeded": sum(1 for s in found if s is not None and s.state == "succeeded"),
            "failed": sum(1 for s in found if s is not None and s.state == "failed")}


def prewarm_status(states: Mapping[Target, NodeState | None], previous: Obj, now: str) -> Obj:
    """The status for the nodes' states (None: its Job not created yet)."""
    totals = _counts(states.values())
    clusters = sorted({t.cluster for t in states})
    per_cluster = [{"name": c, **_counts(s for t, s in states.items() if t.cluster == c)}
                   for c in clusters]
    finished = totals["succeeded"] + totals["failed"]
    if not states:
        phase, message = "Pending", "no edge node matches the target"
    elif finished == totals["desired"]:
        phase = "Failed" if totals["failed"] else "Succeeded"
        message = f"{totals['succeeded']}/{totals['desired']} nodes pulled every image"
    else:
        phase = "Running" if any(s is not None for s in states.values()) else "Pending"
        message = f"{finished}/{totals['desired']} nodes finished"
    failed = [{"node": t.virtual_node, "cluster": t.cluster, "reason": s.reason,
               "message": s.message}
              for t, s in sorted(states.items()) if s is not None and s.state == "failed"]
    status: Obj = {"phase": phase, "message": message, **totals, "clusters": per_cluster,
                   "succeededNodes": [t.virtual_node for t, s in sorted(states.items())
                                      if s is not None and s.state == "succeeded"],
                   "failedNodes": failed,
                   "startTime": previous.get("startTime") or now}
    if phase in ("Succeeded", "Failed"):
        status["completionTime"] = previous.get("completionTime") or now
    return status


def to_create(states: Mapping[Target, NodeState | None], parallelism: int) -> list[Target]:
    """Targets whose Job to create now: in order, while fewer than ``parallelism`` run."""
    active = sum(1 for s in states.values() if s is not None and s.state == "active")
    room = max(0, parallelism - active)
    return sorted(t for t, s in states.items() if s is None)[:room]
