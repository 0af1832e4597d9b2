"""The placer's side of inter-pod terms: edge pods carry the tenant's scoring terms back to
the scheduler, and namespaceSelectors see the tenant's Namespace labels."""

from __future__ import annotations

from typing import Any

from scheduler import Placement, Unschedulable
from syncer.core import markers
from syncer.core.names import virtual_node_name
from syncer.kinds.pod_translate import scoring_terms, translate_pod_down
from syncer.kube.apis import NAMESPACES, NODES, PODS
from syncer.placement import Placer, namespace_labels, tenancy
from tests.builders import edge_node, namespace
from tests.unit.syncer.harness import SyncTest

Obj = dict[str, Any]
HOST = "kubernetes.io/hostname"


def term(app: str, key: str = HOST, **extra: Any) -> Obj:
    return {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key, **extra}


def tenant_pod(name: str, app: str, affinity: Obj | None = None, ns: str = "shop") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "i"}]}
    if affinity:
        spec["affinity"] = affinity
    return {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}",
                         "labels": {"app": app}}, "spec": spec}


SCORING = {
    "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term("db")],
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 7, "podAffinityTerm": term("cache")}]},
    "podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term("web")],
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 3, "podAffinityTerm": term("web")}]},
    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}},
}


def test_scoring_terms_keep_only_what_weighs_on_other_pods() -> None:
    kept = scoring_terms({"affinity": SCORING})
    assert set(kept) == {"podAffinity", "podAntiAffinity"}
    assert set(kept["podAntiAffinity"]) == {"preferredDuringSchedulingIgnoredDuringExecution"}
    assert scoring_terms({}) == {}
    assert scoring_terms({"affinity": {"podAntiAffinity": SCORING["podAntiAffinity"] | {
        "preferredDuringSchedulingIgnoredDuringExecution": []}}}) == {}


def test_an_edge_pod_carries_its_terms_back_to_the_scheduler() -> None:
    edge_pod = translate_pod_down(tenant_pod("api-0", "api", SCORING), tenant="tenant-a",
                                  edge_namespace="tenant-a-x-shop", edge_node="n1",
                                  virtual_node="vn-edge-1-n1")
    assert "affinity" not in edge_pod["spec"]
    view = tenancy(edge_pod)
    assert view is not None
    assert [(t.selector.requirements[0].values, w) for t, w in view.scoring] == [
        (frozenset({"db"}), 1), (frozenset({"cache"}), 7), (frozenset({"web"}), -3)]
    assert len(view.required_anti) == 1


def test_a_garbled_annotation_is_ignored() -> None:
    edge_pod = translate_pod_down(tenant_pod("api-0", "api"), tenant="tenant-a",
                                  edge_namespace="tenant-a-x-shop", edge_node="n1",
                                  virtual_node="vn-edge-1-n1")
    edge_pod["metadata"]["annotations"][markers.POD_AFFINITY_SCORING] = "[not json"
    edge_pod["metadata"]["annotations"][markers.POD_ANTI_AFFINITY] = '{"a": 1}'
    view = tenancy(edge_pod)
    assert view is not None and view.scoring == () and view.required_anti == ()


def test_namespace_labels_come_from_the_tenants_namespaces() -> None:
    sync = SyncTest()
    tenant = sync.add_tenant()
    labelled = namespace("data")
    labelled["metadata"]["labels"] = {"team": "db", "kubernetes.io/metadata.name": "data"}
    sync.put(tenant, NAMESPACES, labelled)
    lookup = namespace_labels(tenant)
    assert lookup("data") == {"team": "db", "kubernetes.io/metadata.name": "data"}
    assert lookup("gone") == {}
    sync.close()


def test_the_placer_matches_namespace_selectors_with_tenant_labels() -> None:
    """Required anti-affinity to db pods in namespaces labelled team=db, against a db pod
    running in such a namespace: the pod avoids the db pod's node."""
    sync = SyncTest()
    tenant = sync.add_tenant()
    edge = sync.add_edge()
    for ns, labels in (("shop", {}), ("data", {"team": "db"})):
        obj = namespace(ns)
        obj["metadata"]["labels"] = {"kubernetes.io/metadata.name": ns, **labels}
        sync.put(tenant, NAMESPACES, obj)
    for name in ("n1", "n2"):
        sync.put(edge, NODES, edge_node(name))
    db = translate_pod_down(tenant_pod("db-0", "db", ns="data"), tenant="tenant-a",
                            edge_namespace="tenant-a-x-data", edge_node="n1",
                            virtual_node="vn-edge-1-n1")
    db["status"] = {"phase": "Running"}
    sync.put(edge, PODS, db)
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term("db", namespaceSelector={"matchLabels": {"team": "db"}})]}}
    placer: Placer = sync.placer
    nodes = {getattr(placer.place(tenant, tenant_pod(f"w{i}", "web", anti)), "node", None)
             for i in range(10)}
    assert nodes == {"n2"}
    pinned = tenant_pod("pinned", "web", anti)
    pinned["spec"]["nodeName"] = virtual_node_name("edge-1", "n1")
    assert isinstance(placer.place(tenant, pinned), Unschedulable)
    relabelled = namespace("data")
    relabelled["metadata"]["labels"] = {"kubernetes.io/metadata.name": "data", "team": "cache"}
    sync.put(tenant, NAMESPACES, relabelled)
    assert isinstance(placer.place(tenant, pinned), Placement)
    sync.close()
