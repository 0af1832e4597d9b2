"""ResourceSyncer: the shape every synced kind takes, and what all of them share.

A syncer declares what it watches on tenant and edge clusters (with the indexes
it reads), maps watch events to WorkKeys (always tenant-side keys), and
reconciles one key at a time: read caches, translate (pure), apply the
difference. ``scan`` lists the keys the periodic drift scan re-queues.

Written once here, for every kind:
- ``adopt_or_create``: create the edge copy, or adopt an existing one that is this
  tenant's, or refuse a name held by a foreign object (``NameTaken``);
- ``converge_copies``: write the copy where it is wanted, remove this tenant's
  copies everywhere else;
- the keys of copies made one to one (``copied``), for the scan and orphans.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar, Literal

import structlog

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.ownership import is_tampered_copy
from syncer.core.queue import STARTED
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import ResourceType
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
Direction = Literal["down", "up"]
Upsert = Callable[[EdgeConn, Obj | None], Awaitable[None]]


class NameTaken(KubeError):
    """An object fusionvc did not write holds the name of a copy in an edge cluster."""

    def __init__(self, kind: str, namespace: str, name: str, edge: str) -> None:
        self.kind, self.name = kind, name
        where = f"{namespace}/{name}" if namespace else name
        super().__init__(409, "NameTaken",
                         f"{kind} {where} on {edge} exists and is not fusionvc's")

    def for_tenant(self) -> str:
        """The same in tenant terms (no edge namespace)."""
        return (f"{self.kind} {self.name}: an object not managed by fusionvc holds this name "
                "in the edge cluster; it is not overwritten")


class ResourceSyncer:
    kind: ClassVar[str]
    # "down": the tenant object is the source, copies go to edges; "up": the other way.
    direction: ClassVar[Direction] = "down"
    # Set when the kind is copied one to one (same name, the tenant's edge namespace): an
    # edge copy without a tenant object behind it is then an orphan.
    copied: ClassVar[ResourceType | None] = None
    # Cluster-scoped resources whose copies carry the tenant's markers: they live outside
    # the tenant's edge namespaces, so removing a Tenant deletes them by label.
    cluster_scoped_copies: ClassVar[tuple[ResourceType, ...]] = ()
    # Its work has a deadline (virtual nodes: Lease renewals): every key of the kind goes in
    # the queue's DEADLINE lane, ahead of the tenant's other work (core/queue.py).
    deadline: ClassVar[bool] = False
    tenant_watches: ClassVar[tuple[WatchSpec, ...]] = ()
    edge_watches: ClassVar[tuple[WatchSpec, ...]] = ()

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    async def stop(self) -> None:
        """Ends tasks the syncer owns beyond its reconciles (none by default); at shutdown."""

    async def remove_tenant(self, tenant: str) -> None:
        """Removes what the syncer wrote for a deleted Tenant outside its edge namespaces and
        ``cluster_scoped_copies`` (nothing by default); before those are deleted."""

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        return ()

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        """By default, an event of an edge copy (kinds with ``copied``) is its tenant key: the
        old object's too, so removing a marker wakes the key that repairs it."""
        if self.copied is None or watch != self.copied.plural:
            return ()
        keys = {k for obj in (new, old) if obj is not None for k in self.marked_key(obj)}
        return sorted(keys)

    def edge_lane(self, watch: str, old: Obj | None, new: Obj | None) -> int:
        """The queue lane of the keys an edge event yields (unless the kind has a
        ``deadline``): an edge event finishes what was started, so STARTED (core/queue.py)."""
        return STARTED

    async def reconcile(self, key: WorkKey) -> float | None:
        """Brings one object in line; returns seconds until it should be looked at again."""
        raise NotImplementedError

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        """Keys the drift scan re-queues for this tenant (orphans included)."""
        return ()

    async def before_caches_synced(self, key: WorkKey) -> float | None:
        """What a key may do while the tenant's or an edge's caches are still listing (after
        a restart); seconds until it should come back, or None (the default) to wait until
        every cache synced. Only work that a partial view cannot get wrong belongs here."""
        return None

    # ---- keys of objects copied one to one ---------------------------------------------

    def marked_key(self, obj: Obj) -> Iterable[WorkKey]:
        """The tenant key an edge object's markers point back to (none for foreign ones)."""
        tenant, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
        if tenant and ref:
            yield WorkKey(tenant, self.kind, ref[0], ref[1])

    def copied_keys(self, tenant: TenantConn) -> set[WorkKey]:
        """Keys of the tenant's objects and of every edge copy (an orphan's too)."""
        assert self.copied is not None
        keys = {WorkKey(tenant.name, self.kind, o["metadata"]["namespace"], o["metadata"]["name"])
                for o in tenant.store(self.copied)}
        return keys | self.edge_copy_keys(tenant)

    def edge_copy_keys(self, tenant: TenantConn) -> set[WorkKey]:
        """Keys of the tenant's copies on every edge. The edge watch of ``copied`` must index
        copies by "tenant-key" (markers.tenant_key_index)."""
        assert self.copied is not None
        keys: set[WorkKey] = set()
        for edge in self.ctx.edges.values():
            for value in edge.store(self.copied).index_values("tenant-key"):
                owner, ns, name = value.split("/", 2)
                if owner == tenant.name:
                    keys.add(WorkKey(tenant.name, self.kind, ns, name))
        return keys

    # ---- writing copies ------------------------------------------------------------------

    async def adopt_or_create(self, tenant: TenantConn, edge: EdgeConn, resource: ResourceType,
                              want: Obj, have: Obj | None) -> Obj | None:
        """Creates ``want`` when the edge cache has no object of its name and returns None.
        Otherwise returns the existing object (read from the server after a 409) for the
        caller to update, when it is this tenant's; raises NameTaken when it is foreign."""
        meta = want["metadata"]
        namespace = meta.get("namespace", "")
        if have is None:
            try:
                await edge.client.create(resource, want, namespace=namespace or None)
                return None
            except KubeError as err:
                if not err.conflict:
                    raise
                have = await edge.client.get(resource, meta["name"], namespace or None)
        if not markers.is_managed(have, tenant.name) and not is_tampered_copy(edge, tenant, have):
            raise NameTaken(resource.kind, namespace, meta["name"], edge.name)
        return have

    async def converge_copies(self, tenant: TenantConn, resource: ResourceType, key: WorkKey,
                              wanted: set[str], upsert: Upsert,
                              spare: frozenset[str] = frozenset()) -> None:
        """On every synced edge: ``upsert`` where the copy is wanted, delete this tenant's
        copy where it is not (foreign objects are never touched); edges in ``spare`` are
        left alone this time."""
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        for edge in self.ctx.edges.values():
            if not edge.synced or not self.ctx.admission.admitted(edge.name):
                continue
            have = edge.get(resource, ens, key.name)
            if edge.name in wanted:
                await upsert(edge, have)
            elif edge.name in spare or have is None:
                continue
            elif markers.is_managed(have, tenant.name):
                log.info("removing unused copy", tenant=tenant.name, edge=edge.name,
                         kind=self.kind, name=f"{ens}/{key.name}")
                await edge.client.delete(resource, key.name, ens, uid=have["metadata"]["uid"])
