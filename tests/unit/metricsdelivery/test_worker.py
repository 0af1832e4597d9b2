"""The delivery loop against a local HTTP receiver: success, outage with backoff, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from syncer.metricsdelivery.buffer import Entry
from syncer.metricsdelivery.snappy import decompress
from syncer.metricsdelivery.spec import DeliverySpec
from syncer.metricsdelivery.worker import DeliveryState, DeliveryWorker


class Receiver:
    def __init__(self) -> None:
        self.status = 204
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        if self.status // 100 == 2:
            self.bodies.append(decompress(await request.read()))
        return web.Response(status=self.status, text="nope" if self.status >= 300 else "")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/api/v1/write", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield rec, f"http://127.0.0.1:{port}/api/v1/write"
    await runner.cleanup()


def entries(n: int, ts: int = 1) -> list[Entry]:
    return [((("__name__", "m"), ("pod", f"p{i}")), float(i), ts) for i in range(n)]


async def run_once(worker: DeliveryWorker, seconds: float = 0.5) -> None:
    loop = asyncio.get_running_loop()
    worker.buffer.add(worker.collect() or [])
    await worker.flush(loop.time() + seconds)


async def test_pushes_in_batches_with_the_protocol_headers(
        receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    states: list[DeliveryState] = []

    async def report(state: DeliveryState) -> None:
        states.append(state)

    async with aiohttp.ClientSession() as session:
        worker = DeliveryWorker(DeliverySpec(url, max_samples_per_send=4), {"Authorization": "x"},
                                lambda: entries(10), report, session)
        await run_once(worker)
    assert len(rec.bodies) == 3 and worker.state.sent == 10 and worker.state.ready
    assert rec.headers[0]["Content-Encoding"] == "snappy"
    assert rec.headers[0]["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert rec.headers[0]["Authorization"] == "x"


async def test_outage_keeps_the_newest_within_the_bound_then_delivers(
        receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    rec.status = 503

    async def report(_state: DeliveryState) -> None:
        return None

    async with aiohttp.ClientSession() as session:
        worker = DeliveryWorker(DeliverySpec(url, buffer_samples=15), {}, lambda: entries(10),
                                report, session)
        await run_once(worker, 0.2)
        assert worker.state.reason == "ReceiverError" and worker.state.ready is False
        await run_once(worker, 0.2)
        assert worker.state.dropped == 5 and worker.state.buffered == 15
        rec.status = 200
        await run_once(worker, 3.0)  # waits out the backoff, then delivers everything
    # 30 collected, bound 15: the 15 oldest dropped (counted), the 15 newest delivered.
    assert worker.state.ready and worker.state.buffered == 0
    assert (worker.state.sent, worker.state.dropped) == (15, 15)


async def test_rejected_credentials_and_refused_samples(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver

    async def report(_state: DeliveryState) -> None:
        return None

    async with aiohttp.ClientSession() as session:
        rec.status = 401
        worker = DeliveryWorker(DeliverySpec(url), {}, lambda: entries(3), report, session)
        await run_once(worker, 0.2)
        assert worker.state.reason == "CredentialsRejected" and worker.state.buffered == 3
        rec.status = 400
        await run_once(worker, 0.2)
        assert worker.state.reason == "WriteRejected" and worker.state.rejected == 6
        assert worker.state.buffered == 0


async def test_unreachable_receiver() -> None:
    async def report(_state: DeliveryState) -> None:
        return None

    async with aiohttp.ClientSession() as session:
        worker = DeliveryWorker(DeliverySpec("http://127.0.0.1:9/api/v1/write"), {},
                                lambda: entries(1), report, session, timeout=2)
        await run_once(worker, 0.2)
    assert worker.state.reason == "ReceiverUnreachable"
