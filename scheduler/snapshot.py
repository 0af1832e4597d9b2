"""The scheduler's incremental view of every edge cluster, node and pod.

Owns what the syncer's informers feed in (clusters, nodes, all pods of every
edge cluster), the pods the scheduler assumed but has not seen bound yet
(with a TTL and forget()), the per-owner replica counts used for spreading,
and the `generation` that rises, with listeners called, whenever a change may
let a pending pod fit.

Also owns the tenant's view: every edge node under the name the tenant knows
it by (node_namer, e.g. its virtual node's name; a pure function passed in),
and every tenant's pods (tenancy reads, from an edge pod, whose pod it is) for
inter-pod affinity and topology spread, assumed pods included.

And the nodes per image (``images``, scheduler.image_index), told of every node
change here, so that ImageLocality never re-indexes the fleet; and the
per-node numbers in arrays (``arrays``, scheduler.nodearrays) for the array
forms of the filters and scores.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from .image_index import ImageIndex
from .nodearrays import NodeArrays
from .nodeinfo import ClusterState, NodeGroup, NodeInfo, PodKey, PodRecord, node_facts
from .podaffinity import TenantPod, default_tenancy
from .podinfo import owner_of
from .resources import pod_resources
from .tenantpods import TenantPods

DEFAULT_ASSUME_TTL_SECONDS = 30.0
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})

Listener = Callable[[int], None]
NodeNamer = Callable[[str, str], str]  # (edge cluster, edge node) -> the tenant's name for it
Tenancy = Callable[[Mapping[str, Any]], TenantPod | None]  # edge pod -> its tenant's view


def own_name(cluster: str, node: str) -> str:
    return node


class OwnerCounts:
    """Replicas (real and assumed) of each owner per edge cluster and per region."""

    def __init__(self) -> None:
        self.by_cluster: dict[str, Counter[str]] = {}
        self.by_region: dict[str, Counter[str]] = {}

    def add(self, owner: str, cluster: str, region: str, sign: int) -> None:
        for table, place in ((self.by_cluster, cluster), (self.by_region, region)):
            counts = table.setdefault(owner, Counter())
            counts[place] += sign
            if counts[place] <= 0:
                del counts[place]
                if not counts:
                    del table[owner]


class ClusterSnapshot:
    """Fed by informers; read by the Scheduler. Not thread-safe: use from one event loop."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        assume_ttl: float = DEFAULT_ASSUME_TTL_SECONDS,
        node_namer: NodeNamer = own_name,
        tenancy: Tenancy = default_tenancy,
    ) -> None:
        self.clusters: dict[str, ClusterState] = {}
        self.owners = OwnerCounts()
        self.generation = 0
        self.num_nodes = 0
        self._soft_tainted_nodes = 0  # nodes with a PreferNoSchedule taint
        self.layout_version = 0  # bumped when the set of nodes, groups or prices changes
        self._clock = clock
        self._assume_ttl = assume_ttl
        self._pods: dict[PodKey, PodRecord] = {}
        self._assumed: deque[PodRecord] = deque()  # by expiry time, as the TTL is constant
        self._listeners: list[Listener] = []
        self._groups: list[NodeGroup] | None = None
        self._node_namer = node_namer
        self._tenancy = tenancy
        self._by_visible_name: dict[str, NodeInfo] = {}
        self.tenant_pods = TenantPods()
        self.images = ImageIndex(self.clusters)  # nodes per image, kept node by node
        self.arrays = NodeArrays()  # per-node numbers at each node's index_id

    # -- change notification -------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call listener(generation) after each change that may let a pending pod fit.

        Returns a function that removes the listener.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _may_fit_more(self) -> None:
        self.generation += 1
        for listener in list(self._listeners):
            listener(self.generation)

    def policy_changed(self) -> None:
        """A tenant's policy changed: pending pods may fit now (listeners are called)."""
        self._may_fit_more()

    def _layout_changed(self) -> None:
        self.layout_version += 1
        self._groups = None

    # -- clusters -------------------------------------------------------------

    def set_cluster(
        self,
        name: str,
        region: str,
        healthy: bool,
        latency_ms: Mapping[str, float],
        tolerable_taints: frozenset[str] = frozenset(),
    ) -> None:
        """Add or update an edge cluster. latency_ms: user region -> ms to this cluster;
        tolerable_taints: taint keys every tenant's tolerations may tolerate there."""
        cluster = self.clusters.get(name)
        if cluster is None:
            self.clusters[name] = ClusterState(name, region, healthy, latency_ms, tolerable_taints)
            self.images.structure_changed()
            self._layout_changed()
            self._may_fit_more()
            return
        if tolerable_taints != cluster.tolerable_taints:
            cluster.tolerable_taints = tolerable_taints
            for group in cluster.groups.values():
                group.reshape()
            self._layout_changed()
            self._may_fit_more()
        # Periodic status updates usually change nothing: then keep every cache.
        recovered = healthy and not cluster.healthy
        cluster.healthy = healthy
        moved = dict(latency_ms) != cluster.latency_ms or region != cluster.region
        if moved:
            cluster.set_latency(latency_ms)
            if region != cluster.region:
                cluster.region = region
                for info in list(cluster.nodes.values()):
                    self.upsert_node(name, info.node)
                self.images.structure_changed()
            self._layout_changed()
        if recovered or moved:
            self._may_fit_more()

    def remove_cluster(self, name: str) -> None:
        cluster = self.clusters.pop(name, None)
        if cluster is None:
            return
        for key in [key for key in self._pods if key[0] == name]:
            self._uncount(self._pods.pop(key))
        for info in cluster.nodes.values():
            info.arrays = None
            self._by_visible_name.pop(info.facts.visible_name, None)
            self.images.node_removed(info)
        self.num_nodes -= len(cluster.nodes)
        self._soft_tainted_nodes -= cluster.soft_tainted_nodes
        self._layout_changed()

    def known_regions(self) -> set[str]:
        """Edge regions and user regions of the latency tables: what a policy may name."""
        regions: set[str] = set()
        for cluster in self.clusters.values():
            regions.add(cluster.region)
            regions.update(cluster.groups)
            regions.update(cluster.latency_ms)
        return regions

    # -- nodes ----------------------------------------------------------------

    def upsert_node(self, cluster_name: str, node: Mapping[str, Any]) -> None:
        cluster = self._cluster(cluster_name)
        name = str((node.get("metadata") or {})["name"])
        facts = node_facts(node, cluster.name, cluster.region, self._node_namer(cluster.name, name))
        old = cluster.nodes.get(facts.name)
        if old is not None:
            old.node = node
            if old.facts == facts:
                return  # a heartbeat: nothing the scheduler looks at changed
            self._move_owner_counts(cluster, facts.name, facts.region)
            self._detach(cluster, facts.name)
        info = NodeInfo(node, facts, cluster)
        cluster.attach(info)
        self._by_visible_name[facts.visible_name] = info
        self.num_nodes += 1
        self._soft_tainted_nodes += bool(facts.soft_taints)
        if old is None:
            self.images.node_added(info)
        else:
            self.images.node_replaced(old, info)
        self.arrays.write(info)  # after the ImageIndex gave it its number
        self._layout_changed()
        self._may_fit_more()

    def remove_node(self, cluster_name: str, node_name: str) -> None:
        cluster = self.clusters.get(cluster_name)
        info = None if cluster is None else self._detach(cluster, node_name)
        if info is not None:
            self.images.node_removed(info)
            self._layout_changed()

    def _detach(self, cluster: ClusterState, node_name: str) -> NodeInfo | None:
        info = cluster.detach(node_name)
        if info is None:
            return None
        self.num_nodes -= 1
        self._soft_tainted_nodes -= bool(info.facts.soft_taints)
        info.arrays = None  # its row may go to another node
        if self._by_visible_name.get(info.facts.visible_name) is info:
            del self._by_visible_name[info.facts.visible_name]
        return info

    def has_soft_taints(self) -> bool:
        """Does any node have a PreferNoSchedule taint?"""
        return self._soft_tainted_nodes > 0

    def node(self, cluster_name: str, node_name: str) -> NodeInfo | None:
        cluster = self.clusters.get(cluster_name)
        return None if cluster is None else cluster.nodes.get(node_name)

    def node_by_visible_name(self, name: str) -> NodeInfo | None:
        """The edge node the tenant calls `name` (its virtual node's name), if any."""
        return self._by_visible_name.get(name)

    def node_of(self, record: PodRecord) -> NodeInfo | None:
        cluster = self.clusters.get(record.key[0])
        return None if cluster is None else cluster.nodes.get(record.node_name)

    def node_groups(self) -> list[NodeGroup]:
        """Every non-empty group, in a stable order (rebuilt only when the layout changes)."""
        if self._groups is None:
            self._groups = [
                group for cluster in self.clusters.values() for group in cluster.groups.values()
            ]
        return self._groups

    # -- pods -----------------------------------------------------------------

    def upsert_pod(self, cluster_name: str, pod: Mapping[str, Any]) -> None:
        """Count a pod on its node while it is bound and not terminal."""
        cluster = self._cluster(cluster_name)
        metadata = pod.get("metadata") or {}
        key = (cluster.name, str(metadata.get("namespace", "")), str(metadata["name"]))
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        old = self._pods.get(key)
        if not node_name and old is not None and old.expires_at is not None:
            return  # created but not bound yet: the assumption stands
        if not node_name or phase in _TERMINAL_PHASES:
            self.remove_pod(cluster.name, key[1], key[2])
            return
        source = _source(pod)
        if old is not None and old.expires_at is None and old.node_name == node_name and (
                _same_objects(old.source, source)):
            return  # a status change: what the record is computed from is the same objects
        record = PodRecord(
            key, str(node_name), pod_resources(pod), owner_of(pod), tenant=self._tenancy(pod)
        )
        record.source = source
        unchanged = (
            old is not None
            and old.node_name == record.node_name
            and old.resources == record.resources
        )
        if old is not None:
            same_pod = old.owner == record.owner and old.tenant == record.tenant
            if unchanged and old.expires_at is None and same_pod:
                return
            self._uncount(self._pods.pop(key))
        self._pods[key] = record
        self._count(record)
        if old is not None and not unchanged:
            self._may_fit_more()  # the pod moved or was resized: room may have been freed

    def remove_pod(self, cluster_name: str, namespace: str, name: str) -> None:
        record = self._pods.pop((cluster_name, namespace, name), None)
        if record is not None:
            self._uncount(record)
            self._may_fit_more()

    def assume(self, cluster_name: str, node_name: str, pod: Mapping[str, Any]) -> None:
        """Count the edge pod about to be created on node_name until it is seen bound.

        Call it right after schedule() placed the pod, before creating it. A pod
        already seen bound is not counted twice. (Expired assumptions are dropped
        once per decision, by schedule().)
        """
        cluster = self._cluster(cluster_name)
        metadata = pod.get("metadata") or {}
        key = (cluster.name, str(metadata.get("namespace", "")), str(metadata["name"]))
        old = self._pods.get(key)
        if old is not None:
            if old.expires_at is None:
                return
            self._uncount(self._pods.pop(key))
        expires_at = self._clock() + self._assume_ttl
        record = PodRecord(
            key, node_name, pod_resources(pod), owner_of(pod), expires_at, self._tenancy(pod)
        )
        self._pods[key] = record
        self._assumed.append(record)
        self._count(record)

    def forget(self, cluster_name: str, namespace: str, name: str) -> None:
        """Drop an assumption (the create or bind failed). Real pods are left alone."""
        record = self._pods.get((cluster_name, namespace, name))
        if record is not None and record.expires_at is not None:
            self.remove_pod(cluster_name, namespace, name)

    def is_assumed(self, cluster_name: str, namespace: str, name: str) -> bool:
        record = self._pods.get((cluster_name, namespace, name))
        return record is not None and record.expires_at is not None

    def expire_assumed(self) -> int:
        """Drop the assumptions older than the TTL; returns how many were dropped."""
        now = self._clock()
        expired = 0
        while (
            self._assumed
            and self._assumed[0].expires_at is not None
            and self._assumed[0].expires_at <= now
        ):
            record = self._assumed.popleft()
            if self._pods.get(record.key) is record:
                self._uncount(self._pods.pop(record.key))
                expired += 1
        if expired:
            self._may_fit_more()
        return expired

    # -- accounting -----------------------------------------------------------

    def _cluster(self, name: str) -> ClusterState:
        cluster = self.clusters.get(name)
        if cluster is None:
            raise KeyError(f"unknown edge cluster {name!r}: call set_cluster() first")
        return cluster

    def _count(self, record: PodRecord) -> None:
        cluster = self.clusters[record.key[0]]
        cluster.pods_by_node.setdefault(record.node_name, {})[record.key] = record
        info = cluster.nodes.get(record.node_name)
        record.region = cluster.region if info is None else info.facts.region
        if info is not None:
            info.count(record.resources, 1)
        if record.owner is not None:
            self.owners.add(record.owner, cluster.name, record.region, 1)
        if record.tenant is not None:
            self.tenant_pods.add(record)

    def _uncount(self, record: PodRecord) -> None:
        cluster = self.clusters.get(record.key[0])
        if record.owner is not None:
            self.owners.add(record.owner, record.key[0], record.region, -1)
        if record.tenant is not None:
            self.tenant_pods.remove(record)
        if cluster is None:
            return
        on_node = cluster.pods_by_node.get(record.node_name, {})
        on_node.pop(record.key, None)
        if not on_node:
            cluster.pods_by_node.pop(record.node_name, None)
        info = cluster.nodes.get(record.node_name)
        if info is not None:
            info.count(record.resources, -1)

    def _move_owner_counts(self, cluster: ClusterState, node_name: str, region: str) -> None:
        """Keep the per-region replica counts right when a node's region label changes."""
        for record in cluster.pods_by_node.get(node_name, {}).values():
            if record.owner is not None and record.region != region:
                self.owners.add(record.owner, cluster.name, record.region, -1)
                self.owners.add(record.owner, cluster.name, region, 1)
            record.region = region


def _source(pod: Mapping[str, Any]) -> tuple[object, ...]:
    """The parts of a pod its record is computed from: resources from the spec, owner and
    tenancy from labels, annotations and owner references."""
    metadata = pod.get("metadata") or {}
    return (pod.get("spec"), metadata.get("labels"), metadata.get("annotations"),
            metadata.get("ownerReferences"))


def _same_objects(old: tuple[object, ...], new: tuple[object, ...]) -> bool:
    """The same objects, not equal ones: the syncer's cached pods are read-only, and a new
    version of a pod reuses its unchanged parts (kube/compact.py), so a status update
    comes with the very spec and labels of the version before. Objects from anywhere else
    are new ones, and their record is computed again."""
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))
