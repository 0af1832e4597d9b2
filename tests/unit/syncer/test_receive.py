"""One receive buffer for every connection (syncer/kube/receive.py), on real TLS and plain
TCP, under uvloop and asyncio: concurrent large answers and streams each arrive whole."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from sandbox_lib.pki import ClusterPKI

from syncer.kube.http1 import Endpoint, Http1Pool
from syncer.ops.event_loop import loop_factory

BODIES = [os.urandom(700 * 1024 + n) for n in range(6)]  # many buffers and TLS records each


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    pki = ClusterPKI(Path(tmp_path_factory.mktemp("pki")))
    pki.ensure_ca("receive-test")
    serving = pki.issue("server", "localhost", server=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(serving.cert), str(serving.key))
    return server_ctx, ssl.create_default_context(cafile=str(pki.ca.cert))


async def serve_bodies(server_ctx: ssl.SSLContext | None) -> asyncio.Server:
    """Answers ``GET /N`` with BODIES[N], the body written in small pieces, the answers of
    all connections interleaved on the wire."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request := await reader.readuntil(b"\r\n\r\n"):
            body = BODIES[int(request.split(b" ")[1][1:])]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            for at in range(0, len(body), 50_000):
                writer.write(body[at:at + 50_000])
                await writer.drain()
                await asyncio.sleep(0)

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)


async def fetch_all(server_ctx: ssl.SSLContext | None, client_ctx: ssl.SSLContext | None) -> None:
    server = await serve_bodies(server_ctx)
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(Endpoint("127.0.0.1", port, client_ctx, "localhost"), limit=len(BODIES))
    try:
        answers = await asyncio.gather(*(
            pool.request(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % n, 30)
            for n in range(len(BODIES))))
        assert [a.body == b for a, b in zip(answers, BODIES, strict=True)] == [True] * len(BODIES)
        opened = await pool.stream(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n", 30, 30)
        assert opened.chunks is not None
        got = b""
        while len(got) < len(BODIES[2]):
            got += await opened.chunks.read()
        assert got == BODIES[2]
        opened.close()
    finally:
        pool.close()
        server.close()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
@pytest.mark.parametrize("secure", [True, False])
def test_concurrent_answers_arrive_whole(tls: tuple[ssl.SSLContext, ssl.SSLContext], loop: str,
                                         secure: bool) -> None:
    server_ctx, client_ctx = tls if secure else (None, None)
    factory: Callable[[], asyncio.AbstractEventLoop] | None = loop_factory(loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(fetch_all(server_ctx, client_ctx))
