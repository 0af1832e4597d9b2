"""Health server: a real aiohttp server on 127.0.0.1:0, hit with a real client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from syncer.ops.health import HealthServer, ReadinessChecks
from syncer.ops.metrics import Metrics

Start = Callable[..., "asyncio.Future[tuple[HealthServer, str]]"]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


@pytest.fixture
async def servers() -> AsyncIterator[list[HealthServer]]:
    started: list[HealthServer] = []
    yield started
    for server in started:
        await server.stop()


async def start(servers: list[HealthServer], readiness: Callable[[], list[str]],
                **kwargs: float) -> tuple[HealthServer, str]:
    metrics = Metrics(CollectorRegistry())
    metrics.queue_depth.labels("tenant-a").set(2)
    server = HealthServer(metrics, readiness, host="127.0.0.1", port=0, **kwargs)
    await server.start()
    servers.append(server)
    return server, f"http://127.0.0.1:{server.port}"


async def test_metrics_endpoint(servers: list[HealthServer],
                                session: aiohttp.ClientSession) -> None:
    _, url = await start(servers, list)
    async with session.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert "fusionvc_queue_depth" in names
    assert 'fusionvc_queue_depth{tenant="tenant-a"} 2.0' in text


async def test_metrics_openmetrics_negotiation(servers: list[HealthServer],
                                               session: aiohttp.ClientSession) -> None:
    _, url = await start(servers, list)
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
    async with session.get(url + "/metrics", headers=headers) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await response.text()).endswith("# EOF\n")


async def test_healthz_ok_and_counts_lag(servers: list[HealthServer],
                                         session: aiohttp.ClientSession) -> None:
    server, url = await start(servers, list, heartbeat_interval_s=0.01, stall_after_s=5.0)
    await asyncio.sleep(0.05)
    async with session.get(url + "/healthz") as response:
        assert response.status == 200
        assert await response.text() == "ok\n"
    count = server._metrics.registry.get_sample_value("fusionvc_event_loop_lag_seconds_count")
    assert count is not None and count >= 1


async def test_healthz_fails_when_heartbeat_is_stale(servers: list[HealthServer],
                                                     session: aiohttp.ClientSession) -> None:
    # The heartbeat wakes every 60 s, so after 0.2 s it is older than the 0.1 s threshold.
    _, url = await start(servers, list, heartbeat_interval_s=0.05, stall_after_s=0.1)
    servers[-1]._interval = 60.0
    await asyncio.sleep(0.25)
    async with session.get(url + "/healthz") as response:
        assert response.status == 503
        assert "event loop stalled: last heartbeat" in await response.text()


async def test_readyz_follows_the_callback(servers: list[HealthServer],
                                           session: aiohttp.ClientSession) -> None:
    state = {"leader": False, "informers": False}
    checks = ReadinessChecks()
    checks.add("leader elected", lambda: state["leader"])
    checks.add("informers synced", lambda: state["informers"])
    _, url = await start(servers, checks)
    async with session.get(url + "/readyz") as response:
        assert response.status == 503
        assert await response.text() == "not ready: leader elected, informers synced\n"
    state["leader"] = True
    async with session.get(url + "/readyz") as response:
        assert (response.status, await response.text()) == (503, "not ready: informers synced\n")
    state["informers"] = True
    async with session.get(url + "/readyz") as response:
        assert (response.status, await response.text()) == (200, "ok\n")


async def test_readyz_is_503_when_the_callback_raises(servers: list[HealthServer],
                                                      session: aiohttp.ClientSession) -> None:
    def broken() -> list[str]:
        raise RuntimeError("informer registry gone")

    _, url = await start(servers, broken)
    async with session.get(url + "/readyz") as response:
        assert response.status == 503
        assert "informer registry gone" in await response.text()


async def test_stop_cancels_its_tasks_and_frees_the_port(servers: list[HealthServer],
                                                         session: aiohttp.ClientSession) -> None:
    server, url = await start(servers, list)
    heartbeat = server._heartbeat
    assert heartbeat is not None
    await server.stop()
    assert heartbeat.cancelled()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(url + "/healthz"):
            pass
    await server.stop()  # twice is fine
