"""ResourceSyncer: the shape every synced resource takes, and the context it works in.

A syncer declares what it watches on tenant and edge clusters, maps watch
events to WorkKeys (always tenant-side keys), and reconciles one key at a
time: read caches, translate (pure), apply the difference. ``scan`` lists the
keys the periodic drift scan re-queues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.core.queue import FairQueue
from syncer.core.recorder import EventRecorder
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube.apis import ResourceType
from syncer.kube.client import KubeClient

if TYPE_CHECKING:
    from syncer.placement import Placer

Obj = dict[str, Any]


@dataclass
class SyncContext:
    tenants: dict[str, TenantConn]
    edges: dict[str, EdgeConn]
    queue: FairQueue
    recorder: EventRecorder
    placer: Placer
    syncers: dict[str, ResourceSyncer] = field(default_factory=dict)
    is_leader: Callable[[], bool] = lambda: True
    management: KubeClient | None = None  # set by Management; kinds that publish there
    namespace: str = "fusionvc-system"  # fusionvc's namespace in the management cluster

    def syncer(self, kind: str) -> ResourceSyncer:
        return self.syncers[kind]



class ResourceSyncer:
    kind: ClassVar[str]
    tenant_watches: ClassVar[tuple[WatchSpec, ...]] = ()
    edge_watches: ClassVar[tuple[WatchSpec, ...]] = ()

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        return ()

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        return ()

    async def reconcile(self, key: WorkKey) -> float | None:
        """Brings one object in line; returns seconds until it should be looked at again."""
        raise NotImplementedError

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        """Keys the drift scan re-queues for this tenant (orphans included)."""
        return ()

    # ---- shared by the syncers of objects copied one to one ------------------------------

    def marked_key(self, obj: Obj) -> Iterable[WorkKey]:
        """The tenant key an edge object's markers point back to (none for foreign ones)."""
        tenant, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
        if tenant and ref:
            yield WorkKey(tenant, self.kind, ref[0], ref[1])

    def copied_keys(self, tenant: TenantConn, resource: ResourceType) -> set[WorkKey]:
        """Keys of the tenant's objects and of every edge copy (an orphan's too)."""
        keys = {WorkKey(tenant.name, self.kind, o["metadata"]["namespace"], o["metadata"]["name"])
                for o in tenant.store(resource)}
        return keys | self.edge_copy_keys(tenant, resource)

    def edge_copy_keys(self, tenant: TenantConn, resource: ResourceType) -> set[WorkKey]:
        """Keys of the tenant's copies on every edge. The edge watch of `resource` must index
        copies by "tenant-key" (tenant/namespace/name)."""
        keys: set[WorkKey] = set()
        for edge in self.ctx.edges.values():
            for value in edge.store(resource).index_values("tenant-key"):
                owner, ns, name = value.split("/", 2)
                if owner == tenant.name:
                    keys.add(WorkKey(tenant.name, self.kind, ns, name))
        return keys


REGISTRY: list[type[ResourceSyncer]] = []


def register(cls: type[ResourceSyncer]) -> type[ResourceSyncer]:
    REGISTRY.append(cls)
    return cls
