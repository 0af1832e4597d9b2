"""Who may reach which pod through the kubelet endpoint (syncer/kubelet/access.py)."""

from __future__ import annotations

import pytest

from syncer.core.isolation import IsolationPolicy
from syncer.core.names import edge_namespace
from syncer.kube.apis import PODS
from syncer.kubelet.access import Refused, resolve, tenant_of_peercert
from syncer.kubelet.debug import missing_on_edge, refusal, translated
from syncer.kubelet.paths import KubeletCall

from .world import kubelet_world, tenant_pod


def test_a_tenants_own_pod_resolves_to_its_edge_namespace() -> None:
    tenants, edges = kubelet_world()
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
    tenants, edges = kubelet_world()
    with pytest.raises(Refused) as refused:
        resolve(tenants, edges, tenant, call)
    assert refused.value.status == status


def test_a_pod_whose_edge_copy_is_not_its_own_is_404() -> None:
    tenants, edges = kubelet_world(edge_copy_uid="someone-else")
    with pytest.raises(Refused) as refused:
        resolve(tenants, edges, "tenant-a", KubeletCall("containerLogs", "web", "p", "", "main"))
    assert refused.value.status == 404


def test_tenant_b_cannot_point_its_node_at_tenant_a_copies() -> None:
    """tenant-b's pod of the same name, on a node it annotated itself: its own namespace only."""
    tenants, edges = kubelet_world()
    tenants["tenant-b"].store(PODS).upsert(tenant_pod("web", "p", "uid-b2"))
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
