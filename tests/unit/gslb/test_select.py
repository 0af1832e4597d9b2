"""Which sites and addresses a client gets (syncer/gslb/select.py)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from syncer.gslb.model import ClientInfo, compile_table
from syncer.gslb.select import Selector, candidates

from .factories import EDGES, REGIONS, TENANTS, record

NORTH_TEL, SOUTH_TEL = ClientInfo("north", "tel"), ClientInfo("south", "tel")
SOUTH_UNI, NOWHERE = ClientInfo("south", "uni"), ClientInfo(None, None)
ALL = {"bj": 3, "sh": 2, "gz": 1}


def host(sites: dict[str, int], **kw: object) -> object:
    table = compile_table([record("w.a.example.com", sites, **kw)], EDGES, REGIONS,  # type: ignore[arg-type]
                          TENANTS)
    return table.hosts["w.a.example.com"]


@pytest.mark.parametrize(("sites", "kw", "client", "family", "want"), [
    # nearest site only (tolerance 0)
    (ALL, {}, NORTH_TEL, 4, {"bj": ("192.0.2.1",)}),
    (ALL, {}, SOUTH_TEL, 4, {"gz": ("192.0.2.21",)}),
    # tolerance 20 ms: south sees gz (6) and sh (22); telecom client -> gz (telecom entrance)
    (ALL, {"tolerance": 20}, SOUTH_TEL, 4, {"gz": ("192.0.2.21",)}),
    # ... unicom client -> sh, its unicom entrance
    (ALL, {"tolerance": 20}, SOUTH_UNI, 4, {"sh": ("192.0.2.11",)}),
    # no carrier match among the near sites: every near site, every entrance
    ({"bj": 1, "sh": 1}, {"tolerance": 100}, ClientInfo("south", "mobile"), 4,
     {"bj": ("192.0.2.1", "192.0.2.2"), "sh": ("192.0.2.11",)}),
    # the nearest site has no ready replicas: the next nearest
    ({"bj": 0, "sh": 1, "gz": 1}, {}, NORTH_TEL, 4, {"sh": ("192.0.2.11",)}),
    # unknown client: every site
    (ALL, {}, NOWHERE, 4, {"bj": ("192.0.2.1", "192.0.2.2"), "sh": ("192.0.2.11",),
                           "gz": ("192.0.2.21",)}),
    # drained sites are skipped while another is left ...
    (ALL, {"drained": ("gz",)}, SOUTH_TEL, 4, {"sh": ("192.0.2.11",)}),
    # ... and answered when all are drained (never empty while replicas are ready)
    ({"gz": 1}, {"drained": ("gz",)}, SOUTH_TEL, 4, {"gz": ("192.0.2.21",)}),
    # AAAA: only sites with an IPv6 entrance
    (ALL, {}, NORTH_TEL, 6, {"sh": ("2001:db8::11",)}),
])
def test_candidates(sites: dict[str, int], kw: dict[str, object], client: ClientInfo,
                    family: int, want: dict[str, tuple[str, ...]]) -> None:
    got = candidates(host(sites, **kw), client, family)  # type: ignore[arg-type]
    assert {s.cluster: addrs for s, addrs in got} == want


@pytest.mark.parametrize(("weights", "queries"), [
    ({"bj": 3, "sh": 1}, 400), ({"bj": 1, "sh": 1, "gz": 1}, 300),
    ({"bj": 7, "sh": 2, "gz": 1}, 1000), ({"bj": 5}, 50),
])
def test_split_follows_ready_replicas_exactly(weights: dict[str, int], queries: int) -> None:
    h = host(weights)
    selector = Selector(compile_table([], EDGES, REGIONS, TENANTS))
    by_address = {i["address"]: e["metadata"]["name"] for e in EDGES for i in e["spec"]["entrance"]}
    picks = Counter(by_address[selector.addresses(h, NOWHERE, 4)[0]]  # type: ignore[arg-type]
                    for _ in range(queries))
    total = sum(weights.values())
    assert dict(picks) == {c: queries * w // total for c, w in weights.items()}


def test_split_is_interleaved_not_in_runs() -> None:
    h = host({"bj": 1, "gz": 1})
    selector = Selector(compile_table([], EDGES, REGIONS, TENANTS))
    seq = [selector.addresses(h, NOWHERE, 4)[0] for _ in range(6)]  # type: ignore[arg-type]
    assert all(a != b for a, b in pairwise(seq))


def test_several_answers_come_from_distinct_sites() -> None:
    h = host(ALL, answers=2)
    selector = Selector(compile_table([], EDGES, REGIONS, TENANTS))
    for _ in range(20):
        got = selector.addresses(h, NOWHERE, 4)  # type: ignore[arg-type]
        assert len(got) == 2 and len(set(got)) == 2


def test_more_answers_than_sites_gives_every_site_once() -> None:
    h = host({"gz": 4}, answers=3)
    selector = Selector(compile_table([], EDGES, REGIONS, TENANTS))
    assert selector.addresses(h, SOUTH_TEL, 4) == ["192.0.2.21"]  # type: ignore[arg-type]


def test_entrances_of_one_site_rotate() -> None:
    h = host({"bj": 1})
    selector = Selector(compile_table([], EDGES, REGIONS, TENANTS))
    got = [selector.addresses(h, NOWHERE, 4)[0] for _ in range(4)]  # type: ignore[arg-type]
    assert got == ["192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.2"]


def test_no_ready_site_gives_no_address() -> None:
    h = host({"bj": 0})
    selector = Selector(compile_table([], EDGES, REGIONS, TENANTS))
    assert selector.addresses(h, NORTH_TEL, 4) == []  # type: ignore[arg-type]


def test_a_new_table_keeps_the_cycle_of_unchanged_candidates() -> None:
    first = compile_table([record("w.a.example.com", {"bj": 1, "gz": 1})], EDGES, REGIONS,
                          TENANTS)
    selector = Selector(first)
    h = first.hosts["w.a.example.com"]
    seen = [selector.addresses(h, NOWHERE, 4)[0] for _ in range(3)]  # cycle of 2
    again = compile_table([record("w.a.example.com", {"bj": 1, "gz": 1})], EDGES, REGIONS,
                          TENANTS, serial=2)
    selector = Selector(again, previous=selector)
    seen.append(selector.addresses(again.hosts["w.a.example.com"], NOWHERE, 4)[0])
    assert seen.count("192.0.2.21") == 2  # the fourth pick completed the second cycle
    changed = compile_table([record("w.a.example.com", {"bj": 1, "gz": 3})], EDGES, REGIONS,
                            TENANTS, serial=3)
    selector = Selector(changed, previous=selector)
    picks = [selector.addresses(changed.hosts["w.a.example.com"], NOWHERE, 4)[0]
             for _ in range(4)]
    assert picks.count("192.0.2.21") == 3
