"""Service translation (syncer/kinds/services.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncer.core import markers
from syncer.kinds.services import selects, spec_differs, translate_service_down

Obj = dict[str, Any]


def service(**spec: Any) -> Obj:
    """A Service as the tenant apiserver returns it (defaults and allocations filled in)."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "uid": "svc-uid",
                     "resourceVersion": "5", "labels": {"app": "web"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                     "note": "n"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "selector": {"app": "web"}, "sessionAffinity": "None",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                 **spec},
    }


def down(svc: Obj) -> Obj:
    return translate_service_down(svc, tenant="acme", edge_namespace="acme-abc123-shop")


def test_metadata_and_markers() -> None:
    meta = down(service())["metadata"]
    assert meta == {
        "name": "web", "namespace": "acme-abc123-shop",
        "labels": {"app": "web", markers.MANAGED_BY: "fusionvc", markers.TENANT: "acme"},
        "annotations": {"note": "n", markers.TENANT_NAMESPACE: "shop",
                        markers.TENANT_NAME: "web", markers.TENANT_UID: "svc-uid"}}


def test_cluster_ip_removed() -> None:
    spec = down(service())["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec
    assert spec["selector"] == {"app": "web"}
    assert spec["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]


def test_node_ports_removed() -> None:
    svc = service(type="NodePort", externalTrafficPolicy="Local", healthCheckNodePort=32000,
                  ports=[{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30443}])
    spec = down(svc)["spec"]
    assert spec["type"] == "NodePort"
    assert spec["ports"] == [{"port": 80}, {"port": 443}]
    assert "healthCheckNodePort" not in spec


def test_external_ips_and_lb_ip_removed() -> None:
    spec = down(service(type="LoadBalancer", externalIPs=["1.2.3.4"],
                        loadBalancerIP="5.6.7.8"))["spec"]
    assert "externalIPs" not in spec and "loadBalancerIP" not in spec


def test_headless_service_stays_headless() -> None:
    """clusterIP: None is not an allocation but the headless mode (StatefulSet DNS): dropping
    it turns the edge copy into an ordinary ClusterIP service, and clusterIP is immutable."""
    spec = down(service(clusterIP="None", clusterIPs=["None"]))["spec"]
    assert spec.get("clusterIP") == "None"


def test_input_not_mutated() -> None:
    svc = service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    before = copy.deepcopy(svc)
    down(svc)
    assert svc == before


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (None, {"app": "web"}, False),
        ({}, {"app": "web"}, False),  # no selector: the service selects no pods
        ({"app": "web"}, {"app": "web"}, True),
        ({"app": "web"}, {"app": "web", "tier": "front"}, True),
        ({"app": "web", "tier": "front"}, {"app": "web"}, False),
        ({"app": "web"}, {"app": "db"}, False),
        ({"app": "web"}, None, False),
        ({"app": "web"}, {}, False),
    ],
)
def test_selects(selector: dict[str, str] | None, labels: dict[str, str] | None,
                 expected: bool) -> None:
    assert selects(selector, labels) is expected


def edge_copy(svc: Obj) -> Obj:
    """The edge apiserver's view of the translated service: its own IP and node ports."""
    out = copy.deepcopy(down(svc))
    out["spec"].update(clusterIP="10.200.0.5", clusterIPs=["10.200.0.5"])
    if out["spec"]["type"] in ("NodePort", "LoadBalancer"):
        for i, port in enumerate(out["spec"]["ports"]):
            port["nodePort"] = 31000 + i
    return out


@pytest.mark.parametrize(
    ("changes", "differs"),
    [
        ({}, False),
        ({"selector": {"app": "web2"}}, True),
        ({"type": "NodePort"}, True),
        ({"sessionAffinity": "ClientIP"}, True),
        ({"publishNotReadyAddresses": True}, True),
        ({"ports": [{"name": "http", "port": 81, "protocol": "TCP", "targetPort": 8080}]}, True),
        ({"ports": []}, True),
        ({"ipFamilyPolicy": "PreferDualStack"}, False),  # not a field fusionvc keeps in step
    ],
)
def test_spec_differs(changes: Obj, differs: bool) -> None:
    have = edge_copy(service())
    assert spec_differs(have, down(service(**changes))) is differs


def test_spec_differs_ignores_edge_node_ports() -> None:
    svc = service(type="NodePort", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}])
    have = edge_copy(svc)
    assert have["spec"]["ports"][0]["nodePort"] == 31000
    assert spec_differs(have, down(svc)) is False


def test_spec_differs_when_edge_has_no_spec() -> None:
    assert spec_differs({"metadata": {}}, down(service())) is True
