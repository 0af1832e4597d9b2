"""What the node-pinned work kinds (ImagePrewarm, EdgeDataset) share: their target nodes, the
state of one node's Job, and the writes of their status and of Job deletions.

A target is a label selector over the labels the tenant's virtual nodes carry, a
set of clusters, a set of regions and a Deployment of the object's namespace
("where this Deployment runs": the nodes its pods are placed on) (all given
parts must match); it is
limited to the clusters and regions the tenant's scheduling policy allows, and
to nodes not cordoned. One Job per target node does the work; ``job_state``
reads how it went and ``counts`` sums states the way both kinds' status shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from scheduler.labels import NodeSelectorTerm, SelectorError, parse_term
from syncer.core import markers
from syncer.core.names import virtual_node_name
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kinds.nodes import translate_node_up
from syncer.kube import Obj
from syncer.kube.apis import JOBS, NODES, PODS, ResourceType


class TargetError(ValueError):
    """A target the API accepted but fusionvc cannot act on (told to the tenant in status)."""


class TargetSpec(Protocol):
    @property
    def selector(self) -> NodeSelectorTerm | None: ...  # None: every node
    @property
    def clusters(self) -> frozenset[str] | None: ...
    @property
    def regions(self) -> frozenset[str] | None: ...
    @property
    def deployment(self) -> str | None: ...


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


def parse_selector(raw: Obj | None, where: str = "spec.target.nodeSelector"
                   ) -> NodeSelectorTerm | None:
    """A LabelSelector (matchLabels, matchExpressions) as a node selector term."""
    if not raw or not (raw.get("matchLabels") or raw.get("matchExpressions")):
        return None
    expressions = [{"key": k, "operator": "In", "values": [v]}
                   for k, v in (raw.get("matchLabels") or {}).items()]
    expressions += list(raw.get("matchExpressions") or [])
    try:
        return parse_term({"matchExpressions": expressions}, where)
    except SelectorError as err:
        raise TargetError(str(err)) from None


def name_set(values: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values else None


def cluster_matches(spec: TargetSpec, cluster: str, region: str) -> bool:
    return ((spec.clusters is None or cluster in spec.clusters)
            and (spec.regions is None or region in spec.regions))


def node_matches(spec: TargetSpec, node: Obj, visible_labels: Mapping[str, str]) -> bool:
    """A schedulable node whose tenant-visible labels match the target's selector."""
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    return spec.selector is None or spec.selector.matches(visible_labels, "")


def owned_by_deployment(pod: Obj, deployment: str) -> bool:
    """A pod of the Deployment's ReplicaSets: the Deployment controller names each one
    ``<deployment>-<pod-template-hash>`` and labels its pods with that hash."""
    meta = pod["metadata"]
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    return bool(template_hash) and any(
        ref.get("kind") == "ReplicaSet" and ref.get("controller")
        and ref.get("name") == f"{deployment}-{template_hash}"
        for ref in meta.get("ownerReferences") or ())


def deployment_nodes(tenant: TenantConn, namespace: str, deployment: str) -> set[Target]:
    """The edge nodes the Deployment's pods are placed on."""
    found: set[Target] = set()
    for pod in tenant.store(PODS):
        if pod["metadata"].get("namespace") != namespace or not owned_by_deployment(
                pod, deployment):
            continue
        where = pod["metadata"].get("annotations") or {}
        if where.get(markers.EDGE_CLUSTER) and where.get(markers.EDGE_NODE):
            found.add(Target(where[markers.EDGE_CLUSTER], where[markers.EDGE_NODE]))
    return found


def target_nodes(edges: Iterable[EdgeConn], tenant: TenantConn, spec: TargetSpec,
                 namespace: str = "") -> list[tuple[Target, str]]:
    """(target, the cluster's region) of every node the target names that the tenant may use;
    ``namespace``: the object's, where a target Deployment is."""
    policy = tenant.scheduling
    only = (deployment_nodes(tenant, namespace, spec.deployment)
            if spec.deployment else None)
    found: list[tuple[Target, str]] = []
    for edge in edges:
        if not edge.synced or edge.unschedulable or not cluster_matches(
                spec, edge.name, edge.region):
            continue
        if policy is not None and (
                (policy.allowed_clusters is not None and edge.name not in
                 policy.allowed_clusters)
                or (policy.allowed_regions is not None and edge.region not in
                    policy.allowed_regions)):
            continue
        for node in edge.store(NODES):
            labels = translate_node_up(edge, node, "")["metadata"]["labels"]
            target = Target(edge.name, node["metadata"]["name"])
            if (only is None or target in only) and node_matches(spec, node, labels):
                found.append((target, edge.region))
    return found


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


def counts(states: Iterable[NodeState | None]) -> dict[str, int]:
    found = list(states)
    return {"desired": len(found),
            "active": sum(1 for s in found if s is not None and s.state == "active"),
            "succeeded": sum(1 for s in found if s is not None and s.state == "succeeded"),
            "failed": sum(1 for s in found if s is not None and s.state == "failed")}


def per_cluster(states: Mapping[Target, NodeState | None]) -> list[Obj]:
    clusters = sorted({t.cluster for t in states})
    return [{"name": c, **counts(s for t, s in states.items() if t.cluster == c)}
            for c in clusters]


def failed_nodes(states: Mapping[Target, NodeState | None]) -> list[Obj]:
    return [{"node": t.virtual_node, "cluster": t.cluster, "reason": s.reason,
             "message": s.message}
            for t, s in sorted(states.items()) if s is not None and s.state == "failed"]


def nodes_in(states: Mapping[Target, NodeState | None], state: str) -> list[str]:
    return [t.virtual_node for t, s in sorted(states.items()) if s is not None and s.state == state]


async def delete_job(edge: EdgeConn, job: Obj) -> None:
    meta = job["metadata"]
    if not meta.get("deletionTimestamp"):
        await edge.client.delete(JOBS, meta["name"], meta["namespace"], uid=meta["uid"],
                                 propagation="Background")


async def write_status(tenant: TenantConn, rt: ResourceType, obj: Obj, status: Obj) -> None:
    """Patches the tenant object's status, unless it already says all of that."""
    status = {**status, "observedGeneration": obj["metadata"].get("generation")}
    have = obj.get("status") or {}
    if all(have.get(k) == v for k, v in status.items()):
        return
    meta = obj["metadata"]
    await tenant.client.patch(rt, meta["name"], {"status": status},
                              namespace=meta["namespace"], subresource="status")
