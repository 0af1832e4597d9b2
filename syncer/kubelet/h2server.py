"""The kubelet endpoint over HTTP/2: plain GETs (``/containerLogs``) as streams of one connection.

A tenant kube-apiserver's kubelet client (Go net/http, configured by
client-go's ``SetTransportDefaults``) takes HTTP/2 when the server offers
``h2`` over ALPN, and then sends every ``kubectl logs`` of that tenant as a
stream of one connection: one TLS connection for a hundred followed logs
instead of a hundred. Its exec/attach/port-forward upgrades still come over
HTTP/1.1 (apimachinery's upgrade dialer asks for ``http/1.1`` only).

:class:`AlpnSite` is the endpoint's listener: each accepted TLS connection
goes, by the protocol it negotiated, to aiohttp's HTTP/1.1 handler (server.py)
or to a :class:`_TenantLink` here. Each request stream is answered by a task
of its own with the same checks and answers as over HTTP/1.1 (calls.py); a
stream the apiserver resets (``kubectl`` went away) cancels its task, which
closes the edge stream in the same turn. Flow control: edge data is
acknowledged only once written to the tenant (h2conn.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import h2.events
from aiohttp import web

from syncer.kubelet.access import Refused
from syncer.kubelet.calls import (
    ERROR_BODY_MAX,
    NEEDS_UPGRADE,
    Prepared,
    error_text,
    open_logs,
    relay_logs,
    run_answer,
)
from syncer.kubelet.edge import EdgeStreams, EdgeUnreachable
from syncer.kubelet.h2conn import H2Link, H2Stream, StreamReset, header
from syncer.kubelet.paths import LOGS, RUN
from syncer.kubelet.stats import EndpointStats
from syncer.ops.logs import get_logger

log = get_logger(__name__)
H2 = "h2"
Prepare = Callable[[Mapping[str, Any] | None, str, list[tuple[str, str]]], Prepared]


async def send_text(stream: H2Stream, status: int, message: str) -> None:
    """A plain-text answer, like a kubelet's, and the end of the stream."""
    body = (message + "\n").encode()
    stream.link.send_headers(stream.id, [(":status", str(status)),
                                         ("content-type", "text/plain; charset=utf-8"),
                                         ("content-length", str(len(body)))])
    await stream.write(body, end=True)


class _TenantLink(H2Link):
    """One HTTP/2 connection from a tenant kube-apiserver."""

    def __init__(self, site: AlpnSite) -> None:
        super().__init__(client_side=False)
        self.site = site
        self.peercert: Mapping[str, Any] | None = None
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.peercert = transport.get_extra_info("peercert")
        super().connection_made(transport)
        self.site.links.add(self)
        self.site.stats.tenant_connections[H2] += 1

    def handle(self, event: h2.events.Event, stream: H2Stream | None) -> None:
        if not isinstance(event, h2.events.RequestReceived) or event.stream_id is None:
            return
        if self.terminated:
            return
        stream = H2Stream(self, event.stream_id)
        stream.headers.set_result(list(event.headers or []))
        self.streams[stream.id] = stream
        self.tasks[stream.id] = self.loop.create_task(self._answer(stream))

    def stream_gone(self, stream: H2Stream | None) -> None:
        task = self.tasks.pop(stream.id, None) if stream is not None else None
        if task is not None and stream is not None and stream.reset_code is not None:
            task.cancel()  # reset by the apiserver, or the connection is gone

    async def _answer(self, stream: H2Stream) -> None:
        try:
            await self._serve(stream, stream.headers.result())
        except (StreamReset, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("kubelet call over HTTP/2 failed")
        finally:
            stream.close()

    async def _serve(self, stream: H2Stream, request: list[tuple[bytes, bytes]]) -> None:
        path, _, query = header(request, b":path").partition("?")
        try:
            prepared = self.site.prepare(self.peercert, path,
                                         parse_qsl(query, keep_blank_values=True))
        except Refused as refused:
            await send_text(stream, refused.status, refused.message)
            return
        operation = prepared.call.operation
        log.debug("kubelet call", tenant=prepared.target.tenant.name,
                  cluster=prepared.target.edge.name, operation=operation, protocol=H2)
        try:
            if operation == RUN:
                await send_text(stream, *await run_answer(self.site.streams, prepared))
            elif operation == LOGS:
                await self._logs(stream, prepared)
            else:
                await send_text(stream, 400, NEEDS_UPGRADE.format(operation))
        except EdgeUnreachable as err:
            await send_text(stream, 502, f"Bad Gateway: {err}")

    async def _logs(self, stream: H2Stream, prepared: Prepared) -> None:
        with self.site.stats.log_stream(H2):  # open from the call (an edge may answer late)
            edge = await open_logs(self.site.streams, prepared)
            try:
                if edge.status != 200:
                    text = error_text(await edge.body(ERROR_BODY_MAX), prepared)
                    await send_text(stream, edge.status, text)
                    return
                self.send_headers(stream.id, [(":status", "200"),
                                              ("content-type", "text/plain")])
                await relay_logs(edge, stream.write)
                await stream.write(b"", end=True)
            finally:
                edge.close()  # a reset stream cancels us here: the edge stream ends too

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for task in self.tasks.values():
            task.cancel()
        self.site.links.discard(self)
        self.site.stats.tenant_connections[H2] -= 1


class _Dispatch(asyncio.Protocol):
    """Hands a fresh TLS connection to the protocol it negotiated (ALPN)."""

    def __init__(self, site: AlpnSite, http1: Callable[[], asyncio.Protocol]) -> None:
        self.site, self.http1 = site, http1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        chosen = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        protocol = _TenantLink(self.site) if chosen == H2 else self.http1()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)


class AlpnSite(web.TCPSite):
    """aiohttp's TCP site, with HTTP/2 connections served by :class:`_TenantLink`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 ssl_context: Any, prepare: Prepare, streams: EdgeStreams,
                 stats: EndpointStats) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context)
        self.prepare, self.streams, self.stats = prepare, streams, stats
        self.links: set[_TenantLink] = set()

    async def start(self) -> None:
        await web.BaseSite.start(self)
        http1 = self._runner.server
        assert http1 is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Dispatch(self, http1), self._host, self._port,
            ssl=self._ssl_context, backlog=self._backlog)
        self._bound_port = self._server.sockets[0].getsockname()[1]

    async def close_h2(self) -> None:
        """Closes every HTTP/2 connection (their streams end, and so do the edge streams)."""
        links = list(self.links)
        for link in links:
            link.close()
        for link in links:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.lost), 5.0)
