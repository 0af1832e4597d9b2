"""The kubelet endpoint's TLS server: checks each call, then relays it to the edge.

``/containerLogs/`` is a plain streamed response (``follow`` keeps it open),
over HTTP/1.1 here or HTTP/2 (h2server.py: the listener offers both over ALPN);
``/exec/``, ``/attach/`` and ``/portForward/`` are upgrades (SPDY from a
kube-apiserver, WebSocket too): the upgrade request is repeated to the edge
API server and, once both sides switched protocols, the two connections are
joined byte for byte (tunnel.py). ``/run/`` runs a command through the edge's
``pods/exec`` over WebSocket and answers its output.

The server keeps no state of its own: it reads the syncer's caches through the
``tenants`` and ``edges`` mappings it is given, so any replica can answer.
Errors are plain text like a kubelet's; an edge's own error text is passed on
with the edge namespace put back to the tenant's, and nothing else of the edge
(URL, credentials, other tenants' names) is ever sent.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kubelet.access import Refused
from syncer.kubelet.calls import (
    ERROR_BODY_MAX,
    NEEDS_UPGRADE,
    Prepared,
    error_text,
    open_logs,
    prepare,
    relay_logs,
    run_answer,
)
from syncer.kubelet.edge import EdgeStreams, EdgeUnreachable
from syncer.kubelet.h2server import AlpnSite
from syncer.kubelet.paths import LOGS, RUN
from syncer.kubelet.stats import EndpointCollector, EndpointStats
from syncer.kubelet.tlsbuffer import TENANT_SIDE, shrink_read_buffer
from syncer.kubelet.tunnel import relay
from syncer.ops.logs import get_logger

log = get_logger(__name__)
UPGRADE_REQUEST_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version",
                           "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                           "Sec-WebSocket-Protocol")
UPGRADE_RESPONSE_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version",
                            "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol")


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str) -> ssl.SSLContext:
    """Serving certificate, and client certificates required and verified against the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=client_ca_file)
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2", "http/1.1"])  # plain GETs multiplex (h2server.py)
    return context


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def _copy_headers(source: Any, names: tuple[str, ...]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name in names:
        for value in source.getall(name, ()):
            out.add(name, value)
    return out


def is_upgrade(request: web.Request) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower()


class KubeletEndpoint:
    """The kubelet endpoint of every virtual node; ``start``/``stop`` own its listener."""

    def __init__(self, tenants: Mapping[str, TenantConn], edges: Mapping[str, EdgeConn], *,
                 host: str, port: int, ssl_context: ssl.SSLContext) -> None:
        self.tenants, self.edges = tenants, edges
        self._host, self._port, self._ssl = host, port, ssl_context
        self._runner: web.AppRunner | None = None
        self._site: AlpnSite | None = None
        self.streams = EdgeStreams()
        self.stats = EndpointStats()

    @property
    def port(self) -> int:
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("kubelet endpoint is not started")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        try:
            self._site = AlpnSite(runner, self._host, self._port, ssl_context=self._ssl,
                                  prepare=self.prepare, streams=self.streams, stats=self.stats)
            await self._site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("kubelet endpoint listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if self._site is not None:
            await self._site.close_h2()
        if runner is not None:
            await runner.cleanup()
        await self.streams.close()

    def collector(self) -> EndpointCollector:
        """Its open log streams and HTTP/2 connections, for the metrics registry."""
        return EndpointCollector(self.stats, self.streams.h2.connections)

    def prepare(self, peercert: Mapping[str, Any] | None, path: str,
                query: list[tuple[str, str]]) -> Prepared:
        """The checks of a call, then its edge call (raises Refused): both protocols."""
        return prepare(self.tenants, self.edges, peercert, path, query)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        try:
            prepared = self.prepare(
                transport.get_extra_info("peercert") if transport is not None else None,
                request.raw_path.split("?", 1)[0], list(request.query.items()))
        except Refused as refused:
            return _text(refused.status, refused.message)
        call = prepared.call
        log.debug("kubelet call", tenant=prepared.target.tenant.name,
                  cluster=prepared.target.edge.name, operation=call.operation)
        try:
            if call.operation == RUN:
                return _text(*await run_answer(self.streams, prepared))
            if is_upgrade(request):
                return await self._upgrade(request, prepared)
            if call.operation == LOGS:
                return await self._logs(request, prepared)
        except EdgeUnreachable as err:
            return _text(502, f"Bad Gateway: {err}")
        return _text(400, NEEDS_UPGRADE.format(call.operation))

    async def _logs(self, request: web.Request, prepared: Prepared) -> web.StreamResponse:
        with self.stats.log_stream("http/1.1"):  # open from the call (an edge may answer late)
            edge = await open_logs(self.streams, prepared)
            try:
                if edge.status != 200:
                    body = await edge.body(ERROR_BODY_MAX)
                    return _text(edge.status, error_text(body, prepared))
                out = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await out.prepare(request)
                shrink_read_buffer(request.transport, TENANT_SIDE)
                await relay_logs(edge, out.write)
                return out
            finally:
                edge.close()  # a tenant that goes away cancels us here: the edge stream ends

    async def _upgrade(self, request: web.Request, prepared: Prepared) -> web.StreamResponse:
        headers = _copy_headers(request.headers, UPGRADE_REQUEST_HEADERS)
        edge_conn = prepared.target.edge
        edge = await self.streams.open(edge_conn.name, edge_conn.client, request.method,
                                       prepared.path, prepared.query, headers)
        try:
            if edge.status != 101 or edge.connection is None:
                body = await edge.content.read(ERROR_BODY_MAX)
                return _text(edge.status, error_text(body, prepared))
            out = web.StreamResponse(status=101,
                                     headers=_copy_headers(edge.headers, UPGRADE_RESPONSE_HEADERS))
            out.force_close()
            await out.prepare(request)
            tenant_transport = request.transport
            edge_transport = edge.connection.transport
            assert tenant_transport is not None and edge_transport is not None
            tenant_tail = bytes(getattr(request.protocol, "_message_tail", b""))
            edge_tail = bytes(getattr(edge.connection.protocol, "_tail", b""))
            await relay(tenant_transport, tenant_tail, edge_transport, edge_tail)
            return out
        finally:
            with contextlib.suppress(Exception):
                edge.close()
