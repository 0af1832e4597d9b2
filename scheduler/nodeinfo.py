"""What the snapshot knows about one edge node and one edge cluster.

Owns the reading of a Node object (NodeFacts: the tenant-visible labels,
region, arch, price, allocatable, taints, readiness), parsed once per node
update, and the per-node accounting of the pods on it (NodeInfo). Nodes of one
edge cluster in one region form a NodeGroup, the unit the scheduler can accept
or reject as a whole (cluster health, tenant's allowed regions, latency);
within it, nodes that share arch, taints, readiness, cordon and resource names
form a NodeShape (scheduler.shapes), judged once by the static filters.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from .images import node_images
from .nodearrays import NodeArrays, group_serials
from .podaffinity import TenantPod
from .quantity import parse_decimal
from .resources import CPU, GPU, MEMORY, PODS, PodResources, parse_resource_list_lenient
from .shapes import NodeShape, ShapeKey, shape_key
from .taints import NO_EXECUTE, NO_SCHEDULE, PREFER_NO_SCHEDULE, Taint, parse_taints

REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
ARCH_LABEL = "kubernetes.io/arch"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
EDGE_CLUSTER_LABEL = "fusionvc.io/edge-cluster"
PRICE_ANNOTATION = "fusionvc.io/price-per-hour"
# A node that states no architecture is assumed to be the common case.
DEFAULT_ARCH = "amd64"

PodKey = tuple[str, str, str]  # (edge cluster, edge namespace, edge name)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """The scheduling-relevant content of a Node object; equal facts mean nothing changed."""

    name: str  # the edge node's own name
    visible_name: str  # the tenant's name for it: its virtual node's name
    labels: Mapping[str, str]  # as the tenant's virtual node shows them
    region: str
    zone: str | None
    arch: str
    gpu_model: str | None
    price: float | None  # per hour; None when the node has no valid price annotation
    allocatable: Mapping[str, int]
    cpu_capacity: int  # allocatable cpu in milli-cores, and so on: read on hot paths
    memory_capacity: int
    gpu_capacity: int
    pods_capacity: int
    hard_taints: tuple[Taint, ...]  # NoSchedule and NoExecute
    soft_taints: tuple[Taint, ...]  # PreferNoSchedule
    unschedulable: bool
    ready: bool
    # Normalised image -> size in bytes, from status.images (scheduler.images); the kubelet
    # reports pre-warmed images there too.
    images: Mapping[str, int] = field(default_factory=dict)


def _price(node_name: str, annotations: Mapping[str, str]) -> float | None:
    text = annotations.get(PRICE_ANNOTATION)
    if text is None:
        return None
    try:
        return parse_decimal(text)
    except ValueError:
        log.warning("ignoring invalid %s %r on node %s", PRICE_ANNOTATION, text, node_name)
        return None


def _is_ready(status: Mapping[str, Any]) -> bool:
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


@lru_cache(maxsize=4096)
def _interned(allocatable: tuple[tuple[str, int], ...]) -> Mapping[str, int]:
    """One shared read-only mapping per distinct allocatable: nodes come in few kinds, so
    this saves memory, and plugins may memoize per mapping (by identity) within a cycle."""
    return MappingProxyType(dict(allocatable))


def node_facts(
    node: Mapping[str, Any], cluster: str, cluster_region: str, visible_name: str | None = None
) -> NodeFacts:
    """visible_name: the tenant's name for the node (default: its own name); it is also
    the node's kubernetes.io/hostname label, as on the tenant's virtual node."""
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    name = str(metadata["name"])
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    region = labels.get(REGION_LABEL) or cluster_region
    arch = labels.get(ARCH_LABEL) or (status.get("nodeInfo") or {}).get("architecture")
    arch = str(arch or DEFAULT_ARCH)
    visible_name = visible_name or name
    labels[EDGE_CLUSTER_LABEL] = cluster
    labels[HOSTNAME_LABEL] = visible_name
    labels[REGION_LABEL] = region
    labels.setdefault(ARCH_LABEL, arch)
    taints = parse_taints(spec.get("taints"))
    allocatable = _interned(
        tuple(
            sorted(parse_resource_list_lenient(status.get("allocatable"), f"node {name}").items())
        )
    )
    return NodeFacts(
        name=name,
        visible_name=visible_name,
        labels=labels,
        region=region,
        zone=labels.get(ZONE_LABEL),
        arch=arch,
        gpu_model=labels.get(GPU_PRODUCT_LABEL),
        price=_price(name, metadata.get("annotations") or {}),
        allocatable=allocatable,
        cpu_capacity=allocatable.get(CPU, 0),
        memory_capacity=allocatable.get(MEMORY, 0),
        gpu_capacity=allocatable.get(GPU, 0),
        pods_capacity=allocatable.get(PODS, 0),
        hard_taints=tuple(t for t in taints if t.effect in (NO_SCHEDULE, NO_EXECUTE)),
        soft_taints=tuple(t for t in taints if t.effect == PREFER_NO_SCHEDULE),
        unschedulable=bool(spec.get("unschedulable")),
        ready=_is_ready(status),
        images=node_images(status),
    )


class PodRecord:
    """A pod counted on a node: a real pod seen bound, or one the scheduler assumed.

    tenant: the TenantPod view of a tenant's pod (for inter-pod affinity and
    topology spread), None for pods of no tenant. source: the parts of the pod object
    the record was computed from (see ``ClusterSnapshot.upsert_pod``).
    """

    __slots__ = ("expires_at", "key", "node_name", "owner", "region", "resources", "source",
                 "tenant")

    def __init__(
        self,
        key: PodKey,
        node_name: str,
        resources: PodResources,
        owner: str | None,
        expires_at: float | None = None,
        tenant: TenantPod | None = None,
    ) -> None:
        self.key = key
        self.node_name = node_name
        self.resources = resources
        self.owner = owner
        self.region = ""  # set when counted, so that uncounting uses the same region
        self.expires_at = expires_at  # None for a real pod
        self.tenant = tenant
        self.source: tuple[object, ...] = ()


class NodeInfo:
    """One edge node: its facts and the sum of what the pods counted on it request."""

    __slots__ = (
        "allocatable",
        "arrays",
        "cluster",
        "cpu_capacity",
        "facts",
        "free",
        "free_cpu",
        "free_memory",
        "free_pods",
        "group",
        "index_id",
        "memory_capacity",
        "node",
        "nonzero_cpu",
        "nonzero_memory",
        "price",
        "shape",
    )

    # Set by NodeGroup.add() and kept afterwards: always there for a node in the snapshot.
    group: NodeGroup
    shape: NodeShape

    def __init__(self, node: Mapping[str, Any], facts: NodeFacts, cluster: ClusterState) -> None:
        self.node = node  # kept to re-read the facts if the cluster's region changes
        self.facts = facts
        self.cluster = cluster
        # allocatable minus the requests of the counted pods, kept up to date; the
        # three most checked ones are mirrored in attributes for the hot fit check.
        self.free: dict[str, int] = dict(facts.allocatable)
        self.free_cpu = facts.cpu_capacity
        self.free_memory = facts.memory_capacity
        self.free_pods = facts.pods_capacity
        self.nonzero_cpu = 0
        self.nonzero_memory = 0
        # Facts the score loops read for every candidate, one attribute away.
        self.allocatable = facts.allocatable
        self.cpu_capacity = facts.cpu_capacity
        self.memory_capacity = facts.memory_capacity
        self.price = facts.price
        # A small number of its own while it is in a snapshot (kept when its facts change):
        # the position of its score in ImageLocality's tables (scheduler.image_index).
        self.index_id = 0
        # The snapshot's NodeArrays once it wrote the node's row (its counts kept there too).
        self.arrays: NodeArrays | None = None

    def count(self, resources: PodResources, sign: int) -> None:
        """Add (sign 1) or remove (sign -1) one pod's resources."""
        free = self.free
        for name, amount in resources.requests.items():
            free[name] = free.get(name, 0) - sign * amount
        self.free_cpu = free.get(CPU, 0)
        self.free_memory = free.get(MEMORY, 0)
        self.free_pods = free.get(PODS, 0)
        self.nonzero_cpu += sign * resources.nonzero_cpu
        self.nonzero_memory += sign * resources.nonzero_memory
        if self.arrays is not None:
            self.arrays.store_counts(self, resources.requests)

    def requested(self, resource: str) -> int:
        """What the counted pods request of a resource."""
        return self.facts.allocatable.get(resource, 0) - self.free.get(resource, 0)


class NodeGroup:
    """The nodes of one edge cluster in one region, by shape."""

    __slots__ = ("_min_price", "cluster", "region", "serial", "shapes", "size")

    def __init__(self, cluster: ClusterState, region: str) -> None:
        self.cluster = cluster
        self.region = region
        self.serial = next(group_serials)  # its number in NodeArrays.group_serial
        self.shapes: dict[ShapeKey, NodeShape] = {}
        self.size = 0
        self._min_price: float | None = None

    def changed(self) -> None:
        self._min_price = None

    @property
    def min_price(self) -> float:
        """The cheapest effective price per hour in the group (cached until it changes)."""
        if self._min_price is None:
            self._min_price = min(
                (self.cluster.price_of(n) for shape in self.shapes.values() for n in shape.nodes),
                default=0.0,
            )
        return self._min_price

    def add(self, info: NodeInfo) -> None:
        key = shape_key(info.facts, self.cluster.tolerable_taints)
        shape = self.shapes.get(key)
        if shape is None:
            shape = self.shapes[key] = NodeShape(self, key)
        shape.nodes.append(info)
        shape.slots = None
        info.shape = shape
        info.group = self
        self.size += 1

    def remove(self, info: NodeInfo) -> None:
        shape = info.shape
        shape.nodes.remove(info)
        shape.slots = None
        if not shape.nodes:
            del self.shapes[shape.key]
        self.size -= 1

    def reshape(self) -> None:
        """Sort the nodes into shapes again (the cluster's tolerable taints changed)."""
        nodes = [info for shape in self.shapes.values() for info in shape.nodes]
        self.shapes = {}
        self.size = 0
        for info in nodes:
            self.add(info)


class ClusterState:
    """One edge cluster: health, region, latency table, nodes and their pods."""

    __slots__ = (
        "_latency_cache",
        "_median_price",
        "groups",
        "healthy",
        "latency_ms",
        "name",
        "nodes",
        "pods_by_node",
        "region",
        "soft_tainted_nodes",
        "tolerable_taints",
    )

    def __init__(
        self,
        name: str,
        region: str,
        healthy: bool,
        latency_ms: Mapping[str, float],
        tolerable_taints: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        # Taint keys the operator lets every tenant tolerate on this cluster's nodes.
        self.tolerable_taints = tolerable_taints
        self.region = region
        self.healthy = healthy
        self.latency_ms: dict[str, float] = {}
        self._latency_cache: dict[tuple[str, ...], float] = {}
        self.set_latency(latency_ms)
        self.nodes: dict[str, NodeInfo] = {}
        self.groups: dict[str, NodeGroup] = {}
        # Pods by node name, also for nodes not (yet) seen: informers race.
        self.pods_by_node: dict[str, dict[PodKey, PodRecord]] = {}
        self._median_price: float | None = None
        self.soft_tainted_nodes = 0  # nodes with PreferNoSchedule taints

    def set_latency(self, latency_ms: Mapping[str, float]) -> None:
        self.latency_ms = dict(latency_ms)
        self._latency_cache.clear()

    def latency_from(self, user_regions: tuple[str, ...]) -> float:
        """Latency in ms from the nearest of the user regions; inf when none is known."""
        latency = self._latency_cache.get(user_regions)
        if latency is None:
            table = self.latency_ms
            latency = min((table.get(r, math.inf) for r in user_regions), default=math.inf)
            self._latency_cache[user_regions] = latency
        return latency

    @property
    def median_price(self) -> float:
        """Median price of the cluster's priced nodes; 0 when none has a price."""
        if self._median_price is None:
            prices = [n.facts.price for n in self.nodes.values() if n.facts.price is not None]
            self._median_price = statistics.median(prices) if prices else 0.0
        return self._median_price

    def price_of(self, node: NodeInfo) -> float:
        price = node.facts.price
        return self.median_price if price is None else price

    def attach(self, info: NodeInfo) -> None:
        """Put a node into its region's group and count the pods already known on it."""
        self.nodes[info.facts.name] = info
        group = self.groups.get(info.facts.region)
        if group is None:
            group = self.groups[info.facts.region] = NodeGroup(self, info.facts.region)
        group.add(info)
        self.soft_tainted_nodes += bool(info.facts.soft_taints)
        for record in self.pods_by_node.get(info.facts.name, {}).values():
            info.count(record.resources, 1)
        self._prices_changed()

    def detach(self, name: str) -> NodeInfo | None:
        info = self.nodes.pop(name, None)
        if info is None:
            return None
        group = info.group
        group.remove(info)
        self.soft_tainted_nodes -= bool(info.facts.soft_taints)
        if not group.size:
            del self.groups[group.region]
        self._prices_changed()
        return info

    def _prices_changed(self) -> None:
        self._median_price = None
        for group in self.groups.values():
            group.changed()
