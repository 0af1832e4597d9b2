"""Byte relay between two upgraded connections (SPDY or WebSocket, never parsed).

After both sides answered ``101 Switching Protocols``, the tenant's connection
and the edge's connection are handed to a pair of asyncio protocols that copy
bytes each way as they arrive. Flow control is the transports' own: when one
side's write buffer passes ``HIGH_WATER``, reading from the other side pauses
until it drains, so a slow reader never makes the syncer buffer more than that.
When either side closes, the other is closed at once (a tenant that cancels
``kubectl exec`` ends the edge stream in the same event loop turn).

The halves are buffered protocols: a TLS transport decrypts straight into the
half's own buffer, record after record, and the half passes one copy of what
arrived to its peer. (A plain protocol would get one new 256 KiB ``bytes`` per
TLS record from asyncio, then a join of them: a mapping and unmapping of memory
for every 16 KiB relayed, most of the relay's CPU.) The buffer grows with what
is waiting, from ``READ_MIN`` to ``READ_MAX``, so a quiet ``exec`` session keeps
a small one.
"""

from __future__ import annotations

import asyncio

HIGH_WATER = 256 * 1024
READ_MIN = 16 * 1024
READ_MAX = 64 * 1024


class _Half(asyncio.BufferedProtocol):
    """Reads one transport and writes what it reads into its peer."""

    def __init__(self, transport: asyncio.Transport, done: asyncio.Future[None]) -> None:
        self.transport = transport
        self.peer: asyncio.Transport | None = None
        self.done = done
        self._view = memoryview(bytearray(0))

    def get_buffer(self, sizehint: int) -> memoryview:
        """A buffer for what is waiting (``sizehint``; -1 when unknown), kept between reads."""
        want = READ_MAX if sizehint < 0 else min(max(sizehint, READ_MIN), READ_MAX)
        if len(self._view) < want:
            self._view = memoryview(bytearray(want))
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        if self.peer is not None and not self.peer.is_closing():
            # a copy: a transport may keep what it is given until it is sent
            self.peer.write(self._view[:nbytes].tobytes())

    def eof_received(self) -> bool:
        return False  # TLS cannot half-close: end both sides

    def pause_writing(self) -> None:  # our transport's buffer is full: stop reading the peer
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()  # flushes what is buffered for it, then closes
        if not self.done.done():
            self.done.set_result(None)


async def relay(tenant: asyncio.Transport, tenant_tail: bytes,
                edge: asyncio.Transport, edge_tail: bytes) -> None:
    """Copies bytes both ways until either side closes; then both are closed.

    ``*_tail`` are bytes that arrived after the 101 headers, before the relay took over.
    """
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    from_tenant, from_edge = _Half(tenant, done), _Half(edge, done)
    from_tenant.peer, from_edge.peer = edge, tenant
    for transport, protocol in ((tenant, from_tenant), (edge, from_edge)):
        transport.set_write_buffer_limits(high=HIGH_WATER)
        transport.set_protocol(protocol)
        transport.resume_reading()
    if tenant_tail:
        edge.write(tenant_tail)
    if edge_tail:
        tenant.write(edge_tail)
    if tenant.is_closing() or edge.is_closing():
        done.set_result(None)
    try:
        await done
    finally:
        tenant.close()
        edge.close()
