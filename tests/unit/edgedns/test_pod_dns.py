"""edge_pod_dns: the DNS settings an edge pod gets (table tests)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.edgedns.pod_dns import EdgeDNS, edge_pod_dns, tenant_nameservers
from syncer.kinds.pod_translate import translate_pod_down

DNS = EdgeDNS("127.53.1.1", "cluster.local")
SEARCH = ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
NDOTS = {"name": "ndots", "value": "5"}


@pytest.mark.parametrize(("spec", "dns", "want"), [
    ({}, DNS, {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["127.53.1.1"], "searches": SEARCH, "options": [NDOTS]}}),
    ({"dnsPolicy": "ClusterFirst"}, DNS, {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["127.53.1.1"], "searches": SEARCH, "options": [NDOTS]}}),
    ({"dnsPolicy": "ClusterFirstWithHostNet"}, DNS, {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["127.53.1.1"], "searches": SEARCH, "options": [NDOTS]}}),
    # the tenant's dnsConfig is merged as the kubelet merges it
    ({"dnsConfig": {"nameservers": ["1.1.1.1", "127.53.1.1"], "searches": ["corp.example",
                                                                          "cluster.local"],
                    "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}},
     DNS, {"dnsPolicy": "None", "dnsConfig": {
         "nameservers": ["127.53.1.1", "1.1.1.1"], "searches": [*SEARCH, "corp.example"],
         "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}),
    # cut to the API's limits as the kubelet cuts: 3 nameservers
    ({"dnsConfig": {"nameservers": ["1.1.1.1", "8.8.8.8", "9.9.9.9"]}}, DNS,
     {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["127.53.1.1", "1.1.1.1", "8.8.8.8"],
                                         "searches": SEARCH, "options": [NDOTS]}}),
    # Default and None keep their meaning, untouched
    ({"dnsPolicy": "Default"}, DNS, {"dnsPolicy": "Default"}),
    ({"dnsPolicy": "Default", "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}},
     DNS, {"dnsPolicy": "Default", "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}}, DNS,
     {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}}),
    # no edge DNS for this tenant on that edge: as the tenant wrote it
    ({"dnsPolicy": "ClusterFirst"}, None, {"dnsPolicy": "ClusterFirst"}),
    ({}, EdgeDNS("fd00::53", "corp.internal."), {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["fd00::53"], "options": [NDOTS],
        "searches": ["shop.svc.corp.internal", "svc.corp.internal", "corp.internal"]}}),
])
def test_edge_pod_dns(spec: dict[str, Any], dns: EdgeDNS | None,
                      want: dict[str, Any]) -> None:
    assert edge_pod_dns(spec, "shop", dns) == want


def test_search_list_limits() -> None:
    many = [f"d{i:03d}.{'x' * 60}.example" for i in range(40)]
    got = edge_pod_dns({"dnsConfig": {"searches": many}}, "shop", DNS)["dnsConfig"]["searches"]
    assert got[:3] == SEARCH
    assert len(got) <= 32 and len(" ".join(got)) <= 2048


def test_input_is_not_changed() -> None:
    spec = {"dnsConfig": {"options": [{"name": "edns0"}]}}
    out = edge_pod_dns(spec, "shop", DNS)
    out["dnsConfig"]["options"][1]["name"] = "changed"
    assert spec == {"dnsConfig": {"options": [{"name": "edns0"}]}}


@pytest.mark.parametrize(("spec", "want"), [
    ({}, ({}, "cluster.local", [])),
    ({"dns": {"clusterDomain": "corp.internal.", "tenantNameservers": {"a": "127.53.1.1"}}},
     ({"a": "127.53.1.1"}, "corp.internal", [])),
    ({"dns": {"tenantNameservers": {"a": "10.0.0.300", "b": "fd00::53"}}},
     ({"b": "fd00::53"}, "cluster.local",
      ["spec.dns.tenantNameservers.a: '10.0.0.300' is not an IP"])),
])
def test_tenant_nameservers(spec: dict[str, Any], want: Any) -> None:
    assert tenant_nameservers(spec) == want


def test_translate_pod_down_sets_the_edge_dns() -> None:
    pod = {"metadata": {"name": "p", "namespace": "shop", "uid": "u"},
           "spec": {"containers": [{"name": "c", "image": "i"}],
                    "dnsConfig": {"searches": ["corp.example"]}}}
    edge = translate_pod_down(pod, tenant="tenant-a", edge_namespace="tenant-a-1-shop",
                              edge_node="n", virtual_node="vn", dns=DNS)["spec"]
    assert edge["dnsPolicy"] == "None"
    assert edge["dnsConfig"]["searches"] == [*SEARCH, "corp.example"]
    plain = translate_pod_down(pod, tenant="tenant-a", edge_namespace="tenant-a-1-shop",
                               edge_node="n", virtual_node="vn")["spec"]
    assert "dnsPolicy" not in plain and plain["dnsConfig"] == {"searches": ["corp.example"]}
