"""SyncContext: the typed collaborators every syncer works with.

Syncers never look each other up by name. A syncer that offers a service to the
others (edge namespaces, virtual nodes, objects that follow pods to the edge)
registers itself on the context when it is built, under a Protocol the others
call. A context built without such a syncer answers with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from syncer.core.keys import WorkKey
from syncer.core.queue import FairQueue
from syncer.core.recorder import EventRecorder
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.client import KubeClient
from syncer.kube.limiter import WriteLimiter

if TYPE_CHECKING:
    from syncer.metricsapi.translate import PodUsage
    from syncer.placement import Placer


class EdgeNamespaces(Protocol):
    """Makes sure a tenant namespace has its edge namespace (with isolation) on an edge."""

    async def ensure(self, tenant: TenantConn, edge: EdgeConn, namespace: str) -> str: ...


class VirtualNodes(Protocol):
    """Makes sure the tenant has the virtual node of an edge node."""

    async def ensure(self, tenant: TenantConn, edge: EdgeConn, node: str) -> str: ...


class PodDependents(Protocol):
    """A kind whose objects follow pods to the edge (ConfigMaps, Secrets)."""

    def keys_for_pod(self, tenant: str, pod: Obj) -> Iterable[WorkKey]: ...

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None: ...


@dataclass(frozen=True)
class ClusterConstraint:
    """Where one pod may run, by one kind's rule; ``reason`` says why elsewhere not."""

    clusters: frozenset[str]
    reason: str  # in tenant terms, e.g. 'RuntimeClass "gpu" (handler nvidia)'


class PlacementConstraints(Protocol):
    """A kind that limits which edge clusters a pod may be placed in (RuntimeClasses)."""

    def constraint(self, tenant: TenantConn, pod: Obj) -> ClusterConstraint | None: ...


class PodUsageLookup(Protocol):
    """Measured usage of edge pods (syncer/metricsapi's poll of every edge's metrics-server)."""

    def usage(self, edge: str, namespace: str, name: str) -> PodUsage | None: ...


class EdgeListener(Protocol):
    """Something outside the syncers fed by edge watch events (the placer's snapshot)."""

    @property
    def edge_watches(self) -> tuple[WatchSpec, ...]: ...

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> None: ...


class EdgeAdmission(Protocol):
    """Whether fusionvc may place pods on and write to an edge cluster (failover)."""

    def admitted(self, edge: str) -> bool: ...


class _AlwaysAdmitted:
    def admitted(self, edge: str) -> bool:
        return True


class _Unregistered:
    """Stands for a collaborator no registered syncer provides."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def ensure(self, tenant: TenantConn, edge: EdgeConn, name: str) -> str:
        raise LookupError(f"no registered syncer provides {self.what}")


def _always() -> bool:
    return True


@dataclass
class SyncContext:
    tenants: dict[str, TenantConn]
    edges: dict[str, EdgeConn]
    queue: FairQueue
    recorder: EventRecorder
    placer: Placer
    is_leader: Callable[[], bool] = _always
    # Every Tenant and EdgeCluster the management cluster lists has had its connection
    # tried (made or refused), set by Management. Before that the edges in ``edges`` are
    # not all there: a restarted leader that connected a tenant before its edges saw no
    # ready pod anywhere and published empty GSLB records.
    fleet_known: Callable[[], bool] = _always
    # (InternalIP, port) of the kubelet endpoint that virtual nodes advertise (syncer/kubelet)
    kubelet_address: tuple[str, int] | None = None
    namespaces: EdgeNamespaces = field(
        default_factory=lambda: _Unregistered("edge namespaces"))
    virtual_nodes: VirtualNodes = field(
        default_factory=lambda: _Unregistered("virtual nodes"))
    pod_dependents: list[PodDependents] = field(default_factory=list)
    placement_constraints: list[PlacementConstraints] = field(default_factory=list)
    # The management cluster, set by Management: for kinds that publish there (GSLB records).
    management: KubeClient | None = None
    namespace: str = "fusionvc-system"  # fusionvc's namespace in the management cluster
    admission: EdgeAdmission = field(default_factory=_AlwaysAdmitted)
    # Usage of edge pods, set when the metrics API runs (--metrics-api-port): ServiceDomain load.
    pod_usage: PodUsageLookup | None = None
    # Seconds between renewals of a virtual node's Lease (--node-heartbeat; the kubelet's 10 s
    # by default): syncer/kinds/node_heartbeat.py.
    node_heartbeat_s: float = 10.0
    # The cap on writes shared by every tenant and edge client (--write-qps; None: no cap),
    # given to each client Management connects: kube/limiter.py.
    write_limiter: WriteLimiter | None = None
