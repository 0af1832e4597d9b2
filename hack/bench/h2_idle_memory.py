"""RSS per followed log in the kubelet endpoint over HTTP/2 (the h2 side of tls_idle_memory.py).

The measured process runs the real kubelet endpoint (syncer/kubelet, with the
caches of tests/unit/kubelet/world.py and the syncer's allocator setting). A
peer process plays both its neighbours: an edge API server over HTTP/2
(tests/unit/kubelet/h2peer.py, sending one line per followed stream) and a
tenant apiserver's HTTP/2 client that opens N ``containerLogs?follow=true``
streams over one connection and reads that line on each. So the endpoint holds
N streams on one accepted connection and N on one dialled connection, as with
HTTP/2 on both sides in the sandbox. Prints RSS per stream and the part Python
objects take (tracemalloc); ``tls_idle_memory.py`` prints the HTTP/1.1 floor
(two TLS connections per stream) for comparison.

Run: ``PYTHONPATH=.:hack .venv/bin/python hack/bench/h2_idle_memory.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import ssl
import tracemalloc
from pathlib import Path

from common import rss_kib
from kubernetes_asyncio.client import ApiClient, Configuration
from sandbox_lib.pki import ClusterPKI
from tls_idle_memory import in_processes

from syncer.__main__ import keep_large_blocks_returnable
from syncer.kube.client import KubeClient
from syncer.kubelet.h2edge import EdgeH2Pool, H2Dial
from syncer.kubelet.server import KubeletEndpoint, server_ssl_context
from syncer.ops.logs import configure_logging
from tests.unit.kubelet.h2peer import EdgeServer, EdgeWorld
from tests.unit.kubelet.world import kubelet_world

LOGS = "/containerLogs/web/p/main?follow=true&tailLines=0"


def issue(folder: Path) -> None:
    pki = ClusterPKI(folder)
    pki.ensure_ca("h2-bench")
    pki.issue("server", "server", server=True)
    pki.issue("edge-admin", "edge-admin")
    pki.issue("tenant-a", "fusionvc:tenant:tenant-a")


def server_context(folder: Path) -> ssl.SSLContext:
    return server_ssl_context(str(folder / "server.crt"), str(folder / "server.key"),
                              str(folder / "ca.crt"))


def client_context(folder: Path, stem: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    context.load_cert_chain(str(folder / f"{stem}.crt"), str(folder / f"{stem}.key"))
    context.set_alpn_protocols(["h2"])
    return context


def peer(folder: Path, ports: mp.Queue[int], dial: mp.Queue[tuple[int, int]]) -> None:
    """The edge API server, and the tenant apiserver's streams on demand."""

    async def serve() -> None:
        world = EdgeWorld(greeting=b"first line\n")
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: EdgeServer(world), "127.0.0.1", 0,
                                          ssl=server_context(folder))
        ports.put(server.sockets[0].getsockname()[1])
        tenant, held = EdgeH2Pool(), []
        while True:
            port, n = await loop.run_in_executor(None, dial.get)
            target = H2Dial("endpoint", "127.0.0.1", port, f"127.0.0.1:{port}", None,
                            client_context(folder, "tenant-a"), None)
            for _ in range(n):
                opened = await tenant.open(target, LOGS, [], 60)
                assert opened is not None and opened[0] == 200, opened
                assert await opened[1].read() == b"first line\n"
                held.append(opened[1])
            ports.put(n)

    asyncio.run(serve())


async def _open_streams(n: int, port: int, dial: mp.Queue[tuple[int, int]],
                        done: mp.Queue[int]) -> None:
    dial.put((port, n))
    await asyncio.get_running_loop().run_in_executor(None, done.get)
    await asyncio.sleep(1)


def measured(folder: Path, n: int, dial: mp.Queue[tuple[int, int]], ports: mp.Queue[int],
             out: mp.Queue[tuple[float, float, int]]) -> None:
    """Serves n streams; puts (RSS KiB per stream, Python-object KiB per stream, edge
    connections) on ``out``."""
    keep_large_blocks_returnable()
    configure_logging("console", "warning")
    edge_port = ports.get(timeout=60)

    async def hold() -> None:
        tenants, edges = kubelet_world()
        conf = Configuration(host=f"https://127.0.0.1:{edge_port}")
        conf.ssl_ca_cert = str(folder / "ca.crt")
        conf.cert_file, conf.key_file = (str(folder / "edge-admin.crt"),
                                         str(folder / "edge-admin.key"))
        edges["edge-1"].client = KubeClient(ApiClient(configuration=conf), "edge-1")
        endpoint = KubeletEndpoint(tenants, edges, host="127.0.0.1", port=0,
                                   ssl_context=server_context(folder))
        await endpoint.start()
        await _open_streams(5, endpoint.port, dial, ports)  # warm-up: both connections made
        gc.collect()
        base = rss_kib(os.getpid())
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await _open_streams(n, endpoint.port, dial, ports)
        gc.collect()
        total = rss_kib(os.getpid()) - base
        python = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(
            before, "filename")) / 1024
        assert endpoint.stats.log_streams["h2"] == n + 5, endpoint.stats.log_streams
        out.put((total / n, python / n, endpoint.streams.h2.connections()["edge-1"]))

    asyncio.run(hold())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    per_stream, python, edge_links = in_processes(issue, peer, measured, args.streams)
    print(f"kubelet endpoint over HTTP/2, {args.streams} followed logs (+5 warm-up) on one "
          f"connection from the tenant and {edge_links} to the edge (its stream limit); load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"  per stream: {per_stream:.1f} KiB RSS, of which Python objects {python:.1f} KiB "
          f"(goal: <= 64 KiB)")


if __name__ == "__main__":
    main()
