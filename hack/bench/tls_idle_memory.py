"""RSS of idle asyncio TLS connections: the floor under a followed log's memory.

A ``kubectl logs -f`` stream through fusionvc holds two TLS connections in the
syncer: one accepted from the tenant apiserver (client certificate verified)
and one to the edge apiserver. This opens N of each in one measured process,
with the syncer's allocator setting and the kubelet endpoint's small read
buffers (syncer/kubelet/tlsbuffer.py), sends one byte each way, and prints the
RSS per pair and the part of it Python objects take (tracemalloc); the rest is
OpenSSL's per-connection state (an idle connection keeps its record buffer).
Compare with ``kubelet_bench.py``'s RSS per stream: what is left above this
floor is aiohttp's request/response objects.

Run: ``PYTHONPATH=.:hack .venv/bin/python hack/bench/tls_idle_memory.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import ssl
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import rss_kib
from kubelet_relay_bench import contexts

from syncer.__main__ import keep_large_blocks_returnable
from syncer.kubelet.tlsbuffer import EDGE_SIDE, TENANT_SIDE, shrink_read_buffer


class _Idle(asyncio.Protocol):
    """Sends one byte when connected, then keeps the connection open and quiet."""

    def __init__(self, held: list[asyncio.BaseTransport], buffer: int) -> None:
        self.held, self.buffer = held, buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.held.append(transport)
        shrink_read_buffer(transport, self.buffer)
        transport.write(b"x")


def peer(folder: Path, ports: mp.Queue[int], dial: mp.Queue[tuple[int, int]]) -> None:
    """The other ends: the 'edge' TLS server, and 'tenant apiserver' clients on demand."""
    server_ctx, client_ctx = contexts(folder)

    async def serve() -> None:
        held: list[asyncio.BaseTransport] = []
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Idle(held, 256 * 1024), "127.0.0.1", 0,
                                          ssl=server_ctx)
        ports.put(server.sockets[0].getsockname()[1])
        while True:
            port, n = await loop.run_in_executor(None, dial.get)
            for _ in range(n):
                await loop.create_connection(lambda: _Idle(held, 256 * 1024), "127.0.0.1",
                                             port, ssl=client_ctx)
            ports.put(n)

    asyncio.run(serve())


async def _open_pairs(n: int, edge_port: int, client_ctx: ssl.SSLContext,
                      dial: mp.Queue[tuple[int, int]], dialled: mp.Queue[int], port: int,
                      held: list[asyncio.BaseTransport]) -> None:
    """n connections accepted from the peer (tenant side) and n dialled to it (edge side)."""
    loop = asyncio.get_running_loop()
    dial.put((port, n))
    await loop.run_in_executor(None, dialled.get)
    for _ in range(n):
        await loop.create_connection(lambda: _Idle(held, EDGE_SIDE), "127.0.0.1", edge_port,
                                     ssl=client_ctx)
    await asyncio.sleep(1)


def measured(folder: Path, n: int, dial: mp.Queue[tuple[int, int]], ports: mp.Queue[int],
             out: mp.Queue[tuple[float, float]]) -> None:
    """Holds n pairs; puts (RSS KiB per pair, Python-object KiB per pair) on ``out``."""
    keep_large_blocks_returnable()
    server_ctx, client_ctx = contexts(folder)
    edge_port = ports.get(timeout=60)

    async def hold() -> None:
        held: list[asyncio.BaseTransport] = []
        server = await asyncio.get_running_loop().create_server(
            lambda: _Idle(held, TENANT_SIDE), "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        await _open_pairs(5, edge_port, client_ctx, dial, ports, port, held)  # warm-up
        gc.collect()
        base = rss_kib(os.getpid())
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await _open_pairs(n, edge_port, client_ctx, dial, ports, port, held)
        gc.collect()
        total = rss_kib(os.getpid()) - base
        python = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(
            before, "filename")) / 1024
        out.put((total / n, python / n))

    asyncio.run(hold())


def in_processes(prepare: Callable[[Path], object], peer: Callable[..., None],
                 measured: Callable[..., None], n: int) -> Any:
    """``prepare(folder)`` (a temporary one), then ``peer(folder, ports, dial)`` and
    ``measured(folder, n, dial, ports, out)`` as two processes: what ``measured`` puts on
    ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp))
        return _two_processes(Path(tmp), peer, measured, n)


def _two_processes(folder: Path, peer: Callable[..., None], measured: Callable[..., None],
                   n: int) -> Any:
    ports: mp.Queue[int] = mp.Queue()
    dial: mp.Queue[tuple[int, int]] = mp.Queue()
    out: mp.Queue[Any] = mp.Queue()
    other = mp.Process(target=peer, args=(folder, ports, dial), daemon=True)
    other.start()
    proc = mp.Process(target=measured, args=(folder, n, dial, ports, out))
    proc.start()
    try:
        return out.get(timeout=600)
    finally:
        proc.kill()
        other.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    per_pair, python = in_processes(contexts, peer, measured, args.pairs)
    print(f"idle TLS connections, {args.pairs} pairs, read buffers {TENANT_SIDE} B (accepted) "
          f"and {EDGE_SIDE} B (dialled); load {os.getloadavg()[0]:.1f}")
    print(f"  per pair (one accepted, one dialled, as a followed log holds): {per_pair:.1f} KiB "
          f"RSS, of which Python objects {python:.1f} KiB (goal per stream: <= 64 KiB)")


if __name__ == "__main__":
    main()
