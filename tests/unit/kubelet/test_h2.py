"""The kubelet endpoint's HTTP/2 pieces over real TLS on 127.0.0.1 (h2edge.py, h2server.py).

A small edge API server speaks HTTP/2 with the ``h2`` library directly (its own
state machine, not fusionvc's code): ``pods/log`` answers a line and ends, or,
with ``follow=true``, stays open for lines the test pushes; it records the
requests, connections and resets it sees.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient, Configuration
from sandbox_lib.pki import ClusterPKI

from syncer.kube.client import KubeClient
from syncer.kubelet import h2edge
from syncer.kubelet.h2conn import STREAM_WINDOW, WRITE_HIGH_WATER, H2Stream, StreamReset
from syncer.kubelet.h2edge import EdgeH2Error, EdgeH2Pool, H2Dial
from syncer.kubelet.server import KubeletEndpoint, server_ssl_context

from .h2peer import EdgeServer, EdgeWorld, pattern
from .world import kubelet_world

TIMEOUT = 30.0
LOGS = "/containerLogs/web/p/main"


@dataclass
class Pki:
    server: ssl.SSLContext  # the edge's serving context (client certificates required)
    edge_client: ssl.SSLContext  # fusionvc's edge identity
    tenant_client: ssl.SSLContext  # tenant-a's kubelet client certificate
    folder: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = Path(tmp_path_factory.mktemp("h2pki"))
    ca = ClusterPKI(folder)
    ca.ensure_ca("h2-test")
    serving = ca.issue("server", "server", server=True)
    ca.issue("edge-admin", "edge-admin")
    ca.issue("tenant-a", "fusionvc:tenant:tenant-a")
    server = server_ssl_context(str(serving.cert), str(serving.key), str(ca.ca.cert))

    def client(stem: str) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(ca.ca.cert))
        context.load_cert_chain(str(folder / f"{stem}.crt"), str(folder / f"{stem}.key"))
        context.set_alpn_protocols(["h2"])
        return context

    return Pki(server, client("edge-admin"), client("tenant-a"), folder)


@pytest.fixture
async def edge(pki: Pki) -> AsyncIterator[tuple[EdgeWorld, int]]:
    world = EdgeWorld()
    server = await asyncio.get_running_loop().create_server(
        lambda: EdgeServer(world), "127.0.0.1", 0, ssl=pki.server)
    yield world, server.sockets[0].getsockname()[1]
    server.close()
    for transport in world.transports:
        transport.abort()


def dial_to(port: int, context: ssl.SSLContext, identity: object = None) -> H2Dial:
    return H2Dial("edge-1", "127.0.0.1", port, f"127.0.0.1:{port}", None, context,
                  identity)


async def eventually(check: Callable[[], object], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def read(stream: H2Stream) -> bytes:
    return await asyncio.wait_for(stream.read(), TIMEOUT)


async def test_followed_streams_share_one_connection_and_a_reset_leaves_the_others(
        pki: Pki, edge: tuple[EdgeWorld, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h2edge, "IDLE_CLOSE_S", 0.2)
    world, port = edge
    pool, dial = EdgeH2Pool(), dial_to(port, pki.edge_client)
    auth = [("authorization", "Bearer edge-token")]
    opened = await asyncio.gather(*(pool.open(dial, f"/api/v1/namespaces/e/pods/p{i}/log"
                                              "?follow=true", auth, None) for i in range(5)))
    streams = [got[1] for got in opened if got is not None]
    assert [got[0] for got in opened if got is not None] == [200] * 5
    assert world.connections == 1 and pool.connections() == {"edge-1": 1}
    assert all(r["authorization"] == "Bearer edge-token" for r in world.requests)
    world.push("first\n")
    assert [await read(s) for s in streams] == [b"first\n"] * 5
    streams[0].close()
    await eventually(lambda: world.resets == [streams[0].id], "the edge to see the reset")
    world.push("second\n")
    assert [await read(s) for s in streams[1:]] == [b"second\n"] * 4
    for stream in streams[1:]:
        stream.close()
    await eventually(lambda: not pool.connections(), "the idle connection to close")
    await pool.close()


async def test_a_lost_connection_or_goaway_ends_its_streams_and_the_next_call_dials_again(
        pki: Pki, edge: tuple[EdgeWorld, int]) -> None:
    world, port = edge
    pool, dial = EdgeH2Pool(), dial_to(port, pki.edge_client)
    got = await pool.open(dial, "/log?follow=true", [], None)
    assert got is not None
    world.transports[0].abort()
    with pytest.raises(StreamReset):
        while await read(got[1]):
            pass
    again = await pool.open(dial, "/log?follow=true", [], 5.0)
    assert again is not None and again[0] == 200 and world.connections == 2
    world.go_away()
    with pytest.raises(StreamReset):
        while await read(again[1]):
            pass
    third = await pool.open(dial, "/log", [], 5.0)
    assert third is not None and await read(third[1]) == b"one line\n"
    assert world.connections == 3 and pool.connections() == {"edge-1": 1}
    await pool.close()


async def test_an_edge_without_http2_or_unreachable(pki: Pki) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pki.folder / "server.crt"), str(pki.folder / "server.key"))
    context.set_alpn_protocols(["http/1.1"])
    server = await asyncio.get_running_loop().create_server(
        asyncio.Protocol, "127.0.0.1", 0, ssl=context)
    port, pool = server.sockets[0].getsockname()[1], EdgeH2Pool()
    try:
        assert await pool.open(dial_to(port, pki.edge_client), "/log", [], 5.0) is None
        assert await pool.open(dial_to(port, pki.edge_client), "/log", [], 5.0) is None
        assert not pool.connections()
    finally:
        server.close()
        await server.wait_closed()
    with pytest.raises(EdgeH2Error):  # nothing listens there any more
        await EdgeH2Pool().open(dial_to(port, pki.edge_client, object()), "/log", [], 5.0)


def edge_client(pki: Pki, port: int) -> KubeClient:
    conf = Configuration(host=f"https://127.0.0.1:{port}")
    conf.ssl_ca_cert = str(pki.folder / "ca.crt")
    conf.cert_file, conf.key_file = (str(pki.folder / "edge-admin.crt"),
                                     str(pki.folder / "edge-admin.key"))
    return KubeClient(ApiClient(configuration=conf), "edge-1")


@pytest.fixture
async def endpoint(pki: Pki, edge: tuple[EdgeWorld, int]) -> AsyncIterator[KubeletEndpoint]:
    tenants, edges = kubelet_world()
    client = edges["edge-1"].client = edge_client(pki, edge[1])
    served = KubeletEndpoint(tenants, edges, host="127.0.0.1", port=0, ssl_context=pki.server)
    await served.start()
    yield served
    await served.stop()
    await client.close()


async def test_endpoint_serves_followed_logs_of_one_tenant_over_one_connection_each_way(
        pki: Pki, edge: tuple[EdgeWorld, int], endpoint: KubeletEndpoint) -> None:
    world, _ = edge
    tenant, dial = EdgeH2Pool(), dial_to(endpoint.port, pki.tenant_client)
    opened = [await tenant.open(dial, f"{LOGS}?follow=true&tailLines=0", [],
                                TIMEOUT) for _ in range(3)]
    streams = [got[1] for got in opened if got is not None and got[0] == 200]
    assert len(streams) == 3 and tenant.connections() == {"edge-1": 1}
    assert world.connections == 1 and endpoint.streams.h2.connections() == {"edge-1": 1}
    assert endpoint.stats.log_streams["h2"] == 3
    assert all("follow=true" in r[":path"] and "container=main" in r[":path"]
               for r in world.requests)
    world.push("hello\n")
    assert [await read(s) for s in streams] == [b"hello\n"] * 3
    streams[0].close()  # kubectl went away: the apiserver resets its stream
    await eventually(lambda: len(world.resets) == 1, "the edge stream to be reset")
    world.push("still\n")
    assert [await read(s) for s in streams[1:]] == [b"still\n"] * 2
    await eventually(lambda: endpoint.stats.log_streams["h2"] == 2, "one stream fewer")
    await tenant.close()
    await eventually(lambda: not world.followed, "every edge stream to end with the tenant's")


async def test_a_tenant_that_stops_reading_stops_the_edge_and_nothing_is_lost(
        pki: Pki, edge: tuple[EdgeWorld, int], endpoint: KubeletEndpoint) -> None:
    world, _ = edge
    tenant = EdgeH2Pool()
    got = await tenant.open(dial_to(endpoint.port, pki.tenant_client),
                            f"{LOGS}?follow=true", [], TIMEOUT)
    assert got is not None and got[0] == 200
    sent, idle = 0, 0
    while idle < 25:  # the tenant reads nothing: flow control must stop the edge soon
        moved = world.fill()
        sent, idle = sent + moved, 0 if moved else idle + 1
        assert sent < 400 * 1024, "the endpoint kept taking data nobody read"
        await asyncio.sleep(0.02)
    # the tenant's window, the endpoint's edge stream window, its write buffer, one frame
    assert sent <= STREAM_WINDOW + STREAM_WINDOW + WRITE_HIGH_WATER + 16 * 1024
    received = bytearray()
    while len(received) < sent:  # once it reads again, every byte arrives, in order
        received += await read(got[1])
    assert bytes(received[:sent]) == pattern(0, sent)
    await tenant.close()


async def test_endpoint_answers_errors_over_http2_and_http1_on_the_same_port(
        pki: Pki, edge: tuple[EdgeWorld, int], endpoint: KubeletEndpoint) -> None:
    edge[0].greeting = b"one line\n"
    tenant, dial = EdgeH2Pool(), dial_to(endpoint.port, pki.tenant_client)

    async def call(path: str) -> tuple[int, bytes]:
        got = await tenant.open(dial, path, [], TIMEOUT)
        assert got is not None
        return got[0], await got[1].read_up_to(4096)

    followed = await tenant.open(dial, f"{LOGS}?follow=true", [], TIMEOUT)
    assert followed is not None and followed[0] == 200
    assert await read(followed[1]) == b"one line\n"
    status, text = await call("/containerLogs/web/nope/main")
    assert status == 404 and b"pod does not exist" in text
    assert (await call("/exec/web/p/uid-a/main?command=id"))[0] == 400
    assert (await call("/stats/summary"))[0] == 404
    await tenant.close()
    http1 = ssl.create_default_context(cafile=str(pki.folder / "ca.crt"))
    http1.load_cert_chain(str(pki.folder / "tenant-a.crt"), str(pki.folder / "tenant-a.key"))
    async with aiohttp.ClientSession() as session, session.get(
            f"https://127.0.0.1:{endpoint.port}{LOGS}?follow=true", ssl=http1) as resp:
        assert resp.status == 200 and resp.version == aiohttp.HttpVersion11
        assert await asyncio.wait_for(resp.content.readany(), TIMEOUT) == b"one line\n"
        assert endpoint.stats.log_streams == {"h2": 0, "http/1.1": 1}
    await eventually(lambda: endpoint.stats.log_streams == {"h2": 0, "http/1.1": 0},
                     "the HTTP/1.1 stream to end with its client")


async def test_endpoint_says_502_naming_the_cluster_when_the_edge_is_gone(
        pki: Pki, edge: tuple[EdgeWorld, int], endpoint: KubeletEndpoint) -> None:
    with socket.socket() as unused:  # bound, never listening: connections are refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        endpoint.edges["edge-1"].client = gone = edge_client(pki, port)
        tenant = EdgeH2Pool()
        for path in (LOGS, f"{LOGS}?follow=true"):  # HTTP/1.1 and HTTP/2 to the edge
            got = await tenant.open(dial_to(endpoint.port, pki.tenant_client), path, [],
                                    TIMEOUT)
            assert got is not None
            text = await got[1].read_up_to(4096)
            assert got[0] == 502 and b"edge-1" in text and str(port).encode() not in text
        await tenant.close()
        await gone.close()
