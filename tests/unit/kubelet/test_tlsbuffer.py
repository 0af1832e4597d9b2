"""Small TLS read buffers for followed logs (syncer/kubelet/tlsbuffer.py), on real TLS."""

from __future__ import annotations

import asyncio
import os
import ssl

from syncer.kubelet.tlsbuffer import EDGE_SIDE, TENANT_SIDE, shrink_read_buffer

TIMEOUT = 30.0


async def test_a_shrunk_connection_still_reads_records_larger_than_its_buffer(
        tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    payload = os.urandom(300 * 1024)  # 16 KiB TLS records, many buffers each
    sent = asyncio.Event()

    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await sent.wait()
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.sockets[0].getsockname()[1], ssl=client_ctx)
        # the Python this project runs on must let it shrink, or memory per stream regresses
        assert shrink_read_buffer(writer.transport, EDGE_SIDE)
        sent.set()
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == payload
        writer.close()
    finally:
        server.close()


async def test_a_transport_without_tls_is_left_alone() -> None:
    assert not shrink_read_buffer(None, TENANT_SIDE)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    try:
        transport, _ = await loop.create_connection(
            asyncio.Protocol, "127.0.0.1", server.sockets[0].getsockname()[1])
        assert not shrink_read_buffer(transport, TENANT_SIDE)
        transport.close()
    finally:
        server.close()
