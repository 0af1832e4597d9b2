"""The listeners over real sockets on 127.0.0.1: tenant by address, source check, cache, TCP."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator

import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from syncer.edgedns.forward import Forwarder
from syncer.edgedns.server import DnsServer, Resolver
from syncer.edgedns.settings import Listener
from syncer.edgedns.tables import build_tables

from .test_tables import NAMESPACES, PODS, SERVICES, SLICES, TABLES

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the listeners take both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


@pytest.mark.parametrize(("tenant", "source", "trusted", "allowed"), [
    ("tenant-a", "10.100.0.5", (), True),  # its own pod
    ("tenant-b", "10.100.0.5", LOOPBACK, False),  # tenant-a's pod on tenant-b's address
    ("tenant-a", "10.100.0.8", LOOPBACK, False),
    ("tenant-a", "127.0.0.1", LOOPBACK, True),  # the node / tests
    ("tenant-a", "127.0.0.1", (), False),
    ("tenant-a", "192.0.2.1", LOOPBACK, False),  # unknown, not trusted
    ("tenant-a", "not-an-ip", LOOPBACK, False),
])
def test_source_check(tenant: str, source: str, trusted: tuple[ipaddress.IPv4Network, ...],
                      allowed: bool) -> None:
    resolver = Resolver(TABLES, Forwarder((), 1.0), trusted)
    assert resolver.allowed(tenant, source) is allowed


@pytest.fixture
async def server() -> AsyncIterator[tuple[DnsServer, int, int]]:
    port_a = free_port()
    port_b = next(p for p in iter(free_port, None) if p != port_a)
    resolver = Resolver(TABLES, Forwarder((("127.0.0.1", free_port()),), 0.2), LOOPBACK)
    srv = DnsServer(resolver, (Listener("tenant-a", "127.0.0.1", port_a),
                               Listener("tenant-b", "127.0.0.1", port_b)))
    await srv.start()
    try:
        yield srv, port_a, port_b
    finally:
        await srv.stop()


async def ask(port: int, name: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", timeout=2, port=port)
    return await dns.asyncquery.udp(query, "127.0.0.1", timeout=2, port=port)


async def test_tenant_from_the_listener(server: tuple[DnsServer, int, int]) -> None:
    _, port_a, port_b = server
    name = "feature-store.data.svc.cluster.local."
    for _ in range(2):  # the second answer comes from the cache, with its own ID
        reply = await ask(port_a, name)
        assert [rd.to_text() for rr in reply.answer for rd in rr] == ["10.96.0.11"]
    assert (await ask(port_b, name)).rcode() == dns.rcode.NXDOMAIN
    assert (await ask(port_a, name, tcp=True)).answer


async def test_untrusted_source_is_refused(server: tuple[DnsServer, int, int]) -> None:
    srv, port_a, _ = server
    await ask(port_a, "api.shop.svc.cluster.local.")  # cached while trusted
    srv.resolver.trusted = ()
    srv.resolver._trusted_memo.clear()
    assert (await ask(port_a, "api.shop.svc.cluster.local.")).rcode() == dns.rcode.REFUSED


async def test_upstream_silence_gives_no_answer(server: tuple[DnsServer, int, int]) -> None:
    _, port_a, _ = server
    with pytest.raises(dns.exception.Timeout):
        await dns.asyncquery.udp(dns.message.make_query("example.org.", "A"), "127.0.0.1",
                                 timeout=1, port=port_a)


async def test_cache_is_dropped_when_the_tenants_zone_changes(
        server: tuple[DnsServer, int, int]) -> None:
    srv, port_a, port_b = server
    await ask(port_a, "api.shop.svc.cluster.local.")
    await ask(port_b, "api.shop.svc.cluster.local.")
    srv.resolver.swap(build_tables("cluster.local", NAMESPACES, SERVICES, SLICES, []))
    assert set(srv.resolver.cache) == {"tenant-a", "tenant-b"}  # only pods changed
    without_api = [s for s in SERVICES if s["metadata"] != SERVICES[0]["metadata"]]
    srv.resolver.swap(build_tables("cluster.local", NAMESPACES, without_api, SLICES, PODS))
    assert set(srv.resolver.cache) == {"tenant-b"}
    assert (await ask(port_a, "api.shop.svc.cluster.local.")).rcode() == dns.rcode.NXDOMAIN
