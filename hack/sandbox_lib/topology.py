"""Reads and validates config/sandbox.yaml into typed objects.

Every error names the field that is wrong, as a path into the file
(``clusters[3].role``), so a typo stops ``up`` with a message a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROLES = ("management", "tenant", "edge")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class TopologyError(ValueError):
    """The topology file is malformed; the message names the field."""


@dataclass(frozen=True)
class NodeGroup:
    name: str
    count: int
    arch: str
    cpu: str
    memory: str
    pods: int = 110
    gpu: int = 0
    gpu_model: str = ""
    price_per_hour: str = "0"
    zone: str = ""
    used_gpus: int = 0
    taints: tuple[dict[str, str], ...] = ()

    def node_names(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(self.count)]


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    role: str
    region: str = ""
    latency_ms: dict[str, int] = field(default_factory=dict)
    nodes: tuple[NodeGroup, ...] = ()
    tenant: dict[str, Any] = field(default_factory=dict)
    runtime_handlers: tuple[str, ...] = ()  # EdgeCluster.spec.runtimeHandlers
    entrance: tuple[dict[str, str], ...] = ()  # GSLB: [{address, carrier}] (edges)


@dataclass(frozen=True)
class Topology:
    user_regions: tuple[str, ...]
    clusters: tuple[ClusterSpec, ...]
    user_networks: tuple[dict[str, Any], ...] = ()  # GSLB: UserRegion specs by name
    # Virtual node Lease renewal of the sandbox's syncer (--node-heartbeat); the tenant
    # controller-managers' --node-monitor-grace-period follows it (components.py).
    node_heartbeat_s: float = 10.0
    # kube-apiservers serve /debug/pprof (`hack/sandbox up --apiserver-profiling`).
    apiserver_profiling: bool = False

    def by_role(self, role: str) -> list[ClusterSpec]:
        return [c for c in self.clusters if c.role == role]


Kind = type | tuple[type, ...]


def _require(obj: dict[str, Any], key: str, path: str, kind: Kind) -> Any:
    if key not in obj:
        raise TopologyError(f"{path}.{key}: missing required field")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise TopologyError(f"{path}.{key}: must be {expected}, got {value!r}")
    return value


def _optional(obj: dict[str, Any], key: str, path: str, kind: Kind, default: Any) -> Any:
    if key not in obj:
        return default
    return _require(obj, key, path, kind)


NODE_KEYS = {
    "name",
    "count",
    "arch",
    "cpu",
    "memory",
    "pods",
    "gpu",
    "gpuModel",
    "pricePerHour",
    "zone",
    "usedGpus",
    "taints",
}


def _parse_node_group(raw: Any, path: str) -> NodeGroup:
    if not isinstance(raw, dict):
        raise TopologyError(f"{path}: must be a mapping")
    unknown = sorted(set(raw) - NODE_KEYS)
    if unknown:
        raise TopologyError(f"{path}.{unknown[0]}: unknown field")
    group = NodeGroup(
        name=_require(raw, "name", path, str),
        count=_require(raw, "count", path, int),
        arch=_require(raw, "arch", path, str),
        cpu=str(_require(raw, "cpu", path, (str, int))),
        memory=_require(raw, "memory", path, str),
        pods=_optional(raw, "pods", path, int, 110),
        gpu=_optional(raw, "gpu", path, int, 0),
        gpu_model=_optional(raw, "gpuModel", path, str, ""),
        price_per_hour=str(_optional(raw, "pricePerHour", path, (str, int, float), "0")),
        zone=_optional(raw, "zone", path, str, ""),
        used_gpus=_optional(raw, "usedGpus", path, int, 0),
        taints=tuple(_optional(raw, "taints", path, list, [])),
    )
    if group.arch not in ("amd64", "arm64"):
        raise TopologyError(f"{path}.arch: must be amd64 or arm64, got {group.arch!r}")
    if group.count < 1:
        raise TopologyError(f"{path}.count: must be >= 1")
    if group.gpu and not group.gpu_model:
        raise TopologyError(f"{path}.gpuModel: required when gpu > 0")
    if group.used_gpus > group.gpu:
        raise TopologyError(f"{path}.usedGpus: {group.used_gpus} exceeds gpu {group.gpu}")
    return group


def _parse_cluster(raw: Any, path: str, user_regions: tuple[str, ...]) -> ClusterSpec:
    if not isinstance(raw, dict):
        raise TopologyError(f"{path}: must be a mapping")
    name = _require(raw, "name", path, str)
    if not DNS_LABEL.match(name) or len(name) > 40:
        raise TopologyError(f"{path}.name: {name!r} is not a DNS label of at most 40 characters")
    role = _require(raw, "role", path, str)
    if role not in ROLES:
        raise TopologyError(
            f"{path}.role: unknown role {role!r} (expected one of {', '.join(ROLES)})"
        )
    if role != "edge":
        return ClusterSpec(
            name=name,
            role=role,
            tenant=_optional(raw, "tenant", path, dict, {}) if role == "tenant" else {},
        )
    region = _require(raw, "region", path, str)
    latency = _optional(raw, "latencyMs", path, dict, {})
    for user_region in latency:
        if user_region not in user_regions:
            raise TopologyError(f"{path}.latencyMs.{user_region}: not one of userRegions")
    groups = _require(raw, "nodes", path, list)
    nodes = tuple(_parse_node_group(g, f"{path}.nodes[{i}]") for i, g in enumerate(groups))
    handlers = tuple(_optional(raw, "runtimeHandlers", path, list, []))
    return ClusterSpec(name=name, role=role, region=region, latency_ms=dict(latency), nodes=nodes,
                       runtime_handlers=handlers, entrance=_parse_entrance(raw, path))


# ---- GSLB: entrances of edge clusters and the user networks behind user regions ----------


def _parse_entrance(raw: dict[str, Any], path: str) -> tuple[dict[str, str], ...]:
    items = _optional(raw, "entrance", path, list, [])
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("address"), str):
            raise TopologyError(f"{path}.entrance[{i}]: must be a mapping with an address")
        if not item["address"].startswith("127."):
            raise TopologyError(f"{path}.entrance[{i}].address: sandbox addresses stay in 127/8")
    return tuple({"address": i["address"], "carrier": str(i.get("carrier", ""))} for i in items)


def _parse_user_networks(raw: dict[str, Any], user_regions: tuple[str, ...]
                         ) -> tuple[dict[str, Any], ...]:
    items = _optional(raw, "userNetworks", "document", list, [])
    for i, item in enumerate(items):
        path = f"userNetworks[{i}]"
        if not isinstance(item, dict):
            raise TopologyError(f"{path}: must be a mapping")
        _require(item, "name", path, str)
        _require(item, "cidrs", path, list)
        if _require(item, "region", path, str) not in user_regions:
            raise TopologyError(f"{path}.region: not one of userRegions")
        if not all(str(c).startswith("127.") for c in item["cidrs"]):
            raise TopologyError(f"{path}.cidrs: sandbox networks stay in 127/8")
    return tuple(items)


def parse_node_heartbeat(raw: dict[str, Any]) -> float:
    value = float(_optional(raw, "nodeHeartbeatSeconds", "document", (int, float), 10.0))
    if not 1 <= value <= 600:
        raise TopologyError(f"document.nodeHeartbeatSeconds: must be 1 to 600, got {value:g}")
    return value


def parse_topology(raw: Any, source: str = "topology") -> Topology:
    """Validates the decoded YAML document; raises TopologyError naming the field."""
    try:
        if not isinstance(raw, dict):
            raise TopologyError("document: must be a mapping")
        user_regions = tuple(_optional(raw, "userRegions", "document", list, []))
        clusters_raw = _require(raw, "clusters", "document", list)
        clusters = tuple(
            _parse_cluster(c, f"clusters[{i}]", user_regions) for i, c in enumerate(clusters_raw)
        )
        seen: dict[str, int] = {}
        for i, cluster in enumerate(clusters):
            if cluster.name in seen:
                raise TopologyError(
                    f"clusters[{i}].name: duplicate cluster name {cluster.name!r} "
                    f"(also clusters[{seen[cluster.name]}])"
                )
            seen[cluster.name] = i
        if len([c for c in clusters if c.role == "management"]) != 1:
            raise TopologyError("clusters: exactly one cluster must have role management")
        return Topology(user_regions=user_regions, clusters=clusters,
                        user_networks=_parse_user_networks(raw, user_regions),
                        node_heartbeat_s=parse_node_heartbeat(raw))
    except TopologyError as err:
        raise TopologyError(f"{source}: {err}") from None


def load_topology(path: Path) -> Topology:
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise TopologyError(f"{path}: cannot read: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise TopologyError(f"{path}: not valid YAML: {err}") from None
    return parse_topology(raw, str(path))


def with_pods_per_node(topology: Topology, pods: int) -> Topology:
    """Every edge node group with room for ``pods`` pods per node (`hack/sandbox up
    --pods-per-node`: a sandbox for benchmarks at scale; kwok's per-edge /16 pod CIDR
    holds 65,534 pod IPs, so the pod count is the only limit)."""
    if not 1 <= pods <= 5000:
        raise TopologyError(f"--pods-per-node: must be 1 to 5000, got {pods}")
    clusters = tuple(replace(c, nodes=tuple(replace(g, pods=pods) for g in c.nodes))
                     for c in topology.clusters)
    return replace(topology, clusters=clusters)
