"""The syncer's HTTP endpoints for Prometheus and the kubelet.

This module owns the small aiohttp server on ``--http-host``/``--http-port``:

- ``/metrics``: the process's registry (``ServedMetrics``) in the Prometheus
  text format (OpenMetrics when the scraper asks for it);
- ``/healthz``: liveness. A heartbeat task wakes every ``heartbeat_interval_s``
  and records how late it woke (``fusionvc_event_loop_lag_seconds``); the
  process is unhealthy when the last beat is older than ``stall_after_s`` (the
  event loop is stuck or starved) or the heartbeat task has died;
- ``/readyz``: readiness, decided by a callback that returns the names of what
  is not ready yet (empty: ready). :class:`ReadinessChecks` builds one from
  named boolean checks.

The server owns its heartbeat task and its aiohttp runner; :meth:`HealthServer.stop`
cancels and closes both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from syncer.ops.logs import get_logger

Readiness = Callable[[], Iterable[str]]
"""Returns what is not ready yet, as short names; an empty result means ready."""

_LAG_WARNING_S = 1.0
_log = get_logger(__name__)


class ServedMetrics(Protocol):
    """What the server needs of a process's metrics (the syncer's, the GSLB server's)."""

    @property
    def registry(self) -> CollectorRegistry: ...

    @property
    def event_loop_lag(self) -> _Observer: ...


class _Observer(Protocol):
    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None: ...


class ReadinessChecks:
    """A readiness callback made of named checks, e.g. ``add("informers synced", f)``."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], bool]] = {}

    def add(self, name: str, check: Callable[[], bool]) -> None:
        self._checks[name] = check

    def __call__(self) -> list[str]:
        return [name for name, check in self._checks.items() if not check()]


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one port."""

    def __init__(
        self,
        metrics: ServedMetrics,
        readiness: Readiness,
        *,
        host: str = "0.0.0.0",
        port: int = 8080,
        heartbeat_interval_s: float = 1.0,
        stall_after_s: float = 10.0,
    ) -> None:
        if stall_after_s <= heartbeat_interval_s:
            raise ValueError("stall_after_s must be longer than heartbeat_interval_s")
        self._metrics = metrics
        self._readiness = readiness
        self._host = host
        self._port = port
        self._interval = heartbeat_interval_s
        self._stall_after = stall_after_s
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_beat = 0.0

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._handle_metrics)
        app.router.add_get("/healthz", self._handle_healthz)
        app.router.add_get("/readyz", self._handle_readyz)
        return app

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); only valid after :meth:`start`."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("HealthServer is not started")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        if self._runner is not None:
            return
        loop = asyncio.get_running_loop()
        self._last_beat = loop.time()
        self._heartbeat = asyncio.create_task(self._beat(), name="health-heartbeat")
        runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            await self._stop_heartbeat()
            raise
        self._runner = runner
        _log.info("http server listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self._stop_heartbeat()

    async def _stop_heartbeat(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            now = loop.time()
            lag = max(0.0, now - expected)
            self._last_beat = now
            self._metrics.event_loop_lag.observe(lag)
            if lag > _LAG_WARNING_S:
                _log.warning("event loop lagging", lag_s=round(lag, 3))

    def stalled(self) -> str | None:
        """Why the process is unhealthy, or None when it is healthy."""
        task = self._heartbeat
        if task is None or task.done():
            return "heartbeat task is not running"
        age = asyncio.get_running_loop().time() - self._last_beat
        if age > self._stall_after:
            return f"event loop stalled: last heartbeat {age:.1f}s ago"
        return None

    async def _handle_metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        # Rendering a large registry is CPU work: keep it off the event loop.
        body = await asyncio.to_thread(encoder, self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _handle_healthz(self, _request: web.Request) -> web.Response:
        problem = self.stalled()
        if problem is not None:
            return web.Response(status=503, text=problem + "\n")
        return web.Response(text="ok\n")

    async def _handle_readyz(self, _request: web.Request) -> web.Response:
        try:
            missing = list(self._readiness())
        except Exception as err:  # a broken check must not look ready
            _log.exception("readiness check failed")
            return web.Response(status=503, text=f"readiness check failed: {err}\n")
        if missing:
            return web.Response(status=503, text="not ready: " + ", ".join(missing) + "\n")
        return web.Response(text="ok\n")
