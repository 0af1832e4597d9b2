"""Controller: informer events -> fair work queue -> reconcile(key), and the drift scan.

It owns the resource syncers (one per registered kind), turns every watch
event of every tenant and edge cluster into WorkKeys, runs the workers that
reconcile them with a timeout each, retries failures with backoff, and
periodically re-queues every key the syncers list (the safety net for
anything a watch missed, and how orphans are found).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from . import resources as _resources  # noqa: F401  (registers every resource syncer)
from .fleet import ClusterConn, EdgeConn, TenantConn, WatchSpec, merge_specs
from .keys import WorkKey
from .kube.client import KubeError
from .kube.informer import Handler
from .metrics import Metrics
from .queue import QueueShutDown
from .resources.base import REGISTRY, ResourceSyncer, SyncContext

log = structlog.get_logger(__name__)
Obj = dict[str, Any]
Reconciler = Callable[[WorkKey], Awaitable[float | None]]


def _direction(kind: str) -> str:
    return "up" if kind in ("Event", "Node") else "down"


class Controller:
    def __init__(self, ctx: SyncContext, metrics: Metrics, *, workers: int = 8,
                 reconcile_timeout: float = 60.0) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.workers = workers
        self.reconcile_timeout = reconcile_timeout
        for cls in REGISTRY:
            ctx.syncers[cls.kind] = cls(ctx)
        self.extra: dict[str, Reconciler] = {}  # kinds outside tenants, e.g. Tenant objects
        self.tenant_specs = merge_specs([w for s in ctx.syncers.values() for w in s.tenant_watches])
        self.edge_specs = merge_specs([w for s in ctx.syncers.values() for w in s.edge_watches])
        self._tasks: list[asyncio.Task[None]] = []
        self.scanned = asyncio.Event()

    # ---- wiring informers to the queue -------------------------------------------------

    def start_tenant(self, tenant: TenantConn) -> None:
        self._start(tenant, self.tenant_specs,
                    lambda s, w, old, new: s.tenant_event(tenant, w, old, new),
                    lambda s: s.tenant_watches)

    def start_edge(self, edge: EdgeConn) -> None:
        self._start(edge, self.edge_specs,
                    lambda s, w, old, new: s.edge_event(edge, w, old, new),
                    lambda s: s.edge_watches)

    def _start(self, conn: ClusterConn, specs: list[WatchSpec],
               route: Callable[[ResourceSyncer, str, Obj | None, Obj | None], Any],
               watches_of: Callable[[ResourceSyncer], tuple[WatchSpec, ...]]) -> None:
        def handler_for(spec: WatchSpec) -> Handler:
            interested = [s for s in self.ctx.syncers.values()
                          if any(w.id == spec.id for w in watches_of(s))]

            def handle(kind: str, old: Obj | None, new: Obj | None) -> None:
                for syncer in interested:
                    for key in route(syncer, spec.id, old, new):
                        self.ctx.queue.add(key)
            return handle

        m = self.metrics
        conn.start(specs, handler_for,
                   on_relist=lambda r: m.informer_relists.labels(conn.name, r).inc(),
                   on_restart=lambda r: m.informer_watch_restarts.labels(conn.name, r).inc())

    # ---- workers ---------------------------------------------------------------------------

    def start(self, scan_interval: float) -> None:
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"worker-{i}"))
        self._tasks.append(asyncio.create_task(self._scan_loop(scan_interval), name="drift-scan"))

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

    def reconciler(self, kind: str) -> Reconciler:
        if kind in self.extra:
            return self.extra[kind]
        return self.ctx.syncers[kind].reconcile

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

    def _caches_ready(self, key: WorkKey) -> bool:
        """Tenant work waits for the tenant's and every edge's caches: deciding on a partial
        view could place a pod twice or remove a copy that is still used."""
        if not key.tenant:
            return True
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return True  # the syncer will find nothing to do
        return tenant.synced and all(e.synced for e in self.ctx.edges.values())

    async def process(self, key: WorkKey) -> None:
        queue, started = self.ctx.queue, time.perf_counter()
        labels = (key.tenant or "-", key.kind, _direction(key.kind))
        with structlog.contextvars.bound_contextvars(tenant=key.tenant, key=str(key)):
            try:
                if not self.ctx.is_leader() or not self._caches_ready(key):
                    queue.add_after(key, 1.0)
                    return
                async with asyncio.timeout(self.reconcile_timeout):
                    again = await self.reconciler(key.kind)(key)
                queue.forget(key)
                result = "ok"
                if again:
                    queue.add_after(key, again)
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
            self.metrics.sync_operations.labels(*labels, result).inc()
            self.metrics.sync_duration.labels(*labels).observe(time.perf_counter() - started)

    # ---- drift scan ------------------------------------------------------------------------

    def scan_once(self) -> int:
        """Queues every key any syncer lists for any synced tenant; returns how many."""
        count = 0
        for tenant in list(self.ctx.tenants.values()):
            if not tenant.synced:
                continue
            for syncer in self.ctx.syncers.values():
                for key in syncer.scan(tenant):
                    self.ctx.queue.add(key)
                    count += 1
            self.metrics.drift_findings.labels(tenant.name, "difference_requeued").inc(0)
        return count

    async def _scan_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                queued = self.scan_once()
                log.debug("drift scan queued keys", keys=queued)
            except Exception:
                log.exception("drift scan failed")
            self.scanned.set()
