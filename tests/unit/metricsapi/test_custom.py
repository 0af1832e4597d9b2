"""custom.metrics.k8s.io answers: a tenant's own pods only, by their tenant names."""

from __future__ import annotations

from typing import Any, cast

from syncer.core.names import edge_namespace
from syncer.fleet.conn import EdgeConn
from syncer.metricsapi.custom import (
    MetricNameCache,
    format_value,
    metric_names,
    metric_value_of,
    pod_metric_values,
    resource_list,
)
from syncer.metricsapi.selector import parse_selector
from syncer.podmetrics.promtext import Sample
from syncer.podmetrics.source import PodSamples, PodSeriesSource

from .test_views import SHARED, pod, tenant

TS_MS = 1_790_000_000_000


def samples(rps: float, extra: tuple[Sample, ...] = ()) -> PodSamples:
    return PodSamples(TS_MS, (Sample("rps", (), rps), *extra))


def setup() -> tuple[Any, Any, PodSeriesSource]:
    a = tenant("tenant-a", "uid-a", [pod("web", "p1", SHARED, "infer"),
                                     pod("web", "p2", SHARED, "other")])
    b = tenant("tenant-b", "uid-b", [pod("web", "p1", SHARED, "infer")])
    source = PodSeriesSource(cast(dict[str, EdgeConn], {}), interval=10)
    ns_a = edge_namespace("tenant-a", "uid-a", "web")
    ns_b = edge_namespace("tenant-b", "uid-b", "web")
    source.replace_node("edge-bj", "bj-cpu-1", {(ns_a, "p1"): samples(30),
                                                (ns_a, "p2"): samples(2),
                                                (ns_b, "p1"): samples(7)})
    return a, b, source


def values(items: list[dict[str, Any]]) -> dict[str, str]:
    return {i["describedObject"]["name"]: i["value"] for i in items}


def test_same_pod_names_in_two_tenants_get_their_own_values() -> None:
    a, b, source = setup()
    kw: dict[str, Any] = {"metric": "rps", "selector": None, "metric_selector": None}
    assert values(pod_metric_values(a, source, namespace="web", name="*", **kw)) == {
        "p1": "30000m", "p2": "2000m"}
    assert values(pod_metric_values(b, source, namespace="web", name="*", **kw)) == {
        "p1": "7000m"}
    item = pod_metric_values(b, source, namespace="web", name="p1", **kw)[0]
    assert item["describedObject"] == {"kind": "Pod", "namespace": "web", "name": "p1",
                                       "apiVersion": "/v1"}
    assert item["timestamp"].endswith("Z")
    assert pod_metric_values(b, source, namespace="web", name="p2", **kw) == []
    assert pod_metric_values(a, source, namespace="other", name="*", **kw) == []


def test_label_selector_and_unknown_metric() -> None:
    a, _, source = setup()
    got = pod_metric_values(a, source, namespace="web", name="*", metric="rps",
                            selector=parse_selector("app=infer"), metric_selector=None)
    assert values(got) == {"p1": "30000m"}
    assert pod_metric_values(a, source, namespace="web", name="*", metric="nope",
                             selector=None, metric_selector=None) == []


def test_series_of_one_name_are_summed_over_the_matching_labels() -> None:
    multi = PodSamples(TS_MS, (Sample("rps", (("path", "/a"),), 1.5),
                               Sample("rps", (("path", "/b"),), 2.0),
                               Sample("rps", (("path", "/c"),), float("nan"))))
    assert metric_value_of(multi, "rps", parse_selector("path in (/a,/b)")) == 3.5
    assert metric_value_of(multi, "rps", None) is None  # NaN: no value
    assert format_value(3.5) == "3500m" and format_value(0.0004) == "0m"


def test_discovery_lists_the_tenants_own_metrics() -> None:
    a, _, source = setup()
    assert metric_names(a, source) == ["rps"]
    before = source.version
    ns_a = edge_namespace("tenant-a", "uid-a", "web")
    source.replace_node("edge-bj", "bj-cpu-1", {(ns_a, "p1"): samples(
        30, (Sample("queue", (), 1.0),))})
    assert source.version > before  # what MetricNameCache keys on
    assert metric_names(a, source) == ["queue", "rps"]
    assert resource_list(["rps"])["resources"][0]["name"] == "pods/rps"


def test_metric_names_are_computed_again_only_when_samples_changed_or_ttl_passed() -> None:
    now = [100.0]
    cache = MetricNameCache(ttl=10.0, clock=lambda: now[0])
    walks: list[str] = []

    def compute(names: list[str]) -> list[str]:
        walks.append("walk")
        return names

    assert cache.names("tenant-a", 1, lambda: compute(["rps"])) == ["rps"]
    now[0] = 109.9
    assert cache.names("tenant-a", 1, lambda: compute(["rps", "queue"])) == ["rps"]
    assert cache.names("tenant-b", 1, lambda: compute(["lat"])) == ["lat"]  # per tenant
    now[0] = 110.0  # the ttl passed: pods may have gone
    assert cache.names("tenant-a", 1, lambda: compute(["rps", "queue"])) == ["rps", "queue"]
    now[0] = 110.1  # a scrape changed the samples: listed at once, not a ttl later
    assert cache.names("tenant-a", 2, lambda: compute(["rps", "queue", "lat"])) == [
        "rps", "queue", "lat"]
    assert len(walks) == 4
