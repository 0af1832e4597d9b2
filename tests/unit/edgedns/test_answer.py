"""answer(): responses per tenant from the tables (table tests on real wire messages)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from syncer.edgedns.answer import answer

from .test_tables import TABLES


def ask(tenant: str, name: str, rdtype: str = "A") -> dns.message.Message | None:
    query = dns.message.from_wire(dns.message.make_query(name, rdtype).to_wire())
    response = answer(TABLES, tenant, query, 5)
    return None if response is None else dns.message.from_wire(response.to_wire())


def values(response: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in response.answer for rd in rrset)


@pytest.mark.parametrize(("tenant", "name", "rdtype", "rcode", "want"), [
    ("tenant-a", "api.shop.svc.cluster.local.", "A", "NOERROR", ["10.96.0.10"]),
    ("tenant-a", "API.Shop.svc.cluster.local.", "A", "NOERROR", ["10.96.0.10"]),
    ("tenant-a", "api.shop.svc.cluster.local.", "AAAA", "NOERROR", []),
    ("tenant-a", "dual.shop.svc.cluster.local.", "AAAA", "NOERROR", ["fd00::12"]),
    ("tenant-a", "_grpc._tcp.api.shop.svc.cluster.local.", "SRV", "NOERROR",
     ["0 100 9000 api.shop.svc.cluster.local."]),
    ("tenant-a", "web.shop.svc.cluster.local.", "A", "NOERROR", ["10.100.0.5", "10.100.0.7"]),
    ("tenant-a", "ext.shop.svc.cluster.local.", "A", "NOERROR", ["db.example.com."]),
    ("tenant-a", "nope.shop.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("tenant-a", "api.shop.shop.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("tenant-a", "shop.svc.cluster.local.", "A", "NOERROR", []),
    ("tenant-b", "feature-store.data.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("tenant-b", "api.shop.svc.cluster.local.", "A", "NOERROR", ["10.96.0.20"]),
    ("tenant-c", "api.shop.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("tenant-a", "api.a-1-shop.svc.cluster.local.", "A", "NXDOMAIN", []),  # edge names unknown
])
def test_cluster_domain(tenant: str, name: str, rdtype: str, rcode: str,
                        want: list[str]) -> None:
    response = ask(tenant, name, rdtype)
    assert response is not None
    assert dns.rcode.to_text(response.rcode()) == rcode
    assert values(response) == want
    assert response.flags & dns.flags.AA
    if not want:
        assert response.authority and response.authority[0].rdtype == dns.rdatatype.SOA


def test_srv_adds_the_targets_addresses() -> None:
    response = ask("tenant-a", "_http._tcp.web.shop.svc.cluster.local.", "SRV")
    assert response is not None
    assert sorted(rd.to_text() for rrset in response.additional for rd in rrset) == [
        "10.100.0.5", "10.100.0.7"]


@pytest.mark.parametrize(("tenant", "ip", "rcode", "want"), [
    ("tenant-a", "10.96.0.10", "NOERROR", ["api.shop.svc.cluster.local."]),
    ("tenant-b", "10.96.0.10", "NXDOMAIN", []),  # another tenant's: no name leaks
    ("tenant-b", "10.100.0.5", "NXDOMAIN", []),
])
def test_reverse(tenant: str, ip: str, rcode: str, want: list[str]) -> None:
    response = ask(tenant, dns.reversename.from_address(ip).to_text(), "PTR")
    assert response is not None
    assert (dns.rcode.to_text(response.rcode()), values(response)) == (rcode, want)


@pytest.mark.parametrize(("name", "rdtype"), [
    ("example.com.", "A"),
    ("api.shop.", "A"),
    (dns.reversename.from_address("192.0.2.1").to_text(), "PTR"),
])
def test_other_names_go_upstream(name: str, rdtype: str) -> None:
    assert ask("tenant-a", name, rdtype) is None
