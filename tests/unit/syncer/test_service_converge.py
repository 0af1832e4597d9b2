"""Every field fusionvc copies of a Service converges on update; ExternalName is copied
(syncer/kinds/service_converge.py, ServiceSyncer)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncer.core import markers
from syncer.kinds.service_converge import service_patch, spec_patch
from syncer.kinds.services import translate_service_down
from syncer.kube.apis import EVENTS, PODS, SERVICES
from tests.builders import pod, service

from .harness import SyncTest

Obj = dict[str, Any]


def tenant_svc(**spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u", "labels": {"a": "1"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                     "selector": {"app": "web"}, "sessionAffinity": "None",
                     "internalTrafficPolicy": "Cluster",
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], **spec}}


def edge_copy(svc: Obj) -> Obj:
    """The copy as the edge holds it: translated, then the edge's own allocations."""
    out = translate_service_down(svc, tenant="t", edge_namespace="t-1-shop")
    if out["spec"].get("type") != "ExternalName" and out["spec"].get("clusterIP") != "None":
        out["spec"].update(clusterIP="10.200.0.9", clusterIPs=["10.200.0.9"])
    return out


SPEC_CHANGES: list[tuple[str, Obj, Obj]] = [  # (case, tenant spec change, expected spec patch)
    ("internalTrafficPolicy", {"internalTrafficPolicy": "Local"},
     {"internalTrafficPolicy": "Local"}),
    ("selector", {"selector": {"app": "v2"}}, {"selector": {"app": "v2"}}),
    ("ports", {"ports": [{"port": 81, "protocol": "TCP", "targetPort": 80}]},
     {"ports": [{"port": 81, "protocol": "TCP", "targetPort": 80}]}),
    ("sessionAffinityConfig", {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {
        "clientIP": {"timeoutSeconds": 60}}}, {"sessionAffinity": "ClientIP",
                                              "sessionAffinityConfig": {
                                                  "clientIP": {"timeoutSeconds": 60}}}),
    ("publishNotReadyAddresses", {"publishNotReadyAddresses": True},
     {"publishNotReadyAddresses": True}),
    ("to-externalName", {"type": "ExternalName", "externalName": "db.example.com",
                         "selector": None},
     {"type": "ExternalName", "externalName": "db.example.com", "selector": None,
      "clusterIP": None, "clusterIPs": None}),
]


@pytest.mark.parametrize(("change", "want"), [(c, w) for _, c, w in SPEC_CHANGES],
                         ids=[i for i, _, _ in SPEC_CHANGES])
def test_spec_changes_become_a_patch(change: Obj, want: Obj) -> None:
    have = edge_copy(tenant_svc())
    new = tenant_svc(**change)
    new["spec"] = {k: v for k, v in new["spec"].items() if v is not None}
    assert spec_patch(have, edge_copy(new)) == want


def test_a_converged_copy_needs_no_patch() -> None:
    have = edge_copy(tenant_svc())
    assert service_patch(have, edge_copy(tenant_svc())) is None
    node_port = tenant_svc(type="NodePort")
    have = edge_copy(node_port)
    have["spec"]["ports"][0]["nodePort"] = 31000  # the edge's own allocation
    assert service_patch(have, edge_copy(node_port)) is None


def test_labels_annotations_and_removed_markers_converge() -> None:
    have = edge_copy(tenant_svc())
    have["metadata"]["labels"].pop(markers.MANAGED_BY)
    new = tenant_svc()
    new["metadata"]["labels"] = {"a": "2"}
    new["metadata"]["annotations"] = {"note": "x"}
    patch = service_patch(have, edge_copy(new))
    assert patch is not None
    assert patch["metadata"]["labels"] == {"a": "2", markers.MANAGED_BY: "fusionvc"}
    assert patch["metadata"]["annotations"] == {"note": "x"}
    assert "spec" not in patch


def test_external_name_changes_converge() -> None:
    ext = {"type": "ExternalName", "externalName": "a.example.com"}
    svc = tenant_svc(**ext)
    del svc["spec"]["selector"], svc["spec"]["clusterIP"], svc["spec"]["clusterIPs"]
    have = edge_copy(svc)
    svc2 = copy.deepcopy(svc)
    svc2["spec"]["externalName"] = "b.example.com"
    assert spec_patch(have, edge_copy(svc2)) == {"externalName": "b.example.com"}


async def test_edits_reach_the_edge_copy(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web"))
    sync.put(tenant, SERVICES, service("shop", "web"))
    await sync.settle()
    assert edge.get(SERVICES, sync.edge_ns(), "web") is not None
    svc = tenant.get(SERVICES, "shop", "web")
    assert svc is not None
    edited = copy.deepcopy(svc)
    edited["metadata"]["labels"] = {"tier": "two"}
    edited["metadata"]["annotations"] = {"note": "hello"}
    edited["spec"]["internalTrafficPolicy"] = "Local"
    sync.put(tenant, SERVICES, edited)
    await sync.settle()
    got = edge.get(SERVICES, sync.edge_ns(), "web")
    assert got is not None
    assert got["metadata"]["labels"]["tier"] == "two"
    assert got["metadata"]["annotations"]["note"] == "hello"
    assert got["spec"]["internalTrafficPolicy"] == "Local"


async def test_an_external_name_service_is_copied_where_the_namespace_runs_pods(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    ext = service("shop", "db", selector={}, type="ExternalName", externalName="db.example.com")
    ext["spec"].pop("selector")
    sync.put(tenant, SERVICES, ext)
    await sync.settle()
    assert edge.get(SERVICES, sync.edge_ns(), "db") is None  # no pod of the namespace there
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    got = edge.get(SERVICES, sync.edge_ns(), "db")
    assert got is not None and got["spec"]["externalName"] == "db.example.com"


async def test_a_copy_whose_managed_by_label_was_removed_is_repaired(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web"))
    sync.put(tenant, SERVICES, service("shop", "web"))
    await sync.settle()
    copy_ = edge.get(SERVICES, sync.edge_ns(), "web")
    assert copy_ is not None
    labels = {k: v for k, v in copy_["metadata"]["labels"].items() if k != markers.MANAGED_BY}
    sync.put(edge, SERVICES, {**copy_, "metadata": {**copy_["metadata"], "labels": labels}})
    await sync.settle()
    got = edge.get(SERVICES, sync.edge_ns(), "web")
    assert got is not None and got["metadata"]["labels"][markers.MANAGED_BY] == "fusionvc"
    assert not [e for e in tenant.store(EVENTS) if e["reason"] == "NameTaken"]
