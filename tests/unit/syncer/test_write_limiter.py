"""WriteLimiter (syncer/kube/limiter.py): writes of the tenant and edge clients are charged a
token each, reads and watches never; and its wiring in the daemon (syncer/daemon.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration
from prometheus_client import CollectorRegistry

from syncer.daemon import write_limiter
from syncer.kube.apis import PODS
from syncer.kube.client import WRITES, KubeClient
from syncer.kube.limiter import WriteLimiter
from syncer.ops.metrics import Metrics
from syncer.ops.settings import SyncSettings


class FrozenClock:
    """Time stands still unless a test moves it: every wait is exactly predictable."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_the_burst_passes_at_once_then_each_write_waits_its_turn() -> None:
    clock, waits = FrozenClock(), list[float]()
    limiter = WriteLimiter(100.0, 2, clock=clock, on_wait=waits.append)
    await limiter.acquire()
    await limiter.acquire()
    assert waits == []
    await asyncio.gather(limiter.acquire(), limiter.acquire(), limiter.acquire())
    assert waits == pytest.approx([0.01, 0.02, 0.03])  # reservations, in the order asked
    clock.now += 10.0  # the bucket refills up to the burst only
    for _ in range(2):
        await limiter.acquire()
    await limiter.acquire()
    assert waits[3:] == pytest.approx([0.01])


async def test_a_cancelled_wait_gives_its_token_back() -> None:
    clock, waits = FrozenClock(), list[float]()
    limiter = WriteLimiter(1.0, 1, clock=clock, on_wait=waits.append)
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    later = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    assert waits == [1.0, 1.0]  # not 2.0: the cancelled reservation was returned
    later.cancel()


@pytest.mark.parametrize(("qps", "burst"), [(0.0, 1), (-1.0, 5), (10.0, 0)])
def test_a_limit_needs_a_rate_and_a_burst(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="qps > 0 and burst >= 1"):
        WriteLimiter(qps, burst)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 answering every request with an empty object."""
    async def answer(_request: web.Request) -> web.Response:
        return web.json_response({"metadata": {}, "items": []})
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_the_client_charges_writes_and_never_reads(server: str) -> None:
    clock, waits = FrozenClock(), list[float]()
    limiter = WriteLimiter(1000.0, 1, clock=clock, on_wait=waits.append)
    client = KubeClient(ApiClient(Configuration(host=server)), "edge-1", limiter=limiter)
    try:
        for _ in range(3):
            await client.get(PODS, "p", "ns")
            await client.list(PODS, "ns")
        assert waits == []
        counted = WRITES.set([0])
        try:
            await client.create(PODS, {"metadata": {"name": "p"}}, "ns")  # the burst's token
            await client.patch(PODS, "p", {"metadata": {"labels": {"a": "b"}}}, "ns")
            await client.delete(PODS, "p", "ns")
            assert (WRITES.get() or [0])[0] == 3
        finally:
            WRITES.reset(counted)
        assert waits == pytest.approx([0.001, 0.002])
        await client.get(PODS, "p", "ns")  # the bucket is empty: a read still goes at once
        assert len(waits) == 2
    finally:
        await client.close()


async def test_a_client_without_a_limiter_never_waits(server: str) -> None:
    client = KubeClient(ApiClient(Configuration(host=server)), "edge-1")
    try:
        await asyncio.wait_for(asyncio.gather(*(
            client.create(PODS, {"metadata": {"name": f"p{i}"}}, "ns") for i in range(20))), 10)
    finally:
        await client.close()


async def test_the_daemon_builds_one_limiter_from_settings_and_reports_waits() -> None:
    metrics = Metrics(CollectorRegistry())
    assert write_limiter(SyncSettings(write_qps=0.0), metrics) is None
    limiter = write_limiter(SyncSettings(write_qps=500.0, write_burst=1), metrics)
    assert limiter is not None and (limiter.qps, limiter.burst) == (500.0, 1)
    await limiter.acquire()
    await limiter.acquire()  # waited about 2 ms
    count = metrics.registry.get_sample_value("fusionvc_api_write_throttle_seconds_count")
    total = metrics.registry.get_sample_value("fusionvc_api_write_throttle_seconds_sum")
    assert count == 1.0 and total is not None and 0 < total <= 0.002
