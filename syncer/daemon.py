"""Daemon: builds every part of the syncer, runs it, and stops it cleanly.

Start-up: logs, metrics and the health server first (so probes answer), then
the management informers, then leader election. Only the leader connects to
tenants and edges and runs workers; a standby keeps its management caches
warm and takes over when the Lease is free. A leader that loses the Lease
stops writing at once and exits non-zero (its Deployment restarts it).
Shutdown (SIGTERM/SIGINT): stop taking work, let in-flight reconciles finish
within the grace period, release the Lease, close every client session.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import load_incluster_config, new_client_from_config
from prometheus_client import CollectorRegistry

from syncer.core.context import SyncContext
from syncer.core.controller import Controller
from syncer.core.queue import FairQueue, QueueObserver
from syncer.core.recorder import EventRecorder
from syncer.failover.monitor import FailoverMonitor
from syncer.fleet.management import Management
from syncer.kinds.edgedatasets import EdgeDatasetSyncer
from syncer.kinds.registry import syncer_classes
from syncer.kube.client import KubeClient
from syncer.kube.limiter import WriteLimiter
from syncer.kubelet.endpoint import advertised_address, build_endpoint
from syncer.metricsapi.server import MetricsApiServer
from syncer.metricsdelivery.syncer import MetricsDeliverySyncer
from syncer.ops.event_loop import loop_name
from syncer.ops.health import HealthServer, ReadinessChecks
from syncer.ops.leader import LeaderElector
from syncer.ops.metrics import Metrics, SchedulerMetrics
from syncer.ops.settings import Settings, SyncSettings
from syncer.ops.stalls import GcPauses, StallWatch, tune_gc
from syncer.placement import Placer
from syncer.podmetrics.sources import MetricSources

log = structlog.get_logger(__name__)


async def management_api(settings: Settings) -> ApiClient:
    if settings.management.kubeconfig:
        return await new_client_from_config(config_file=settings.management.kubeconfig)
    config = Configuration()
    load_incluster_config(client_configuration=config)
    return ApiClient(configuration=config)


def queue_observer(metrics: Metrics) -> QueueObserver:
    def name(tenant: str) -> str:
        return tenant or "-"
    return QueueObserver(
        added=lambda t: metrics.child(metrics.queue_adds, name(t)).inc(),
        retried=lambda t: metrics.child(metrics.queue_retries, name(t)).inc(),
        dropped=lambda t: metrics.child(metrics.queue_dropped, name(t)).inc(),
        waited=lambda t, s: metrics.child(metrics.queue_wait, name(t)).observe(s),
        depth=lambda t, d: metrics.child(metrics.queue_depth, name(t)).set(d))


def write_limiter(sync: SyncSettings, metrics: Metrics) -> WriteLimiter | None:
    """The cap on writes every tenant and edge client shares (kube/limiter.py); None: off."""
    if not sync.write_qps:
        return None
    return WriteLimiter(sync.write_qps, sync.write_burst, on_wait=metrics.write_throttle.observe)


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics(CollectorRegistry())
        sync = settings.sync
        queue = FairQueue(max_items=sync.queue_max, qps=sync.queue_qps or None,
                          burst=sync.queue_burst, observer=queue_observer(self.metrics))
        self.placer = Placer(observer=SchedulerMetrics(self.metrics))
        self.ctx = SyncContext(tenants={}, edges={}, queue=queue, recorder=EventRecorder(),
                               placer=self.placer,
                               kubelet_address=advertised_address(settings.kubelet),
                               node_heartbeat_s=sync.node_heartbeat_s,
                               write_limiter=write_limiter(sync, self.metrics))
        self.controller = Controller(self.ctx, self.metrics, syncer_classes(sync.extra_kinds),
                                     listeners=(self.placer,), workers=sync.workers,
                                     reconcile_timeout=sync.request_timeout_s * 2)
        self.kubelet = build_endpoint(settings.kubelet, self.ctx.tenants, self.ctx.edges)
        if self.kubelet is not None:  # its open streams and connections on /metrics
            self.metrics.registry.register(self.kubelet.collector())
        self.stop_requested = asyncio.Event()
        self.metrics_api: MetricsApiServer | None = None
        # Edge usage and pods' own metrics: shared by the metrics API and MetricsDelivery.
        api = settings.metrics_api
        self.metric_sources = MetricSources(self.ctx.edges, api.poll_interval_s,
                                            api.pod_metrics_interval_s, sync.request_timeout_s)
        delivery = self.controller.syncers.get(MetricsDeliverySyncer.kind)
        if isinstance(delivery, MetricsDeliverySyncer):
            delivery.use_sources(self.metric_sources, sync.request_timeout_s, self.metrics)
        datasets = self.controller.syncers.get(EdgeDatasetSyncer.kind)
        if isinstance(datasets, EdgeDatasetSyncer):
            datasets.job_settings = settings.datasets  # image and resources of its Jobs
        self.management: Management | None = None
        self._tasks: list[asyncio.Task[object]] = []
        self.failover: FailoverMonitor | None = None
        self.stall_watch = StallWatch()
        self.gc_pauses = GcPauses()
        self.metrics.registry.register(self.gc_pauses)

    def _readiness(self, management: Management, elector: LeaderElector | None) -> ReadinessChecks:
        checks = ReadinessChecks()
        checks.add("management informers synced", lambda: management.synced)
        def clusters_synced() -> bool:
            if elector is not None and not elector.is_leader:
                return True  # a standby has no tenant or edge informers
            conns = [*self.ctx.tenants.values(), *self.ctx.edges.values()]
            return management.clusters_tried and all(c.synced for c in conns)
        checks.add("tenant and edge informers synced", clusters_synced)
        return checks

    async def run(self) -> int:
        """Runs until a stop signal (0) or a lost Lease (1)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_requested.set)
        log.info("starting", event_loop=loop_name(loop))
        health: HealthServer | None = None
        self.stall_watch.start()
        self.gc_pauses.install()
        tune_gc()
        api = await management_api(self.settings)
        mgmt = KubeClient(api, "management", self.settings.sync.request_timeout_s)
        management = Management(mgmt, self.settings.management.namespace, self.ctx,
                                self.controller, self.placer, self.metrics)
        self.failover = management.failover
        elector = (LeaderElector(mgmt, self.settings.leader, metrics=self.metrics)
                   if self.settings.leader.enabled else None)
        if elector is not None:
            self.ctx.is_leader = lambda: elector.is_leader
        self.management = management
        try:
            health = HealthServer(self.metrics, self._readiness(management, elector),
                                  host=self.settings.http.host, port=self.settings.http.port)
            await health.start()
            if self.kubelet is not None:
                await self.kubelet.start()
            for kind, informer in management.informers.items():
                self._tasks.append(asyncio.create_task(informer.run(), name=f"management:{kind}"))
            return await self._lead_or_stop(elector)
        finally:
            await self._shutdown(elector, mgmt, health)

    async def _lead_or_stop(self, elector: LeaderElector | None) -> int:
        stop = asyncio.create_task(self.stop_requested.wait(), name="stop-signal")
        self._tasks.append(stop)
        if elector is not None:
            self._tasks.append(asyncio.create_task(elector.run(), name="leader-election"))
            leading = asyncio.create_task(elector.leading.wait(), name="leading")
            self._tasks.append(leading)
            await asyncio.wait({stop, leading}, return_when=asyncio.FIRST_COMPLETED)
            if stop.done():
                return 0
        log.info("leading: starting workers")
        self.controller.start(self.settings.sync.drift_scan_interval_s)
        await self._start_metrics_api()
        waits = {stop}
        if elector is not None:
            lost = asyncio.create_task(elector.lost.wait(), name="lost")
            self._tasks.append(lost)
            waits.add(lost)
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            return 0
        log.error("lost the leader Lease: stopping at once")
        return 1

    async def _start_metrics_api(self) -> None:
        """The tenants' metrics.k8s.io (syncer/metricsapi), when --metrics-api-port is set."""
        if not self.settings.metrics_api.port or self.management is None:
            return
        self.metrics_api = MetricsApiServer(self.settings.metrics_api, self.ctx.tenants,
                                            self.ctx.edges, self.settings.sync.request_timeout_s,
                                            self.metric_sources)
        self.management.tenant_connected.append(self.metrics_api.tenant_connected)
        self.ctx.pod_usage = self.metrics_api.source  # ServiceDomains drain sites by load
        await self.metrics_api.start()

    async def _shutdown(self, elector: LeaderElector | None, mgmt: KubeClient,
                        health: HealthServer | None) -> None:
        log.info("shutting down", grace_s=self.settings.shutdown.grace_s)
        if self.kubelet is not None:
            await self.kubelet.stop()  # ends open streams before their edges' clients close
        if self.metrics_api is not None:
            await self.metrics_api.stop()
        await self.controller.stop(self.settings.shutdown.grace_s)
        if self.failover is not None:
            await self.failover.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if elector is not None:
            with contextlib.suppress(Exception):
                await elector.release()
        conns = [*self.ctx.tenants.values(), *self.ctx.edges.values()]
        await asyncio.gather(*(c.stop() for c in conns), return_exceptions=True)
        await mgmt.close()
        if health is not None:
            await health.stop()
        self.gc_pauses.uninstall()
        await self.stall_watch.stop()
        log.info("stopped")
