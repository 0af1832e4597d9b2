"""UDP and TCP listeners (asyncio) in front of an Answerer.

UDP: one datagram, one answer. TCP: length-prefixed messages, several per connection,
with an idle timeout and a cap on open connections so a slow client cannot pin memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast

import structlog

from syncer.gslb.answer import Answerer

log = structlog.get_logger(__name__)
TCP_IDLE_S = 10.0
TCP_MAX_CONNECTIONS = 256
BIND_ATTEMPTS = 20  # port 0: the free UDP port may be taken for TCP


class UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, answerer: Callable[[], Answerer]) -> None:
        self.answerer = answerer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            reply = self.answerer().respond(data, str(addr[0]))
        except Exception:
            log.exception("answering a UDP query failed")
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class DNSServer:
    def __init__(self, answerer: Callable[[], Answerer], host: str, port: int) -> None:
        self.answerer, self.host, self.port = answerer, host, port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Binds UDP and TCP on one port; port 0 picks one free for both."""
        loop = asyncio.get_running_loop()
        for attempt in range(BIND_ATTEMPTS):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: UDPProtocol(self.answerer), local_addr=(self.host, self.port))
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                if self.port or attempt == BIND_ATTEMPTS - 1:
                    raise
                continue
            self._udp, self.port = udp, port
            break
        log.info("dns listening", host=self.host, port=self.port)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= TCP_MAX_CONNECTIONS:
            writer.close()
            return
        self._connections.add(task)
        source = str(writer.get_extra_info("peername")[0])
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_S):
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    wire = await reader.readexactly(size)
                reply = self.answerer().respond(wire, source, tcp=True)
                if reply is None:
                    break
                writer.write(len(reply).to_bytes(2, "big") + reply)
                async with asyncio.timeout(TCP_IDLE_S):
                    await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
