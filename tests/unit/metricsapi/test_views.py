"""A tenant's metrics come from its own pods only (caches filled by hand)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from syncer.core.names import edge_namespace
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube.store import Store
from syncer.metricsapi.edge_source import EdgeMetricsSource
from syncer.metricsapi.selector import parse_selector
from syncer.metricsapi.translate import ContainerUsage, PodUsage
from syncer.metricsapi.views import node_metrics, pod_metrics

TS = "2026-11-30T19:00:00Z"
SHARED = "vn-edge-bj-bj-cpu-1"


def pod(ns: str, name: str, node: str, app: str) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name, "labels": {"app": app},
                         "annotations": {"fusionvc.io/edge-cluster": "edge-bj"}},
            "spec": {"nodeName": node}}


def tenant(name: str, uid: str, pods: list[dict[str, Any]]) -> TenantConn:
    pod_store, node_store = Store(), Store()
    for p in pods:
        pod_store.upsert(p)
    node_store.upsert({"metadata": {"name": SHARED, "labels": {"type": "virtual-node"}}})
    conn = TenantConn(name, "tenant", cast(Any, None), uid=uid)
    conn.informers = cast(Any, {"pods": SimpleNamespace(store=pod_store),
                                "nodes": SimpleNamespace(store=node_store)})
    return conn


def usage(cpu_m: int) -> PodUsage:
    return PodUsage(TS, "15s", (ContainerUsage("main", cpu_m * 1_000_000, 2**20),))


def setup() -> tuple[TenantConn, TenantConn, EdgeMetricsSource]:
    a = tenant("tenant-a", "uid-a", [pod("web", "p1", SHARED, "infer"),
                                     pod("web", "p2", SHARED, "other")])
    b = tenant("tenant-b", "uid-b", [pod("web", "p1", SHARED, "infer")])
    source = EdgeMetricsSource(cast(dict[str, EdgeConn], {}), interval=10)
    ns_a, ns_b = edge_namespace("tenant-a", "uid-a", "web"), edge_namespace("tenant-b", "uid-b",
                                                                             "web")
    source.replace_edge("edge-bj", {("edge-bj", ns_a, "p1"): usage(300),
                                    ("edge-bj", ns_a, "p2"): usage(200),
                                    ("edge-bj", ns_b, "p1"): usage(50)})
    return a, b, source


def cpu(item: dict[str, Any]) -> int:
    usage_obj = item.get("usage") or item["containers"][0]["usage"]
    return int(usage_obj["cpu"][:-1]) // 1_000_000


def test_same_pod_names_in_two_tenants_get_their_own_usage() -> None:
    a, b, source = setup()
    assert {i["metadata"]["name"]: cpu(i) for i in pod_metrics(a, source)} == {"p1": 300,
                                                                              "p2": 200}
    assert [(i["metadata"]["name"], cpu(i)) for i in pod_metrics(b, source)] == [("p1", 50)]


def test_selector_namespace_and_name_narrow_the_answer() -> None:
    a, _, source = setup()
    assert [i["metadata"]["name"] for i in pod_metrics(a, source,
                                                       selector=parse_selector("app=infer"))] \
        == ["p1"]
    assert pod_metrics(a, source, namespace="other") == []
    assert [i["metadata"]["name"] for i in pod_metrics(a, source, namespace="web",
                                                       name="p2")] == ["p2"]


def test_a_shared_virtual_node_sums_only_the_tenants_own_pods() -> None:
    a, b, source = setup()
    assert [(i["metadata"]["name"], cpu(i)) for i in node_metrics(a, source)] == [(SHARED, 500)]
    assert [(i["metadata"]["name"], cpu(i)) for i in node_metrics(b, source)] == [(SHARED, 50)]
    assert node_metrics(b, source, name="vn-elsewhere") == []
