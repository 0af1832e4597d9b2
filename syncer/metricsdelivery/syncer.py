"""MetricsDelivery (edge.fusionvc.io): a tenant's metrics pushed to its own Prometheus.

Reconcile reads the object and its credentials Secret and keeps exactly one
``DeliveryWorker`` per object running with them (restarted when either changes,
stopped when the object goes or its tenant disconnects). A spec or Secret that
cannot be used stops the worker and shows as condition ``Ready=False`` plus a
Warning Event; the worker's own state changes (receiver down, credentials
rejected, back to delivering) become status and, for failures, Warning Events.
The series come from ``MetricSources`` (shared with the metrics API when the daemon
hands it over via ``use_sources``), for the object's namespace only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import structlog

from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import PODS, SECRETS, ResourceType
from syncer.kube.client import KubeError
from syncer.metricsdelivery.buffer import Entry
from syncer.metricsdelivery.collect import namespace_series
from syncer.metricsdelivery.spec import DeliverySpec, DeliverySpecError, auth_headers, parse_spec
from syncer.metricsdelivery.status import delivery_status, refused_status
from syncer.metricsdelivery.worker import DeliveryState, DeliveryWorker
from syncer.ops.metrics import Metrics
from syncer.podmetrics.sources import MetricSources
from syncer.podmetrics.tenant_pods import edge_pod_key

log = structlog.get_logger(__name__)
METRICSDELIVERIES = ResourceType("edge.fusionvc.io", "v1alpha1", "metricsdeliveries",
                                 "MetricsDelivery")


@dataclass
class _Running:
    spec: DeliverySpec
    headers: dict[str, str]
    task: asyncio.Task[None]
    worker: DeliveryWorker


class MetricsDeliverySyncer(ResourceSyncer):
    kind = "MetricsDelivery"
    tenant_watches = (WatchSpec(METRICSDELIVERIES), WatchSpec(SECRETS))

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self.sources = MetricSources(self.ctx.edges)
        self.push_timeout = 10.0
        self.metrics: Metrics | None = None
        self._counted: dict[WorkKey, DeliveryState] = {}  # what the counters already have
        self._running: dict[WorkKey, _Running] = {}
        self._session: aiohttp.ClientSession | None = None

    def use_sources(self, sources: MetricSources, push_timeout: float,
                    metrics: Metrics | None = None) -> None:
        """The daemon's shared sources and metrics (before any delivery starts)."""
        self.sources, self.push_timeout, self.metrics = sources, push_timeout, metrics

    # ---- events -> keys ----------------------------------------------------------------

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        meta = obj["metadata"]
        if watch == SECRETS.plural:
            return [self._key(tenant, d) for d in tenant.store(METRICSDELIVERIES)
                    if d["metadata"].get("namespace") == meta.get("namespace")
                    and ((d.get("spec") or {}).get("credentialsSecretRef") or {}).get("name")
                    == meta["name"]]
        if old is not None and new is not None and old.get("spec") == new.get("spec") \
                and old["metadata"].get("uid") == meta.get("uid"):
            return ()  # its status, written here
        return (self._key(tenant, obj),)

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        return ()

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        keys = {self._key(tenant, d) for d in tenant.store(METRICSDELIVERIES)}
        return keys | {k for k in self._running if k.tenant == tenant.name}

    def _key(self, tenant: TenantConn, obj: Obj) -> WorkKey:
        return WorkKey(tenant.name, self.kind, obj["metadata"]["namespace"],
                       obj["metadata"]["name"])

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        obj = tenant.get(METRICSDELIVERIES, key.namespace, key.name) if tenant else None
        if tenant is None or obj is None or obj["metadata"].get("deletionTimestamp"):
            await self._stop(key)
            return None
        try:
            spec = parse_spec(obj.get("spec") or {})
            headers = self._headers(tenant, key.namespace, spec)
        except DeliverySpecError as err:
            await self._stop(key)
            await self._write_status(tenant, key, refused_status(obj, err.reason, str(err)))
            await self.ctx.recorder.warn(tenant.client, {"kind": self.kind, **obj}, err.reason,
                                         str(err))
            return None
        running = self._running.get(key)
        if running is not None and running.spec == spec and running.headers == headers \
                and not running.task.done():
            return None
        await self._stop(key)
        self._start(tenant, key, spec, headers)
        return None

    def _headers(self, tenant: TenantConn, namespace: str, spec: DeliverySpec) -> dict[str, str]:
        if spec.secret_name is None:
            return {}
        secret = tenant.get(SECRETS, namespace, spec.secret_name)
        if secret is None:
            raise DeliverySpecError(f'Secret "{spec.secret_name}" not found in namespace '
                                    f'"{namespace}"', "SecretNotFound")
        return auth_headers(secret)

    # ---- workers -----------------------------------------------------------------------

    def _start(self, tenant: TenantConn, key: WorkKey, spec: DeliverySpec,
               headers: dict[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        self.sources.start()
        worker = DeliveryWorker(spec, headers, lambda: self._collect(key, spec),
                                lambda state: self._report(key, state), self._session,
                                timeout=self.push_timeout)
        task = asyncio.create_task(worker.run(), name=f"metricsdelivery:{key}")
        self._running[key] = _Running(spec, headers, task, worker)
        log.info("metrics delivery started", tenant=key.tenant, namespace=key.namespace,
                 name=key.name)

    async def _stop(self, key: WorkKey) -> None:
        running = self._running.pop(key, None)
        self._counted.pop(key, None)
        if running is not None:
            running.task.cancel()
            await asyncio.gather(running.task, return_exceptions=True)

    async def stop(self) -> None:
        for key in list(self._running):
            await self._stop(key)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.sources.stop()

    def _collect(self, key: WorkKey, spec: DeliverySpec) -> list[Entry] | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        namespaces: dict[str, str] = {}

        def where(pod: Obj) -> tuple[str, str, str] | None:
            return edge_pod_key(tenant, pod, namespaces)

        pods = [p for p in tenant.store(PODS) if p["metadata"].get("namespace") == key.namespace]
        usage, series = self.sources.usage, self.sources.series
        return namespace_series(
            pods, lambda p: usage.usage(*k) if (k := where(p)) else None,
            lambda p: series.samples(*k) if (k := where(p)) else None,
            int(time.time() * 1000), spec.wants)

    def _count(self, key: WorkKey, state: DeliveryState) -> None:
        before = self._counted.get(key, DeliveryState())
        self._counted[key] = state
        if self.metrics is None:
            return
        for result, now, then in (("sent", state.sent, before.sent),
                                  ("dropped", state.dropped, before.dropped),
                                  ("rejected", state.rejected, before.rejected)):
            if now > then:
                self.metrics.delivery_samples.labels(tenant=key.tenant, result=result).inc(
                    now - then)

    async def _report(self, key: WorkKey, state: DeliveryState) -> None:
        self._count(key, state)
        tenant = self.ctx.tenants.get(key.tenant)
        obj = tenant.get(METRICSDELIVERIES, key.namespace, key.name) if tenant else None
        if tenant is None or obj is None:
            return
        before: Obj = next((c for c in (obj.get("status") or {}).get("conditions") or []
                       if c.get("type") == "Ready"), {})
        await self._write_status(tenant, key, delivery_status(obj, state))
        if state.ready is False and before.get("reason") != state.reason:
            await self.ctx.recorder.warn(tenant.client, {"kind": self.kind, **obj},
                                         state.reason, state.message)

    async def _write_status(self, tenant: TenantConn, key: WorkKey, status: Obj) -> None:
        try:
            await tenant.client.patch(METRICSDELIVERIES, key.name, {"status": status},
                                      namespace=key.namespace, subresource="status")
        except KubeError as err:
            log.warning("could not write MetricsDelivery status", tenant=key.tenant,
                        namespace=key.namespace, name=key.name, reason=err.reason)
