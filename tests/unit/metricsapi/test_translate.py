"""Edge PodMetrics -> tenant PodMetrics and virtual-node sums (table tests)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.metricsapi.translate import (
    ContainerUsage,
    PodUsage,
    format_memory,
    index_edge_pod_metrics,
    pod_usage_from_edge,
    tenant_node_metrics,
    tenant_pod_metrics,
)

TS = "2026-11-30T19:00:00Z"


def edge_item(ns: str, name: str, *containers: tuple[str, str, str], ts: str = TS) -> Any:
    return {"metadata": {"namespace": ns, "name": name, "labels": {"fusionvc.io/tenant": "a"}},
            "timestamp": ts, "window": "10.5s",
            "containers": [{"name": c, "usage": {"cpu": cpu, "memory": mem}}
                           for c, cpu, mem in containers]}


@pytest.mark.parametrize(("cpu", "memory", "nano", "num_bytes"), [
    ("250m", "64Mi", 250_000_000, 64 * 2**20),
    ("1234567n", "1000Ki", 1_234_567, 1_024_000),
    ("2", "1G", 2_000_000_000, 10**9),
    ("0", "0", 0, 0),
])
def test_quantities_become_integers(cpu: str, memory: str, nano: int, num_bytes: int) -> None:
    usage = pod_usage_from_edge(edge_item("ns", "p", ("main", cpu, memory)))
    assert usage == PodUsage(TS, "10.5s", (ContainerUsage("main", nano, num_bytes),))


@pytest.mark.parametrize("item", [
    edge_item("ns", "p", ("main", "lots", "1Mi")),
    edge_item("ns", "p", ("main", "1m", "1Mi"), ts=None),  # type: ignore[arg-type]
    {"metadata": {}, "timestamp": TS, "containers": [{"usage": {"cpu": "1m"}}]},
])
def test_malformed_items_are_skipped(item: Any) -> None:
    assert pod_usage_from_edge(item) is None
    assert index_edge_pod_metrics("edge-bj", [item]) == {}


def test_index_keys_by_edge_namespace_and_name() -> None:
    index = index_edge_pod_metrics("edge-bj", [edge_item("a-123456-web", "p1", ("c", "1m", "1Ki")),
                                               edge_item("b-654321-web", "p1", ("c", "2m", "2Ki"))])
    assert set(index) == {("edge-bj", "a-123456-web", "p1"), ("edge-bj", "b-654321-web", "p1")}


def test_tenant_pod_metrics_use_tenant_names_and_labels() -> None:
    pod = {"metadata": {"name": "infer-1", "namespace": "web", "labels": {"app": "infer"}}}
    usage = PodUsage(TS, "10s", (ContainerUsage("main", 250_000_000, 64 * 2**20),
                                 ContainerUsage("side", 1_000, 1000)))
    got = tenant_pod_metrics(pod, usage)
    assert got["metadata"] == {"name": "infer-1", "namespace": "web", "labels": {"app": "infer"},
                               "creationTimestamp": TS}
    assert got["containers"] == [
        {"name": "main", "usage": {"cpu": "250000000n", "memory": "65536Ki"}},
        {"name": "side", "usage": {"cpu": "1000n", "memory": "1000"}}]
    assert got["kind"] == "PodMetrics" and got["apiVersion"] == "metrics.k8s.io/v1beta1"


def test_node_metrics_sum_the_given_pods_and_take_the_newest_timestamp() -> None:
    node = {"metadata": {"name": "vn-edge-bj-bj-cpu-0", "labels": {"type": "virtual-node"}}}
    usages = [PodUsage("2026-11-30T19:00:00Z", "10s", (ContainerUsage("a", 100, 1024),)),
              PodUsage("2026-11-30T19:00:05Z", "11s", (ContainerUsage("b", 200, 2048),
                                                        ContainerUsage("c", 300, 1024)))]
    got = tenant_node_metrics(node, usages)
    assert got is not None
    assert got["usage"] == {"cpu": "600n", "memory": "4Ki"}
    assert (got["timestamp"], got["window"]) == ("2026-11-30T19:00:05Z", "11s")
    assert got["metadata"]["name"] == "vn-edge-bj-bj-cpu-0"


def test_node_without_measured_pods_has_no_metrics() -> None:
    assert tenant_node_metrics({"metadata": {"name": "vn"}}, []) is None


@pytest.mark.parametrize(("num_bytes", "text"), [(0, "0Ki"), (1024, "1Ki"), (1000, "1000")])
def test_format_memory(num_bytes: int, text: str) -> None:
    assert format_memory(num_bytes) == text
