"""The UDP and TCP listeners (syncer/gslb/server.py) on 127.0.0.1, queried with dnspython."""

from __future__ import annotations

import asyncio

import dns.asyncquery
import dns.message
import dns.rcode

from syncer.gslb.answer import Answerer, ServerIdentity
from syncer.gslb.model import compile_table
from syncer.gslb.select import Selector
from syncer.gslb.server import DNSServer

from .factories import EDGES, REGIONS, TENANTS, record


async def test_udp_and_tcp_answer_from_the_clients_source_address() -> None:
    table = compile_table([record("api.a.example.com", {"bj": 1, "gz": 1})], EDGES, REGIONS,
                          TENANTS)
    answerer = Answerer(Selector(table), ServerIdentity(("ns1.example.net.",)))
    server = DNSServer(lambda: answerer, "127.0.0.1", 0)
    await server.start()
    try:
        query = dns.message.make_query("api.a.example.com", "A")
        udp = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=5)
        tcp = await dns.asyncquery.tcp(query, "127.0.0.1", port=server.port, timeout=5)
        for reply in (udp, tcp):
            assert reply.rcode() == dns.rcode.NOERROR and len(reply.answer[0]) == 1
        refused = await dns.asyncquery.udp(dns.message.make_query("x.org", "A"), "127.0.0.1",
                                           port=server.port, timeout=5)
        assert refused.rcode() == dns.rcode.REFUSED
    finally:
        await asyncio.wait_for(server.stop(), 5)
