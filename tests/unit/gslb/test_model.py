"""Compiling the answer table (syncer/gslb/model.py)."""

from __future__ import annotations

import pytest

from syncer.gslb.model import ClientInfo, NetworkMap, compile_table, zone_containing

from .factories import EDGES, REGIONS, TENANTS, edge, record


@pytest.mark.parametrize(("name", "zones", "want"), [
    ("api.a.example.com", ("a.example.com", "example.com"), "a.example.com"),
    ("a.example.com", ("a.example.com",), "a.example.com"),
    ("xa.example.com", ("a.example.com",), None),
    ("example.com", ("a.example.com",), None),
    ("x.y.example.com", ("example.com", "y.example.com"), "y.example.com"),
])
def test_zone_containing(name: str, zones: tuple[str, ...], want: str | None) -> None:
    assert zone_containing(name, zones) == want


@pytest.mark.parametrize(("address", "want"), [
    ("10.1.2.3", ClientInfo("north", "tel")),
    ("10.3.1.1", ClientInfo("south", "uni")),
    ("10.3.7.9", ClientInfo("north", "uni")),  # the longer prefix wins
    ("10.9.0.1", None),
    ("2001:db8::1", None),
    ("not-an-ip", None),
])
def test_network_map_longest_prefix(address: str, want: ClientInfo | None) -> None:
    nets = NetworkMap((r["spec"]["cidrs"][0], r["spec"]["region"], r["spec"]["carrier"])
                      for r in REGIONS)
    assert nets.lookup(address) == want


def test_records_outside_zones_and_later_duplicates_are_left_out() -> None:
    records = [
        record("api.a.example.com", {"bj": 1}, tenant="b", created="2026-02-01"),
        record("api.a.example.com", {"gz": 1}, tenant="a", created="2026-01-01"),
        record("api.c.example.com", {"gz": 1}, tenant="a"),  # not a's zone
        record("x.b.example.com", {"gz": 1}, tenant="ghost"),  # no such tenant
    ]
    table = compile_table(records, EDGES, REGIONS, TENANTS)
    assert list(table.hosts) == ["api.a.example.com"]
    assert [s.cluster for s in table.hosts["api.a.example.com"].sites] == ["gz"]
    assert table.zones == ("a.example.com", "b.example.com")


@pytest.mark.parametrize(("edges", "want"), [
    (EDGES, ["bj", "gz", "sh"]),
    ([edge("bj", {}, [("192.0.2.1", "")], ready="False"), *EDGES[1:]], ["gz", "sh"]),
    ([edge("bj", {}, [("192.0.2.1", "")], ready="True"), *EDGES[1:]], ["bj", "gz", "sh"]),
    ([edge("bj", {}, []), *EDGES[1:]], ["gz", "sh"]),  # no entrance: nothing to answer
    (EDGES[1:], ["gz", "sh"]),  # an EdgeCluster that is gone
])
def test_sites_of_unusable_edges_are_left_out(edges: list[dict[str, object]],
                                              want: list[str]) -> None:
    table = compile_table([record("w.a.example.com", {"bj": 2, "sh": 1, "gz": 1})], edges,
                          REGIONS, TENANTS)
    assert [s.cluster for s in table.hosts["w.a.example.com"].sites] == want


def test_sites_without_ready_replicas_are_left_out() -> None:
    table = compile_table([record("w.a.example.com", {"bj": 0, "sh": 1})], EDGES, REGIONS,
                          TENANTS)
    assert [s.cluster for s in table.hosts["w.a.example.com"].sites] == ["sh"]
