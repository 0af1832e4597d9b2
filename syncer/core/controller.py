"""Controller: informer events -> fair work queue -> reconcile(key), and the drift scan.

It builds the syncers it is given (one per kind), turns every watch
event of every tenant and edge cluster into WorkKeys, runs the workers that
reconcile them with a timeout each, retries failures with backoff, and
periodically re-queues every key the syncers list (the safety net for
anything a watch missed, and how orphans are found).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import structlog
from cachetools import TTLCache

from syncer.core import markers
from syncer.core.context import EdgeListener, SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.queue import DEADLINE, NEW, QueueShutDown
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import ClusterConn, EdgeConn, TenantConn, WatchSpec, merge_specs
from syncer.kube import Obj
from syncer.kube.apis import ResourceType
from syncer.kube.client import WRITES, KubeError
from syncer.kube.informer import Handler
from syncer.ops.metrics import Metrics

log = structlog.get_logger(__name__)
Reconciler = Callable[[WorkKey], Awaitable[float | None]]
TENANT_DELETE_TTL = 600.0
SCANNED_MAX = 200_000
UNPARK_INTERVAL_S = 0.2  # how often keys waiting for their tenant's caches are looked at


def build_syncers(ctx: SyncContext,
                  classes: Sequence[type[ResourceSyncer]]) -> dict[str, ResourceSyncer]:
    """One syncer per class, in order (collaborators register on ``ctx`` as they are built)."""
    syncers: dict[str, ResourceSyncer] = {}
    for cls in classes:
        if cls.kind in syncers:
            raise ValueError(f"two syncers for kind {cls.kind}: "
                             f"{type(syncers[cls.kind]).__name__} and {cls.__name__}")
        syncers[cls.kind] = cls(ctx)
    return syncers


class Controller:
    def __init__(self, ctx: SyncContext, metrics: Metrics,
                 syncers: Sequence[type[ResourceSyncer]], *,
                 listeners: Sequence[EdgeListener] = (), workers: int = 8,
                 reconcile_timeout: float = 60.0) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.workers = workers
        self.reconcile_timeout = reconcile_timeout
        self.syncers = build_syncers(ctx, syncers)
        self.listeners = tuple(listeners)
        self._reconcilers: dict[str, Reconciler] = {}  # kinds outside tenants (Tenant objects)
        self.tenant_specs = merge_specs([w for s in self.syncers.values()
                                         for w in s.tenant_watches])
        self.edge_specs = merge_specs([w for s in self.syncers.values() for w in s.edge_watches]
                                      + [w for x in self.listeners for w in x.edge_watches])
        self._tasks: list[asyncio.Task[None]] = []
        # Tenant objects the tenant deleted (watch event): removing their copies is ordinary
        # clean-up, not an orphan found.
        self._tenant_deleted: TTLCache[WorkKey, bool] = TTLCache(
            maxsize=100_000, ttl=TENANT_DELETE_TTL)
        self._managed_kinds: dict[str, set[str]] = {}
        self._scanned: set[WorkKey] = set()  # queued by the drift scan, not yet processed
        # Keys of tenants whose caches (or the edges') are not synced yet, by tenant.
        self._parked: dict[str, set[WorkKey]] = {}

    def cluster_scoped_copies(self) -> tuple[ResourceType, ...]:
        """Cluster-scoped resources some syncer copies with the tenant's markers."""
        return tuple(dict.fromkeys(rt for s in self.syncers.values()
                                   for rt in s.cluster_scoped_copies))

    def add_reconciler(self, kind: str, reconcile: Reconciler) -> None:
        """Work of a kind no syncer owns (the management cluster's Tenant objects)."""
        self._reconcilers[kind] = reconcile

    # ---- wiring informers to the queue -------------------------------------------------

    def start_tenant(self, tenant: TenantConn) -> None:
        self._start(tenant, self.tenant_specs, self.tenant_handlers(tenant))

    def start_edge(self, edge: EdgeConn) -> None:
        self._start(edge, self.edge_specs, self.edge_handlers(edge))

    def tenant_handlers(self, tenant: TenantConn) -> Callable[[WatchSpec], Handler]:
        """Per watch of a tenant: its events, as keys of every syncer watching it."""
        def handler_for(spec: WatchSpec) -> Handler:
            interested = [s for s in self.syncers.values()
                          if any(w.id == spec.id for w in s.tenant_watches)]

            def handle(_type: str, old: Obj | None, new: Obj | None) -> None:
                for syncer in interested:
                    if new is None and old is not None and syncer.copied is not None \
                            and syncer.copied.plural == spec.id:
                        self._note_tenant_delete(tenant, syncer.kind, old)
                    lane = DEADLINE if syncer.deadline else NEW
                    for key in syncer.tenant_event(tenant, spec.id, old, new):
                        self.ctx.queue.add(key, lane)
            return handle
        return handler_for

    def _note_tenant_delete(self, tenant: TenantConn, kind: str, old: Obj) -> None:
        meta = old["metadata"]
        self._tenant_deleted[WorkKey(tenant.name, kind, meta.get("namespace", ""),
                                     meta["name"])] = True

    def edge_handlers(self, edge: EdgeConn) -> Callable[[WatchSpec], Handler]:
        """Per watch of an edge: listeners first (the placer's snapshot), then the syncers."""
        def handler_for(spec: WatchSpec) -> Handler:
            listeners = [x for x in self.listeners
                         if any(w.id == spec.id for w in x.edge_watches)]
            interested = [s for s in self.syncers.values()
                          if any(w.id == spec.id for w in s.edge_watches)]

            def handle(_type: str, old: Obj | None, new: Obj | None) -> None:
                for listener in listeners:
                    listener.edge_event(edge, spec.id, old, new)
                for syncer in interested:
                    # An edge event finishes what was started (a copy's status up): not
                    # queued behind the tenant's creates (core/queue.py), unless the kind
                    # says this one can wait (a pod still starting: kinds/pod_lanes.py).
                    lane = DEADLINE if syncer.deadline else syncer.edge_lane(spec.id, old, new)
                    for key in syncer.edge_event(edge, spec.id, old, new):
                        self.ctx.queue.add(key, lane)
            return handle
        return handler_for

    def _start(self, conn: ClusterConn, specs: list[WatchSpec],
               handler_for: Callable[[WatchSpec], Handler]) -> None:
        m = self.metrics
        conn.start(specs, handler_for,
                   on_relist=lambda r: m.informer_relists.labels(conn.name, r).inc(),
                   on_restart=lambda r: m.informer_watch_restarts.labels(conn.name, r).inc())

    # ---- workers ---------------------------------------------------------------------------

    def start(self, scan_interval: float) -> None:
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"worker-{i}"))
        self._tasks.append(asyncio.create_task(self._scan_loop(scan_interval), name="drift-scan"))
        self._tasks.append(asyncio.create_task(self._unpark_loop(), name="unpark"))

    async def stop(self, grace: float) -> None:
        """Stops taking work; in-flight reconciles get `grace` seconds to finish."""
        self.ctx.queue.shutdown()
        workers = [t for t in self._tasks if t.get_name().startswith("worker-")]
        for task in self._tasks:
            if task not in workers:
                task.cancel()
        _, pending = await asyncio.wait(workers, timeout=grace) if workers else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.gather(*(s.stop() for s in self.syncers.values()), return_exceptions=True)

    def reconciler(self, kind: str) -> Reconciler:
        if kind in self._reconcilers:
            return self._reconcilers[kind]
        return self.syncers[kind].reconcile

    async def _worker(self) -> None:
        queue = self.ctx.queue
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                await self.process(key)
            finally:
                queue.done(key)
            # A reconcile that writes nothing never suspends, and nor does get() with keys
            # queued: without this, the workers drained a restart's 10,000 such keys in one
            # hold of the event loop (10 s at load 20), and the leader Lease was lost.
            await asyncio.sleep(0)

    def _caches_ready(self, key: WorkKey) -> bool:
        """Tenant work waits for the tenant's and every edge's caches, and for every edge to
        be connected at all: deciding on a partial view could place a pod twice, remove a
        copy that is still used, or publish a GSLB record without the sites it has."""
        if not key.tenant:
            return True
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return True  # the syncer will find nothing to do
        return (tenant.synced and self.ctx.fleet_known()
                and all(e.synced for e in self.ctx.edges.values()))

    async def _before_caches_synced(self, key: WorkKey, syncer: ResourceSyncer | None) -> None:
        """The key's early work (a virtual node's Lease) if it has some; either way it waits,
        parked, for the caches: the full reconcile runs as soon as they synced, not at the
        next renewal (a restarted syncer's kubelet port reached the virtual nodes only then)."""
        again = None
        if syncer is not None:
            async with asyncio.timeout(self.reconcile_timeout):
                again = await syncer.before_caches_synced(key)
        if again is not None:
            self.ctx.queue.add_after(key, again, DEADLINE)
        self._parked.setdefault(key.tenant, set()).add(key)

    def unpark(self) -> int:
        """Queues again the keys of tenants whose caches are now synced; returns how many.
        Parked rather than re-queued every second: after a restart with 10,000 pods the
        workers spun through every key each second while the informers were still listing,
        slowing the lists they waited for (issue 16, part 5)."""
        count = 0
        for tenant in list(self._parked):
            keys = self._parked[tenant]
            if keys and not self._caches_ready(next(iter(keys))):
                continue
            del self._parked[tenant]
            for key in keys:
                self.ctx.queue.add(key)
            count += len(keys)
        return count

    async def _unpark_loop(self) -> None:
        while True:
            await asyncio.sleep(UNPARK_INTERVAL_S)
            self.unpark()

    def _orphan_copy(self, key: WorkKey) -> bool:
        """A live edge copy marked as the tenant's with no tenant object behind it, and not one
        the tenant just deleted (removing that is ordinary clean-up, not drift)."""
        syncer = self.syncers.get(key.kind)
        tenant, rt = self.ctx.tenants.get(key.tenant), syncer.copied if syncer else None
        if tenant is None or rt is None or key in self._tenant_deleted:
            return False
        if tenant.get(rt, key.namespace, key.name) is not None:
            return False
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        copies = [e.get(rt, ens, key.name) for e in self.ctx.edges.values()
                  if rt.plural in e.informers]
        return any(c is not None and markers.is_managed(c, tenant.name)
                   and not c["metadata"].get("deletionTimestamp") for c in copies)

    async def process(self, key: WorkKey) -> None:
        queue, started = self.ctx.queue, time.perf_counter()
        syncer = self.syncers.get(key.kind)
        labels = (key.tenant or "-", key.kind, syncer.direction if syncer else "down")
        with structlog.contextvars.bound_contextvars(tenant=key.tenant, key=str(key)):
            try:
                if not self.ctx.is_leader():
                    queue.add_after(key, 1.0)
                    return
                if not self._caches_ready(key):
                    await self._before_caches_synced(key, syncer)
                    return
                orphan, scanned = self._orphan_copy(key), key in self._scanned
                self._scanned.discard(key)
                writes = WRITES.set([0])
                try:
                    async with asyncio.timeout(self.reconcile_timeout):
                        again = await self.reconciler(key.kind)(key)
                    wrote = (WRITES.get() or [0])[0]
                finally:
                    WRITES.reset(writes)
                queue.forget(key)
                result = "success"
                if orphan:
                    self.metrics.drift_findings.labels(key.tenant, "orphan_removed").inc()
                    log.info("orphan removed from the edge")
                elif scanned and wrote:
                    self.metrics.drift_findings.labels(key.tenant, "difference_requeued").inc()
                if again:  # asked for at a time (a Lease renewal): served before other work
                    queue.add_after(key, again, DEADLINE)
            except KubeError as err:
                result = "conflict" if err.conflict else "error"
                delay = queue.add_rate_limited(key)
                log.info("reconcile failed; will retry", error=str(err), retry_in=round(delay, 2))
            except TimeoutError:
                result = "timeout"
                queue.add_rate_limited(key)
                log.warning("reconcile timed out", timeout=self.reconcile_timeout)
            except Exception:
                result = "error"
                queue.add_rate_limited(key)
                log.exception("reconcile crashed")
            m = self.metrics
            m.child(m.sync_operations, *labels, result).inc()
            m.child(m.sync_duration, *labels).observe(time.perf_counter() - started)

    def count_managed(self, tenant: str) -> None:
        """Sets fusionvc_managed_objects of one tenant from the edge caches."""
        counts: Counter[str] = Counter()
        for edge in self.ctx.edges.values():
            for informer in edge.informers.values():
                counts[informer.resource.kind] += sum(
                    1 for obj in informer.store if markers.tenant_of(obj) == tenant)
        kinds = self._managed_kinds.setdefault(tenant, set())
        kinds.update(kind for kind, n in counts.items() if n)
        for kind in kinds:  # kinds seen before go back to 0 rather than vanish
            self.metrics.managed_objects.labels(tenant, kind).set(counts[kind])

    def forget_tenant(self, tenant: str) -> None:
        self._managed_kinds.pop(tenant, None)

    async def remove_tenant(self, tenant: str) -> None:
        """Every syncer's own clean-up for a deleted Tenant (ResourceSyncer.remove_tenant)."""
        for syncer in self.syncers.values():
            await syncer.remove_tenant(tenant)

    # ---- drift scan ------------------------------------------------------------------------

    def scan_once(self) -> int:
        """Queues every key any syncer lists for any synced tenant; returns how many."""
        count = 0
        for tenant in list(self.ctx.tenants.values()):
            if not tenant.synced:
                continue
            for syncer in self.syncers.values():
                for key in syncer.scan(tenant):
                    if key not in self._scanned and len(self._scanned) < SCANNED_MAX:
                        self._scanned.add(key)
                    self.ctx.queue.add(key)
                    count += 1
        return count

    async def _scan_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                queued = self.scan_once()
                log.debug("drift scan queued keys", keys=queued)
            except Exception:
                log.exception("drift scan failed")
