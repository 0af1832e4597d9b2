"""Every Prometheus metric fusionvc exports, in one place.

This module owns the metric names, help texts, label names and buckets. A
:class:`Metrics` is built on a :class:`~prometheus_client.CollectorRegistry`
that the daemon creates and passes around (never the global registry), so
each test can make a fresh one. The HTTP server in :mod:`syncer.health`
renders that registry on ``/metrics``.

Naming follows Prometheus conventions: ``fusionvc_`` prefix, ``_total`` on
counters, base units (``_seconds``) on histograms, gauges named for what they
hold.

Label cardinality is bounded on purpose. Labels carry only values from small
sets: tenant names, cluster names, resource kinds, directions, results,
plugin names, extension points and cluster roles. Never put a pod name, an
object name, a namespace, a key or an error message in a label: use logs for
those. When a tenant or cluster is removed, call :meth:`Metrics.forget_tenant`
or :meth:`Metrics.forget_cluster` so its series disappear. The sync duration
histogram has no ``result`` label (the counter has): buckets times results per
tenant would be the largest family by far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from syncer.kube.client import REQUEST_SECONDS, REQUESTS

M = TypeVar("M", bound=MetricWrapperBase)

# prometheus_client's switch has no type hints; typed once here.
_disable_created_series: Callable[[], None] = disable_created_metrics

NAMESPACE = "fusionvc"

DIRECTIONS = ("down", "up")
DRIFT_FINDINGS = ("orphan_removed", "difference_requeued")
SCHEDULE_RESULTS = ("scheduled", "unschedulable", "error")
CLUSTER_ROLES = ("management", "tenant", "edge")

# One API round trip up to a slow multi-object apply.
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Time a key waits in the queue, up to a long backoff.
QUEUE_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
# A write waiting for the write limit: up to --write-burst / --write-qps.
THROTTLE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)
# One scheduling decision over hundreds of edge nodes.
DECISION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# One plugin at one extension point.
PLUGIN_BUCKETS = (0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1)
# From an edge cluster's loss to its re-admission after a failover.
RECOVERY_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
# Event loop lag as measured by the health heartbeat.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class Metrics:
    """The daemon's metrics, registered on ``registry``.

    Use the attributes directly, e.g.
    ``metrics.sync_operations.labels(tenant=t, resource="pods", direction="down",
    result="success").inc()``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        # No "_created" series next to every counter and histogram child: they double the
        # series count and nothing here reads them. (A process-wide prometheus_client switch.)
        _disable_created_series()
        self.registry = registry
        self._labels: list[tuple[MetricWrapperBase, tuple[str, ...]]] = []
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        sync = ("tenant", "resource", "direction")
        self.sync_operations = self._counter(
            "sync_operations", "Sync operations by tenant, resource, direction (down: tenant "
            "to edge, up: edge to tenant) and result.", (*sync, "result"))
        self.sync_duration = self._histogram(
            "sync_duration_seconds", "Time spent in one sync operation.", sync, SYNC_BUCKETS)
        self._work_metrics()
        self.informer_relists = self._counter(
            "informer_relists", "Full re-lists by informers (start, 410 Gone, errors).",
            ("cluster", "resource"))
        self.informer_watch_restarts = self._counter(
            "informer_watch_restarts", "Watches restarted without a full re-list.",
            ("cluster", "resource"))
        self.managed_objects = self._gauge(
            "managed_objects", "Objects fusionvc manages on edge clusters, by tenant and kind.",
            ("tenant", "kind"))
        self.drift_findings = self._counter(
            "drift_findings", "Findings of the drift scan by tenant and finding "
            "(orphan_removed, difference_requeued).", ("tenant", "finding"))
        self.scheduler_attempts = self._counter(
            "scheduler_attempts", "Scheduling attempts by result (scheduled, unschedulable, "
            "error).", ("result",))
        self.scheduler_decision_duration = self._histogram(
            "scheduler_decision_duration_seconds", "Time to reach one scheduling decision.",
            ("result",), DECISION_BUCKETS)
        self.scheduler_plugin_duration = self._histogram(
            "scheduler_plugin_duration_seconds", "Time one plugin spent at one extension point.",
            ("plugin", "extension_point"), PLUGIN_BUCKETS)
        self.cluster_reachable = self._gauge(
            "cluster_reachable", "1 when the cluster's API server answered the last probe, "
            "by cluster and role (management, tenant, edge).", ("cluster", "role"))
        self.failovers = self._counter(
            "failovers", "Edge clusters unreachable past their grace period (pods moved away).",
            ("cluster",))
        self.failover_pods = self._counter(
            "failover_pods", "Tenant pods handled by failover, by edge cluster and action "
            "(moved: deleted for their controller to recreate elsewhere; failed: bare pods; "
            "leftover_deleted: stale edge copies removed on failback).", ("cluster", "action"))
        self.failover_recovery = self._histogram(
            "failover_recovery_seconds", "Seconds from an edge cluster's loss to its "
            "re-admission after a failover.", ("cluster",), RECOVERY_BUCKETS)
        self.is_leader = self._gauge("is_leader", "1 while this replica holds the leader Lease.")
        self.event_loop_lag = self._histogram(
            "event_loop_lag_seconds", "Delay of the health heartbeat behind its schedule.",
            (), LAG_BUCKETS)
        # syncer/metricsdelivery: remote write to tenants' own Prometheus servers.
        self.delivery_samples = self._counter(
            "metrics_delivery_samples", "Samples of MetricsDelivery objects by tenant and "
            "result: sent, dropped (oldest, past the buffer bound), rejected (by the receiver).",
            ("tenant", "result"))

        registry.register(ApiRequests())

    def _work_metrics(self) -> None:
        """The work queue's (core/queue.py) and the write limiter's (kube/limiter.py)."""
        self.queue_depth = self._gauge(
            "queue_depth", "Keys waiting in the work queue.", ("tenant",))
        self.queue_adds = self._counter(
            "queue_adds", "Keys added to the work queue.", ("tenant",))
        self.queue_retries = self._counter(
            "queue_retries", "Keys re-added after a failed reconcile.", ("tenant",))
        self.queue_dropped = self._counter(
            "queue_dropped", "Keys not queued because the queue was full (--queue-max); "
            "the drift scan queues them again.", ("tenant",))
        self.queue_wait = self._histogram(
            "queue_wait_seconds", "Time a key waited in the queue before a worker took it.",
            ("tenant",), QUEUE_BUCKETS)
        self.write_throttle = self._histogram(
            "api_write_throttle_seconds", "Time a write to a tenant or edge cluster waited for "
            "the client-side write limit (--write-qps); only writes that waited.", (),
            THROTTLE_BUCKETS)

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        metric = Counter(name, doc, labels, namespace=NAMESPACE, registry=self.registry)
        self._labels.append((metric, labels))
        return metric

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        metric = Gauge(name, doc, labels, namespace=NAMESPACE, registry=self.registry)
        self._labels.append((metric, labels))
        return metric

    def _histogram(
        self, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> Histogram:
        metric = Histogram(
            name, doc, labels, namespace=NAMESPACE, registry=self.registry, buckets=buckets)
        self._labels.append((metric, labels))
        return metric

    def child(self, metric: M, *values: str) -> M:
        """``metric.labels(*values)``, remembered: prometheus_client validates the values and
        takes a lock on every labels() call, about 2% of the syncer's CPU per pod when the
        controller and the queue asked it for every key. Forgotten series are dropped here
        too, so a tenant made again with the same name gets its series back."""
        memo_key = (id(metric), values)
        found = self._children.get(memo_key)
        if found is None:
            found = self._children[memo_key] = metric.labels(*values)
        return found

    def _forget(self, label: str, value: str) -> None:
        """Remove every series whose ``label`` equals ``value``."""
        self._children.clear()
        for metric, names in self._labels:
            if label not in names:
                continue
            doomed: set[tuple[str, ...]] = set()
            for family in metric.collect():
                for sample in family.samples:
                    if sample.labels.get(label) == value:
                        doomed.add(tuple(sample.labels[name] for name in names))
            for values in doomed:
                metric.remove(*values)

    def forget_tenant(self, tenant: str) -> None:
        """Drop a deleted tenant's series so cardinality stays bounded."""
        self._forget("tenant", tenant)

    def forget_cluster(self, cluster: str) -> None:
        """Drop a removed cluster's series."""
        self._forget("cluster", cluster)
        for key in [k for k in REQUESTS if k[0] == cluster]:
            del REQUESTS[key]
        for seconds_key in [k for k in REQUEST_SECONDS if k[0] == cluster]:
            del REQUEST_SECONDS[seconds_key]


class SchedulerMetrics:
    """Feeds the scheduler's observations into :class:`Metrics`.

    Implements ``scheduler.observer.SchedulerObserver`` structurally, so this
    module does not import the scheduler.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def attempt(self, result: str, seconds: float) -> None:
        m = self._metrics
        m.child(m.scheduler_attempts, result).inc()
        m.child(m.scheduler_decision_duration, result).observe(seconds)

    def plugin(self, name: str, extension_point: str, seconds: float) -> None:
        m = self._metrics
        m.child(m.scheduler_plugin_duration, name, extension_point).observe(seconds)


class ApiRequests(Collector):
    """fusionvc_api_requests_total{cluster, verb, resource}: every API request of this
    process, from the counts KubeClient keeps (kube/client.py); verb is the HTTP method, or
    WATCH; resource is ``plural[.group][/subresource]`` (kube/apis.py resource_of). And
    fusionvc_api_request_seconds_total{cluster, verb}: the time those requests took."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            f"{NAMESPACE}_api_requests", "API requests made, by cluster, HTTP method "
            "(WATCH: a watch opened) and resource.", labels=("cluster", "verb", "resource"))
        for labels, count in sorted(REQUESTS.items()):
            family.add_metric(labels, count)
        yield family
        seconds = CounterMetricFamily(
            f"{NAMESPACE}_api_request_seconds", "Seconds spent in API requests (sent to the "
            "answer read; watches not counted), by cluster and HTTP method.",
            labels=("cluster", "verb"))
        for (cluster, verb), spent in sorted(REQUEST_SECONDS.items()):
            seconds.add_metric((cluster, verb), spent)
        yield seconds
