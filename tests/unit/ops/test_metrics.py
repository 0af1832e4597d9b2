"""Metrics: names follow Prometheus conventions, the output parses, series can be forgotten."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scheduler.observer import SchedulerObserver
from syncer.kube.client import REQUEST_SECONDS, REQUESTS
from syncer.ops.metrics import Metrics, SchedulerMetrics

EXPECTED = {
    # family name: (type, label names of its series)
    "fusionvc_sync_operations": ("counter", {"tenant", "resource", "direction", "result"}),
    "fusionvc_sync_duration_seconds": ("histogram", {"tenant", "resource", "direction"}),
    "fusionvc_queue_depth": ("gauge", {"tenant"}),
    "fusionvc_queue_adds": ("counter", {"tenant"}),
    "fusionvc_queue_retries": ("counter", {"tenant"}),
    "fusionvc_queue_dropped": ("counter", {"tenant"}),
    "fusionvc_queue_wait_seconds": ("histogram", {"tenant"}),
    "fusionvc_informer_relists": ("counter", {"cluster", "resource"}),
    "fusionvc_informer_watch_restarts": ("counter", {"cluster", "resource"}),
    "fusionvc_managed_objects": ("gauge", {"tenant", "kind"}),
    "fusionvc_drift_findings": ("counter", {"tenant", "finding"}),
    "fusionvc_scheduler_attempts": ("counter", {"result"}),
    "fusionvc_scheduler_decision_duration_seconds": ("histogram", {"result"}),
    "fusionvc_scheduler_plugin_duration_seconds": ("histogram", {"plugin", "extension_point"}),
    "fusionvc_cluster_reachable": ("gauge", {"cluster", "role"}),
    "fusionvc_failovers": ("counter", {"cluster"}),
    "fusionvc_failover_pods": ("counter", {"cluster", "action"}),
    "fusionvc_failover_recovery_seconds": ("histogram", {"cluster"}),
    "fusionvc_is_leader": ("gauge", set()),
    "fusionvc_event_loop_lag_seconds": ("histogram", set()),
    "fusionvc_metrics_delivery_samples": ("counter", {"tenant", "result"}),
    "fusionvc_api_requests": ("counter", {"cluster", "verb", "resource"}),
    "fusionvc_api_request_seconds": ("counter", {"cluster", "verb"}),
    "fusionvc_api_write_throttle_seconds": ("histogram", set()),
}


def exercise(metrics: Metrics) -> None:
    metrics.sync_operations.labels("a", "pods", "down", "success").inc()
    metrics.sync_duration.labels("a", "pods", "down").observe(0.02)
    metrics.queue_depth.labels("a").set(4)
    metrics.queue_adds.labels("a").inc()
    metrics.queue_retries.labels("a").inc()
    metrics.queue_dropped.labels("a").inc()
    metrics.write_throttle.observe(0.004)
    metrics.queue_wait.labels("a").observe(0.5)
    metrics.informer_relists.labels("edge-1", "pods").inc()
    metrics.informer_watch_restarts.labels("edge-1", "pods").inc()
    metrics.managed_objects.labels("a", "Pod").set(10)
    metrics.drift_findings.labels("a", "orphan_removed").inc()
    metrics.cluster_reachable.labels("edge-1", "edge").set(1)
    metrics.failovers.labels("edge-1").inc()
    metrics.failover_pods.labels("edge-1", "moved").inc()
    metrics.failover_recovery.labels("edge-1").observe(95.0)
    metrics.is_leader.set(1)
    metrics.event_loop_lag.observe(0.001)
    metrics.delivery_samples.labels("a", "dropped").inc(3)
    REQUESTS["edge-1", "POST", "pods"] += 1  # counted by KubeClient, process-wide
    REQUEST_SECONDS["edge-1", "POST"] += 0.02
    observer: SchedulerObserver = SchedulerMetrics(metrics)
    observer.attempt("scheduled", 0.003)
    observer.plugin("NodeResourcesFit", "Filter", 0.0001)


def families(registry: CollectorRegistry) -> dict[str, tuple[str, set[str]]]:
    found: dict[str, tuple[str, set[str]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        labels = {name for sample in family.samples for name in sample.labels} - {"le"}
        found[family.name] = (family.type, labels)
    return found


def test_every_metric_is_exported_and_parses() -> None:
    metrics = Metrics(CollectorRegistry())
    exercise(metrics)
    assert families(metrics.registry) == EXPECTED


def test_conventions() -> None:
    text = generate_latest(Metrics(CollectorRegistry()).registry).decode()
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("fusionvc_")
        if family.type == "histogram":
            assert family.name.endswith("_seconds")
    assert "fusionvc_sync_operations_total" in text or "# TYPE fusionvc_sync_operations" in text


def test_counters_end_in_total() -> None:
    metrics = Metrics(CollectorRegistry())
    exercise(metrics)
    text = generate_latest(metrics.registry).decode()
    assert 'fusionvc_sync_operations_total{direction="down",resource="pods",result="success",' \
           'tenant="a"} 1.0' in text
    assert 'fusionvc_scheduler_attempts_total{result="scheduled"} 1.0' in text


def test_fresh_registries_are_independent() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.queue_adds.labels("a").inc()
    assert second.registry.get_sample_value("fusionvc_queue_adds_total", {"tenant": "a"}) is None
    assert first.registry.get_sample_value("fusionvc_queue_adds_total", {"tenant": "a"}) == 1.0


def test_forget_tenant_and_cluster() -> None:
    metrics = Metrics(CollectorRegistry())
    exercise(metrics)
    metrics.queue_depth.labels("b").set(1)
    metrics.informer_relists.labels("edge-2", "pods").inc()
    metrics.forget_tenant("a")
    metrics.forget_cluster("edge-1")
    text = generate_latest(metrics.registry).decode()
    assert 'tenant="a"' not in text
    assert 'cluster="edge-1"' not in text
    assert 'fusionvc_queue_depth{tenant="b"} 1.0' in text
    assert 'cluster="edge-2"' in text


def test_child_is_remembered_until_its_series_is_forgotten() -> None:
    metrics = Metrics(CollectorRegistry())
    first = metrics.child(metrics.queue_adds, "a")
    assert metrics.child(metrics.queue_adds, "a") is first
    assert metrics.child(metrics.queue_retries, "a") is not first  # per metric
    first.inc()
    metrics.forget_tenant("a")
    again = metrics.child(metrics.queue_adds, "a")  # a tenant made again with the same name
    assert again is not first
    again.inc()
    assert 'fusionvc_queue_adds_total{tenant="a"} 1.0' in generate_latest(
        metrics.registry).decode()
