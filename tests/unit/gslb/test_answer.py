"""DNS messages in and out (syncer/gslb/answer.py), parsed back with dnspython."""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from syncer.gslb.answer import Answerer, ServerIdentity
from syncer.gslb.model import compile_table
from syncer.gslb.select import Selector

from .factories import EDGES, REGIONS, TENANTS, record

NS = ("ns1.gslb.example.net.",)


def answerer() -> Answerer:
    table = compile_table([record("api.a.example.com", {"bj": 1, "gz": 1}),
                           record("empty.a.example.com", {"bj": 0})],
                          EDGES, REGIONS, TENANTS, serial=7)
    return Answerer(Selector(table), ServerIdentity(NS))


def ask(a: Answerer, name: str, rdtype: str = "A", source: str = "10.1.0.1",
        ecs: tuple[str, int] | None = None, tcp: bool = False) -> dns.message.Message:
    options = [dns.edns.ECSOption(*ecs)] if ecs else []
    query = dns.message.make_query(name, rdtype, use_edns=0 if ecs else None, options=options)
    wire = a.respond(query.to_wire(), source, tcp=tcp)
    assert wire is not None
    reply = dns.message.from_wire(wire)
    assert reply.id == query.id
    return reply


def addresses(reply: dns.message.Message) -> list[str]:
    return [r.to_text() for rrset in reply.answer for r in rrset]


@pytest.mark.parametrize(("name", "rdtype", "rcode", "answer", "authority_soa"), [
    ("api.a.example.com", "A", dns.rcode.NOERROR, ["192.0.2.1"], False),   # north -> bj
    ("API.A.Example.COM.", "A", dns.rcode.NOERROR, ["192.0.2.1"], False),  # case-insensitive
    ("api.a.example.com", "AAAA", dns.rcode.NOERROR, [], True),   # no IPv6 entrance: NODATA
    ("api.a.example.com", "MX", dns.rcode.NOERROR, [], True),
    ("empty.a.example.com", "A", dns.rcode.NOERROR, [], True),    # no ready replicas
    ("nope.a.example.com", "A", dns.rcode.NXDOMAIN, [], True),
    ("a.example.com", "A", dns.rcode.NOERROR, [], True),
    ("www.example.org", "A", dns.rcode.REFUSED, [], False),
    ("example.com", "A", dns.rcode.REFUSED, [], False),  # the parent is not hosted
])
def test_rcodes_and_answers(name: str, rdtype: str, rcode: int, answer: list[str],
                            authority_soa: bool) -> None:
    reply = ask(answerer(), name, rdtype)
    assert reply.rcode() == rcode
    assert addresses(reply) == answer
    assert bool(reply.authority) is authority_soa
    if rcode != dns.rcode.REFUSED:
        assert reply.flags & dns.flags.AA


def test_answer_ttl_is_the_service_domains() -> None:
    assert ask(answerer(), "api.a.example.com").answer[0].ttl == 30


def test_apex_soa_and_ns() -> None:
    a = answerer()
    soa = ask(a, "a.example.com", "SOA").answer[0][0]
    assert (soa.mname.to_text(), soa.serial) == (NS[0], 7)
    assert [r.to_text() for r in ask(a, "a.example.com", "NS").answer[0]] == list(NS)


def test_client_subnet_decides_the_region_and_the_scope_is_echoed() -> None:
    a = answerer()
    reply = ask(a, "api.a.example.com", source="127.0.0.1", ecs=("10.2.3.0", 24))
    assert addresses(reply) == ["192.0.2.21"]  # south -> gz
    (option,) = reply.options
    assert isinstance(option, dns.edns.ECSOption)
    assert (option.address, option.srclen, option.scopelen) == ("10.2.3.0", 24, 24)
    # and by source address when there is no option
    assert addresses(ask(a, "api.a.example.com", source="10.2.9.9")) == ["192.0.2.21"]


def test_cached_encodings_keep_each_querys_id_and_the_weighted_choice() -> None:
    a = answerer()
    got = [addresses(ask(a, "api.a.example.com", source="192.0.2.200"))[0] for _ in range(4)]
    assert sorted(got) == ["192.0.2.1", "192.0.2.2", "192.0.2.21", "192.0.2.21"]


def test_tcp_answers_alike() -> None:
    assert addresses(ask(answerer(), "api.a.example.com", tcp=True)) == ["192.0.2.1"]


TRUNCATED_QUESTION = b"\x12\x34" + b"\x01\x00" + b"\x00\x01" + b"\x00" * 6 + b"\xff"


@pytest.mark.parametrize("wire", [b"", b"\x01\x02", TRUNCATED_QUESTION])
def test_garbage(wire: bytes) -> None:
    reply = answerer().respond(wire, "10.1.0.1")
    if len(wire) < 12:
        assert reply is None
    else:
        assert reply is not None and reply[:2] == wire[:2]
        assert reply[3] & 0x0F == dns.rcode.FORMERR


def test_responses_are_not_answered() -> None:
    query = dns.message.make_query("api.a.example.com", "A")
    response = dns.message.make_response(query)
    assert answerer().respond(response.to_wire(), "10.1.0.1") is None
