"""The DNS listeners: one UDP and one TCP socket per tenant address, answering from Tables.

The tenant of a query is the listener it arrived on (fusionvc writes that
address into the tenant's edge pods). A pod can still send to another
tenant's address, so the source is checked too: a pod IP of this edge cluster
must belong to the listener's tenant, any other source must be in
``trusted_sources``; otherwise the answer is REFUSED. Neither depends on
anything inside the packet.

Answers of the tables are cached as wire bytes per tenant and query (after its
ID), so a repeated question costs a dict look-up; a tenant's cache is dropped
when its zone changes (not when another tenant's does, nor when pods come and
go). Reverse answers, which depend on every tenant's addresses, are not cached. Names
outside the cluster domain are forwarded (forward.py) without caching.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import structlog

from syncer.edgedns.answer import answer, refused
from syncer.edgedns.forward import Forwarder
from syncer.edgedns.settings import IPNetwork, Listener
from syncer.edgedns.tables import Tables

log = structlog.get_logger(__name__)
CACHE_MAX = 50_000  # answers kept per tenant
NO_CACHE: dict[tuple[bool, bytes], bytes] = {}
UDP_PLAIN_MAX = 512
TCP_IDLE_S = 10.0
READ_BATCH = 64  # datagrams handled per wake-up before other work gets a turn
UDP_READ_MAX = 65535


@dataclass
class Resolver:
    """Shared by every listener: the current tables, the caches, the source check."""

    tables: Tables
    forwarder: Forwarder
    trusted: tuple[IPNetwork, ...]
    ttl: int = 5
    cache: dict[str, dict[tuple[bool, bytes], bytes]] = field(default_factory=dict)
    _trusted_memo: dict[str, bool] = field(default_factory=dict)

    def swap(self, tables: Tables) -> None:
        old, self.tables = self.tables, tables
        self.cache = {t: c for t, c in self.cache.items() if tables.zone(t) == old.zone(t)}

    def allowed(self, tenant: str, source: str) -> bool:
        owner = self.tables.pod_tenant.get(source)
        if owner is not None:
            return owner == tenant
        trusted = self._trusted_memo.get(source)
        if trusted is None:
            try:
                ip = ipaddress.ip_address(source.partition("%")[0])
                trusted = any(ip in net for net in self.trusted)
            except ValueError:
                trusted = False
            if len(self._trusted_memo) > CACHE_MAX:
                self._trusted_memo.clear()
            self._trusted_memo[source] = trusted
        return trusted

    def cached(self, tenant: str, wire: bytes) -> bytes | None:
        body = self.cache.get(tenant, NO_CACHE).get((True, wire[2:]))
        return wire[:2] + body if body is not None else None

    def local(self, tenant: str, source: str, wire: bytes,
              udp: bool) -> tuple[bytes | None, dns.message.Message | None]:
        """(response bytes, None) when answered here; (None, query) when it goes upstream."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None, None  # not DNS: dropped, as any server would
        if not self.allowed(tenant, source):
            return refused(query).to_wire(), None
        response = answer(self.tables, tenant, query, self.ttl)
        if response is None:
            return None, query
        out = _render(response, query, udp)
        if query.question and not query.question[0].name.to_text().lower().endswith(".arpa."):
            cache = self.cache.setdefault(tenant, {})
            if len(cache) >= CACHE_MAX:
                cache.clear()
            cache[(udp, wire[2:])] = out[2:]
        return out, None


def _render(response: dns.message.Message, query: dns.message.Message, udp: bool) -> bytes:
    """Wire form; over UDP cut to what the client accepts, with TC set when it does not fit."""
    if not udp:
        return response.to_wire()
    limit = max(query.payload, UDP_PLAIN_MAX) if query.edns >= 0 else UDP_PLAIN_MAX
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer, response.additional, response.authority = [], [], []
        response.flags |= dns.flags.TC
        return response.to_wire()


class UdpListener:
    """One tenant's UDP socket, read with add_reader and drained up to READ_BATCH datagrams
    per wake-up (asyncio's datagram transport reads one per loop turn: half the CPU of a
    cached answer went to the loop). A reply that does not fit the send buffer is dropped,
    as UDP may; the client asks again."""

    def __init__(self, resolver: Resolver, listener: Listener, max_inflight: int) -> None:
        self.resolver = resolver
        self.tenant = listener.tenant
        self.max_inflight = max_inflight
        self.tasks: set[asyncio.Task[None]] = set()
        family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.bind((listener.host, listener.port))
        except OSError:
            self.sock.close()
            raise
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        recv, handle = self.sock.recvfrom, self._datagram
        for _ in range(READ_BATCH):
            try:
                data, addr = recv(UDP_READ_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP unreachable reported for an earlier reply
                continue
            handle(data, addr)

    def _send(self, data: bytes, addr: Any) -> None:
        try:  # noqa: SIM105 (contextlib.suppress costs a context manager per packet)
            self.sock.sendto(data, addr)
        except OSError:
            pass

    def _datagram(self, data: bytes, addr: Any) -> None:
        resolver, source = self.resolver, addr[0]
        if resolver.allowed(self.tenant, source):
            hit = resolver.cached(self.tenant, data)
            if hit is not None:
                self._send(hit, addr)
                return
        out, upstream = resolver.local(self.tenant, source, data, True)
        if out is not None:
            self._send(out, addr)
        elif upstream is not None and len(self.tasks) < self.max_inflight:
            task = asyncio.create_task(self._forward(data, addr))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _forward(self, data: bytes, addr: Any) -> None:
        reply = await self.resolver.forwarder.forward(data, tcp=False)
        if reply is not None:
            self._send(reply, addr)

    async def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.sock.close()


async def serve_tcp(resolver: Resolver, listener: Listener, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
    """DNS over TCP: length-prefixed messages until the client closes or idles."""
    source = writer.get_extra_info("peername")[0]
    try:
        while True:
            size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2),
                                                              TCP_IDLE_S))[0]
            wire = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_S)
            out, upstream = resolver.local(listener.tenant, source, wire, False)
            if out is None and upstream is not None:
                out = await resolver.forwarder.forward(wire, tcp=True)
            if out is None:
                return
            writer.write(struct.pack("!H", len(out)) + out)
            await asyncio.wait_for(writer.drain(), TCP_IDLE_S)
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return
    finally:
        writer.close()


class DnsServer:
    """Owns every socket and task of the listeners."""

    def __init__(self, resolver: Resolver, listeners: tuple[Listener, ...],
                 max_inflight: int = 1024) -> None:
        self.resolver = resolver
        self.listeners = listeners
        self.max_inflight = max_inflight
        self._udp: list[UdpListener] = []
        self._tcp: list[asyncio.Server] = []

    async def start(self) -> None:
        for lis in self.listeners:
            self._udp.append(UdpListener(self.resolver, lis, self.max_inflight))
            server = await asyncio.start_server(
                functools.partial(serve_tcp, self.resolver, lis), lis.host, lis.port,
                reuse_address=True)
            self._tcp.append(server)
            log.info("listening", tenant=lis.tenant, address=f"{lis.host}:{lis.port}")

    async def stop(self) -> None:
        for server in self._tcp:
            server.close()
        for udp in self._udp:
            await udp.close()
        for server in self._tcp:
            await server.wait_closed()
