"""Forwarding names outside the cluster domain to the upstream nameservers, as they are.

One socket per forwarded query (a fresh source port, like a stub resolver),
a timeout per upstream, the next upstream on silence; the reply must carry
the query's ID. None when every upstream failed: the client retries.
"""

from __future__ import annotations

import asyncio
import struct

import structlog

log = structlog.get_logger(__name__)
MAX_UDP_REPLY = 65535


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data[:2] == self.query_id and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


class Forwarder:
    def __init__(self, upstreams: tuple[tuple[str, int], ...], timeout: float) -> None:
        self.upstreams = upstreams
        self.timeout = timeout
        self.failures = 0

    async def forward(self, wire: bytes, tcp: bool) -> bytes | None:
        for host, port in self.upstreams:
            try:
                if tcp:
                    return await asyncio.wait_for(self._tcp(wire, host, port), self.timeout)
                return await self._udp(wire, host, port)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
                self.failures += 1
                log.debug("upstream failed", upstream=f"{host}:{port}", error=repr(err))
        return None

    async def _udp(self, wire: bytes, host: str, port: int) -> bytes:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _OneReply(wire[:2]), remote_addr=(host, port))
        try:
            transport.sendto(wire)
            return await asyncio.wait_for(proto.reply, self.timeout)
        finally:
            transport.close()

    async def _tcp(self, wire: bytes, host: str, port: int) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            return await reader.readexactly(size)
        finally:
            writer.close()
