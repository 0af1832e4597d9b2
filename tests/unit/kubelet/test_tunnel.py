"""The upgraded-stream relay (syncer/kubelet/tunnel.py) over real TLS connections on 127.0.0.1.

Byte for byte both ways (with the tails read before the relay took over),
bounded when one side stops reading, and closing or cancelling either side ends both.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from syncer.kubelet.tunnel import HIGH_WATER, READ_MAX, relay

TIMEOUT = 30.0


@dataclass
class Setup:
    """tenant client <-TLS-> [relay task] <-TLS-> edge server connection."""

    tenant: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    edge: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    relay: asyncio.Task[None]
    relay_tenant: asyncio.Transport
    relay_edge: asyncio.Transport


async def connect(tls: tuple[ssl.SSLContext, ssl.SSLContext], tenant_tail: bytes = b"",
                  edge_tail: bytes = b"") -> AsyncIterator[Setup]:
    server_ctx, client_ctx = tls
    Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
    edges: asyncio.Queue[Pair] = asyncio.Queue()
    tenants: asyncio.Queue[asyncio.Transport] = asyncio.Queue()

    async def edge_accepted(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await edges.put((r, w))

    held: list[asyncio.StreamWriter] = []  # a writer closes its transport once collected

    async def relay_accepted(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)
        transport = w.transport
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # nothing is sent before the relay takes over
        await tenants.put(transport)

    edge_server = await asyncio.start_server(edge_accepted, "127.0.0.1", 0, ssl=server_ctx)
    relay_server = await asyncio.start_server(relay_accepted, "127.0.0.1", 0, ssl=server_ctx)
    tenant = await asyncio.open_connection(
        "127.0.0.1", relay_server.sockets[0].getsockname()[1], ssl=client_ctx)
    _, edge_writer = await asyncio.open_connection(
        "127.0.0.1", edge_server.sockets[0].getsockname()[1], ssl=client_ctx)
    relay_edge = edge_writer.transport
    assert isinstance(relay_edge, asyncio.Transport)
    relay_edge.pause_reading()
    relay_tenant = await asyncio.wait_for(tenants.get(), TIMEOUT)
    task = asyncio.create_task(relay(relay_tenant, tenant_tail, relay_edge, edge_tail))
    edge = await asyncio.wait_for(edges.get(), TIMEOUT)
    try:
        yield Setup(tenant, edge, task, relay_tenant, relay_edge)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for _, writer in (tenant, edge):
            writer.close()
        relay_server.close()
        edge_server.close()


async def test_bytes_go_both_ways_unchanged_tails_first(
        tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    async for s in connect(tls, tenant_tail=b"tenant-tail:", edge_tail=b"edge-tail:"):
        up, down = os.urandom(3 * 1024 * 1024 + 17), os.urandom(2 * 1024 * 1024 + 5)
        (t_reader, t_writer), (e_reader, e_writer) = s.tenant, s.edge

        async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
            for i in range(0, len(data), 100_000):  # odd sizes: records split anywhere
                writer.write(data[i:i + 100_000])
                await writer.drain()

        sending = asyncio.gather(send(t_writer, up), send(e_writer, down))
        got_up = await asyncio.wait_for(e_reader.readexactly(len(up) + 12), TIMEOUT)
        got_down = await asyncio.wait_for(t_reader.readexactly(len(down) + 10), TIMEOUT)
        await sending
        assert got_up == b"tenant-tail:" + up
        assert got_down == b"edge-tail:" + down


async def test_a_side_that_stops_reading_bounds_what_the_relay_holds(
        tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    async for s in connect(tls):
        _, t_writer = s.tenant
        sent, limit = 0, 64 * 1024 * 1024
        chunk = os.urandom(64 * 1024)
        while sent < limit:  # the edge never reads: the relay must stop reading the tenant
            t_writer.write(chunk)
            sent += len(chunk)
            try:
                await asyncio.wait_for(t_writer.drain(), 1.0)
            except TimeoutError:
                if not s.relay_tenant.is_reading():
                    break
        assert sent < limit, "the relay never stopped reading"
        assert not s.relay_tenant.is_reading()
        assert s.relay_edge.get_write_buffer_size() <= HIGH_WATER + READ_MAX + 64 * 1024
        e_reader, _ = s.edge
        await asyncio.wait_for(e_reader.readexactly(sent), TIMEOUT)  # all of it, in order


@pytest.mark.parametrize("closer", ["tenant", "edge"])
async def test_either_side_closing_ends_both(tls: tuple[ssl.SSLContext, ssl.SSLContext],
                                             closer: str) -> None:
    async for s in connect(tls):
        closing, other = (s.tenant, s.edge) if closer == "tenant" else (s.edge, s.tenant)
        closing[1].write(b"last words")
        closing[1].close()
        assert await asyncio.wait_for(other[0].read(), TIMEOUT) == b"last words"
        assert await asyncio.wait_for(other[0].read(), TIMEOUT) == b""  # then EOF
        await asyncio.wait_for(s.relay, TIMEOUT)
        assert s.relay_tenant.is_closing() and s.relay_edge.is_closing()


async def test_cancelling_the_relay_closes_both_connections(
        tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    async for s in connect(tls):
        s.relay.cancel()
        with pytest.raises(asyncio.CancelledError):
            await s.relay
        assert s.relay_tenant.is_closing() and s.relay_edge.is_closing()
        assert await asyncio.wait_for(s.edge[0].read(), TIMEOUT) == b""
        assert await asyncio.wait_for(s.tenant[0].read(), TIMEOUT) == b""
