"""Placer: the pod syncer's view of the fusion scheduler (scheduler/).

The syncer owns the informers; the placer owns the scheduler's snapshot and
is fed from the edge clusters' node and pod events (every pod, not only
fusionvc's). ``place`` answers with a Placement or with kube-scheduler's
"0/N nodes are available: ..." message. Listeners hear of every change that
may let a pending pod fit, so unschedulable pods are retried then, not in a loop.

The scheduler sees every edge node under its virtual node's name
(names.virtual_node_name) and every edge pod of fusionvc's as its tenant's pod
(markers: tenant, tenant namespace, labels, required anti-affinity and the
terms that weigh in other pods' scores), so a tenant's nodeName, hostname
selectors and inter-pod rules speak its own names. namespaceSelectors of
inter-pod terms match the labels of the tenant's own Namespace objects.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from scheduler import (
    DEFAULT_POLICY,
    ClusterSnapshot,
    Placement,
    Scheduler,
    SchedulerObserver,
    Unschedulable,
)
from scheduler.podaffinity import TenantPod, name_label_only, tenant_pod
from scheduler.resources import pod_resources
from syncer.bound_claims import BoundClaims
from syncer.core import markers
from syncer.core.names import virtual_node_name
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES, NODES, PODS, PVCS
from syncer.warm_nodes import WarmNodes

Unplaceable = Unschedulable
__all__ = ["Placement", "Placer", "Unplaceable"]


def _json_annotation(annotations: Mapping[str, Any], key: str, empty: Any) -> Any:
    """A JSON annotation fusionvc wrote, or `empty` when absent or not of its type."""
    text = annotations.get(key)
    if not text:
        return empty  # most pods: no such annotation, nothing to parse
    try:
        value = json.loads(text)
    except ValueError:
        return empty
    return value if isinstance(value, type(empty)) else empty


def tenancy(edge_pod: Mapping[str, Any]) -> TenantPod | None:
    """The tenant's view of one of fusionvc's edge pods; None for every other pod."""
    pod: Any = edge_pod
    tenant, ref = markers.tenant_of(pod), markers.tenant_ref(pod)
    if tenant is None or ref is None:
        return None
    meta = pod.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items()
              if k not in (markers.MANAGED_BY, markers.TENANT)}
    annotations = meta.get("annotations") or {}
    anti = _json_annotation(annotations, markers.POD_ANTI_AFFINITY, [])
    scoring = _json_annotation(annotations, markers.POD_AFFINITY_SCORING, {})
    return tenant_pod(tenant, ref[0], labels, anti, scoring)


def namespace_labels(tenant: TenantConn) -> Callable[[str], Mapping[str, str]]:
    """The labels of the tenant's namespaces, from its informer cache ({} when gone; only
    the name label when the tenant's namespaces are not watched)."""
    if NAMESPACES.plural not in tenant.informers:
        return name_label_only

    def lookup(namespace: str) -> Mapping[str, str]:
        found = tenant.get(NAMESPACES, "", namespace)
        return (found.get("metadata") or {}).get("labels") or {} if found else {}
    return lookup


class Placer:
    def __init__(self, observer: SchedulerObserver | None = None, assume_ttl: float = 30.0) -> None:
        self.snapshot = ClusterSnapshot(clock=time.monotonic, assume_ttl=assume_ttl,
                                        node_namer=virtual_node_name, tenancy=tenancy)
        self.scheduler = Scheduler(self.snapshot, observer=observer)
        self.warm = WarmNodes()  # images and datasets put on nodes by fusionvc's work pods
        self.claims = BoundClaims()  # datasets count only where their claim is Bound

    def add_listener(self, listener: Callable[[int], None]) -> Callable[[], None]:
        return self.snapshot.add_listener(listener)

    def place(self, tenant: TenantConn, pod: Obj,
              clusters: frozenset[str] | None = None) -> Placement | Unschedulable:
        """A Placement, or Unschedulable; for a pod whose nodeName is set (by the tenant or
        its own scheduler), its admission to exactly that node (unknown_node: no such node).
        ``clusters`` narrows the tenant's allowed clusters further (RuntimeClass handlers)."""
        policy = tenant.scheduling or DEFAULT_POLICY
        if clusters is not None:
            allowed = clusters if policy.allowed_clusters is None else (
                clusters & policy.allowed_clusters)
            policy = dataclasses.replace(policy, allowed_clusters=allowed)
        return self.scheduler.schedule(pod, policy, tenant.name, namespace_labels(tenant))

    def policy_changed(self) -> None:
        """A tenant's scheduling policy changed: pending pods get another try."""
        self.snapshot.policy_changed()

    def assume(self, cluster: str, node: str, edge_pod: Obj) -> None:
        self.snapshot.assume(cluster, node, edge_pod)

    def forget(self, cluster: str, namespace: str, name: str) -> None:
        self.snapshot.forget(cluster, namespace, name)

    def edge_cluster_changed(self, edge: EdgeConn, *, healthy: bool = True,
                             removed: bool = False) -> None:
        if removed:
            self.snapshot.remove_cluster(edge.name)
            return
        self.snapshot.set_cluster(edge.name, edge.region, healthy and not edge.unschedulable,
                                  edge.latency_ms, edge.spec.tolerable_taints)

    @property
    def edge_watches(self) -> tuple[WatchSpec, ...]:
        """Every node and every pod of every edge (not only fusionvc's): the snapshot counts
        what really runs there."""
        return (WatchSpec(NODES), WatchSpec(PODS), WatchSpec(PVCS, markers.MANAGED_SELECTOR))

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None, new: Obj | None) -> None:
        if watch == NODES.plural:
            self.edge_node_event(edge, old, new)
        elif watch == PODS.plural:
            self.edge_pod_event(edge, old, new)
        elif watch == PVCS.plural and edge.name in self.snapshot.clusters:
            self._rewarm(edge.name, self.claims.claim_event(edge.name, old, new))

    def resize_shortfall(self, cluster: str, edge_pod: Obj,
                         resized: Obj) -> tuple[str, str] | None:
        """(reason, message) of the kubelet's PodResizePending when ``resized`` (the edge pod
        with new resources) does not fit its node: Infeasible beyond the node's allocatable,
        Deferred beyond what the other pods leave free. None when it fits (or the node is
        unknown: the edge decides)."""
        info = self.snapshot.node(cluster, edge_pod["spec"].get("nodeName", ""))
        if info is None:
            return None
        before, after = pod_resources(edge_pod).requests, pod_resources(resized).requests
        for name, amount in after.items():
            allocatable = info.facts.allocatable.get(name, 0)
            if amount > allocatable:
                return "Infeasible", (f"Node didn't have enough capacity: {name}, requested: "
                                      f"{amount}, capacity: {allocatable}")
            used = allocatable - info.free.get(name, 0) - before.get(name, 0)
            if used + amount > allocatable:
                return "Deferred", (f"Node didn't have enough resource: {name}, requested: "
                                    f"{amount}, used: {used}, capacity: {allocatable}")
        return None

    def score_plugin_names(self) -> frozenset[str]:
        return self.scheduler.profile.score_plugin_names()

    def edge_node_event(self, edge: EdgeConn, old: Obj | None, new: Obj | None) -> None:
        if edge.name not in self.snapshot.clusters:
            return
        if new is None:
            assert old is not None
            self.snapshot.remove_node(edge.name, old["metadata"]["name"])
            self.warm.forget_node(edge.name, old["metadata"]["name"])
            self.claims.forget_node(edge.name, old["metadata"]["name"])
        else:
            self.snapshot.upsert_node(edge.name, self._merged(edge.name, new))

    def edge_pod_event(self, edge: EdgeConn, old: Obj | None, new: Obj | None) -> None:
        if edge.name not in self.snapshot.clusters:
            return
        if new is None:
            assert old is not None
            meta = old["metadata"]
            self.snapshot.remove_pod(edge.name, meta["namespace"], meta["name"])
        else:
            self.snapshot.upsert_pod(edge.name, new)
        self._rewarm(edge.name, self.warm.pod_event(edge.name, old, new))

    def _merged(self, cluster: str, node: Mapping[str, Any]) -> Mapping[str, Any]:
        bound = self.claims.datasets(cluster, node["metadata"]["name"])
        return self.warm.merged(cluster, node, bound)

    def _rewarm(self, cluster: str, node: str | None) -> None:
        """The node's images again, after what its work pods or claims provide changed."""
        info = self.snapshot.node(cluster, node) if node else None
        if info is not None:
            self.snapshot.upsert_node(cluster, self._merged(cluster, info.node))

    def known_regions(self) -> set[str]:
        return self.snapshot.known_regions()
