"""build_tables: edge copies -> per-tenant names (table tests)."""

from __future__ import annotations

import dns.reversename
import pytest

from syncer.edgedns.tables import Srv, build_tables, reverse_ip

from .factories import edge_ns, endpoint_slice, pod, service

D = "cluster.local."
NAMESPACES = [edge_ns("a-1-shop", "tenant-a", "shop"), edge_ns("a-1-data", "tenant-a", "data"),
              edge_ns("b-2-shop", "tenant-b", "shop"),
              {"metadata": {"name": "edge-system"}}]  # not fusionvc's
SERVICES = [
    service("a-1-shop", "api", "tenant-a", "10.96.0.10", (("http", 80), ("grpc", 9000))),
    service("a-1-data", "feature-store", "tenant-a", "10.96.0.11"),
    service("a-1-shop", "web", "tenant-a", "None"),
    service("a-1-shop", "dual", "tenant-a", "10.96.0.12,fd00::12"),
    service("a-1-shop", "ext", "tenant-a", "", externalName="db.example.com.",
            type="ExternalName"),
    service("b-2-shop", "api", "tenant-b", "10.96.0.20"),
    service("edge-system", "api", "tenant-a", "10.96.0.99"),  # namespace not fusionvc's
    service("b-2-shop", "sneaky", "tenant-a", "10.96.0.98"),  # marked for another tenant
]
SLICES = [endpoint_slice("a-1-shop", "web", [("web-0", "10.100.0.5", True),
                                             ("web-1", "10.100.0.6", False),
                                             (None, "10.100.0.7", True)])]
PODS = [pod("a-1-shop", "web-0", "tenant-a", "10.100.0.5"),
        pod("b-2-shop", "x", "tenant-b", "10.100.0.8"),
        pod("edge-system", "y", "tenant-a", "10.100.0.9")]
TABLES = build_tables("cluster.local", NAMESPACES, SERVICES, SLICES, PODS)


@pytest.mark.parametrize(("tenant", "name", "a", "aaaa"), [
    ("tenant-a", "api.shop.svc.cluster.local.", ["10.96.0.10"], []),
    ("tenant-a", "feature-store.data.svc.cluster.local.", ["10.96.0.11"], []),
    ("tenant-a", "dual.shop.svc.cluster.local.", ["10.96.0.12"], ["fd00::12"]),
    ("tenant-a", "web.shop.svc.cluster.local.", ["10.100.0.5", "10.100.0.7"], []),
    ("tenant-a", "web-0.web.shop.svc.cluster.local.", ["10.100.0.5"], []),
    ("tenant-a", "10-100-0-7.web.shop.svc.cluster.local.", ["10.100.0.7"], []),
    ("tenant-b", "api.shop.svc.cluster.local.", ["10.96.0.20"], []),
])
def test_addresses(tenant: str, name: str, a: list[str], aaaa: list[str]) -> None:
    rec = TABLES.zone(tenant).names[name]
    assert (rec.a, rec.aaaa) == (a, aaaa)


@pytest.mark.parametrize(("tenant", "name"), [
    ("tenant-b", "feature-store.data.svc.cluster.local."),  # tenant-a's only
    ("tenant-a", "web-1.web.shop.svc.cluster.local."),  # not ready
    ("tenant-a", "api.edge-system.svc.cluster.local."),  # foreign namespace
    ("tenant-a", "sneaky.shop.svc.cluster.local."),  # wrong tenant marker
    ("tenant-b", "sneaky.shop.svc.cluster.local."),
    ("tenant-c", "api.shop.svc.cluster.local."),  # a tenant with nothing here
])
def test_absent(tenant: str, name: str) -> None:
    assert name not in TABLES.zone(tenant).names
    assert name not in TABLES.zone(tenant).existing


def test_srv_cluster_ip_and_headless() -> None:
    zone = TABLES.zone("tenant-a")
    assert zone.names["_grpc._tcp.api.shop.svc.cluster.local."].srv == [
        Srv(9000, "api.shop.svc.cluster.local.")]
    assert zone.names["_http._tcp.web.shop.svc.cluster.local."].srv == [
        Srv(8080, "web-0.web.shop.svc.cluster.local."),
        Srv(8080, "10-100-0-7.web.shop.svc.cluster.local.")]


def test_external_name_is_a_cname() -> None:
    assert TABLES.zone("tenant-a").names["ext.shop.svc.cluster.local."].cname == "db.example.com."


@pytest.mark.parametrize(("tenant", "name", "exists"), [
    ("tenant-a", "shop.svc.cluster.local.", True),
    ("tenant-a", "svc.cluster.local.", True),
    ("tenant-a", "cluster.local.", True),
    ("tenant-a", "_tcp.api.shop.svc.cluster.local.", True),
    ("tenant-b", "data.svc.cluster.local.", False),
    ("tenant-b", "shop.svc.cluster.local.", True),
])
def test_empty_non_terminals(tenant: str, name: str, exists: bool) -> None:
    assert (name in TABLES.zone(tenant).existing) is exists


def test_pod_ips_name_their_tenant_only_in_fusionvc_namespaces() -> None:
    assert TABLES.pod_tenant == {"10.100.0.5": "tenant-a", "10.100.0.8": "tenant-b"}


def test_ptr_and_known_ips() -> None:
    assert TABLES.zone("tenant-a").ptr["10.96.0.10"] == "api.shop.svc.cluster.local."
    assert TABLES.zone("tenant-a").ptr["10.100.0.5"] == "web-0.web.shop.svc.cluster.local."
    assert "10.96.0.20" not in TABLES.zone("tenant-a").ptr
    assert {"10.96.0.10", "10.96.0.20", "10.100.0.8"} <= TABLES.known_ips
    assert "10.96.0.99" not in TABLES.known_ips


@pytest.mark.parametrize(("name", "ip"), [
    ("10.0.96.10.in-addr.arpa.", "10.96.0.10"),
    (dns.reversename.from_address("fd00::12").to_text(), "fd00::12"),
    ("1.2.3.in-addr.arpa.", None),
    ("x.0.96.10.in-addr.arpa.", None),
    ("api.shop.svc.cluster.local.", None),
])
def test_reverse_ip(name: str, ip: str | None) -> None:
    assert reverse_ip(name) == ip
