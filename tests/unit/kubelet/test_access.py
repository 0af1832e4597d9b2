"""Who may reach which pod through the kubelet endpoint (syncer/kubelet/access.py)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.core import markers
from syncer.core.isolation import IsolationPolicy
from syncer.core.names import edge_namespace, virtual_node_name
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube.apis import NODES, PODS
from syncer.kube.informer import Informer
from syncer.kube.store import Store
from syncer.kubelet.access import Refused, resolve, tenant_of_peercert
from syncer.kubelet.debug import missing_on_edge, refusal, translated
from syncer.kubelet.paths import KubeletCall

Obj = dict[str, Any]
VNODE = virtual_node_name("edge-1", "n1")


def _conn(cls: type[Any], name: str, objs: dict[str, list[Obj]], **extra: Any) -> Any:
    conn = cls(name, "tenant" if cls is TenantConn else "edge", client=None, **extra)
    for rt in (PODS, NODES):
        store = Store()
        for obj in objs.get(rt.plural, []):
            store.upsert(obj)
        conn.informers[rt.plural] = Informer(None, rt, store)  # type: ignore[arg-type]
    return conn


def _pod(ns: str, name: str, uid: str, node: str = VNODE, **meta: Any) -> Obj:
    return {"metadata": {"namespace": ns, "name": name, "uid": uid, **meta},
            "spec": {"nodeName": node, "containers": [{"name": "main"}],
                     "ephemeralContainers": [{"name": "dbg"}]}}


def _world(edge_copy_uid: str = "uid-a") -> tuple[dict[str, TenantConn], dict[str, EdgeConn]]:
    vnode = {"metadata": {"name": VNODE, "labels": markers.marker_labels("tenant-a") | {
        markers.MANAGED_BY: markers.MANAGED_BY_VALUE},
        "annotations": {markers.EDGE_CLUSTER: "edge-1", markers.EDGE_NODE: "n1"}}}
    a = _conn(TenantConn, "tenant-a", {"pods": [_pod("web", "p", "uid-a")], "nodes": [vnode]},
              uid="ta")
    b = _conn(TenantConn, "tenant-b", {"pods": [_pod("web", "q", "uid-b")], "nodes": [vnode]},
              uid="tb")
    ens = edge_namespace("tenant-a", "ta", "web")
    copy = {"metadata": {"namespace": ens, "name": "p", "labels": markers.marker_labels(
        "tenant-a"), "annotations": {markers.TENANT_NAMESPACE: "web", markers.TENANT_NAME: "p",
                                     markers.TENANT_UID: edge_copy_uid}}, "spec": {}}
    edge = _conn(EdgeConn, "edge-1", {"pods": [copy]})
    return {"tenant-a": a, "tenant-b": b}, {"edge-1": edge}


def test_a_tenants_own_pod_resolves_to_its_edge_namespace() -> None:
    tenants, edges = _world()
    for call in (KubeletCall("containerLogs", "web", "p", "", "main"),
                 KubeletCall("exec", "web", "p", "uid-a", "dbg"),
                 KubeletCall("portForward", "web", "p", "uid-a", "")):
        target = resolve(tenants, edges, "tenant-a", call)
        assert target.edge.name == "edge-1"
        assert target.edge_namespace == edge_namespace("tenant-a", "ta", "web")


@pytest.mark.parametrize(("tenant", "call", "status"), [
    ("tenant-a", KubeletCall("containerLogs", "web", "nope", "", "main"), 404),
    ("tenant-a", KubeletCall("containerLogs", "web", "p", "", "nope"), 404),
    ("tenant-a", KubeletCall("exec", "web", "p", "other-uid", "main"), 404),
    ("tenant-b", KubeletCall("containerLogs", "web", "p", "", "main"), 403),
    ("tenant-b", KubeletCall("exec", "web", "p", "uid-a", "main"), 403),
    ("tenant-zz", KubeletCall("containerLogs", "web", "p", "", "main"), 403),
])
def test_refusals(tenant: str, call: KubeletCall, status: int) -> None:
    tenants, edges = _world()
    with pytest.raises(Refused) as refused:
        resolve(tenants, edges, tenant, call)
    assert refused.value.status == status


def test_a_pod_whose_edge_copy_is_not_its_own_is_404() -> None:
    tenants, edges = _world(edge_copy_uid="someone-else")
    with pytest.raises(Refused) as refused:
        resolve(tenants, edges, "tenant-a", KubeletCall("containerLogs", "web", "p", "", "main"))
    assert refused.value.status == 404


def test_tenant_b_cannot_point_its_node_at_tenant_a_copies() -> None:
    """tenant-b's pod of the same name, on a node it annotated itself: its own namespace only."""
    tenants, edges = _world()
    tenants["tenant-b"].store(PODS).upsert(_pod("web", "p", "uid-b2"))
    with pytest.raises(Refused) as refused:
        resolve(tenants, edges, "tenant-b", KubeletCall("containerLogs", "web", "p", "", "main"))
    assert refused.value.status == 404


@pytest.mark.parametrize(("subject", "result"), [
    ((("commonName", "fusionvc:tenant:tenant-a"),), "tenant-a"),
    ((("organizationName", "x"), ("commonName", "fusionvc:tenant:b")), "b"),
    ((("commonName", "system:kube-apiserver"),), 403),
    ((("commonName", "fusionvc:tenant:"),), 403),
    ((), 403),
])
def test_tenant_of_peercert(subject: tuple[tuple[str, str], ...], result: str | int) -> None:
    cert = {"subject": tuple((rdn,) for rdn in subject)}
    if isinstance(result, str):
        assert tenant_of_peercert(cert) == result
    else:
        with pytest.raises(Refused) as refused:
            tenant_of_peercert(cert)
        assert refused.value.status == result
    with pytest.raises(Refused):
        tenant_of_peercert(None)


def test_debug_containers_missing_on_the_edge_and_their_refusal() -> None:
    tenant_pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}],
                  "ephemeralContainers": [{"name": "ok"}, {"name": "root", "securityContext": {
                      "privileged": True}}]}}
    edge_pod = {"spec": {"ephemeralContainers": [{"name": "ok"}]}}
    assert [c["name"] for c in missing_on_edge(tenant_pod, edge_pod)] == ["root"]
    policy = IsolationPolicy()
    assert refusal(tenant_pod, {"name": "ok"}, policy) == ""
    assert "privileged" in refusal(tenant_pod, tenant_pod["spec"]["ephemeralContainers"][1],
                                   policy)


def test_translated_takes_the_named_containers_of_the_edge_translation() -> None:
    desired = {"spec": {"ephemeralContainers": [{"name": "a", "env": []}, {"name": "b"}]}}
    assert translated(desired, {"b"}) == [{"name": "b"}]
