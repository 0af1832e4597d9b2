"""The kubelet endpoint's TLS server: checks each call, then relays it to the edge.

``/containerLogs/`` is a plain streamed response (``follow`` keeps it open);
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

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kubelet.access import Refused, Target, resolve, tenant_of_peercert
from syncer.kubelet.edge import EdgeStreams, EdgeUnreachable
from syncer.kubelet.paths import (
    LOGS,
    RUN,
    BadKubeletPath,
    KubeletCall,
    edge_path,
    edge_query,
    parse_kubelet_path,
)
from syncer.kubelet.run import run_on_edge
from syncer.kubelet.tlsbuffer import EDGE_SIDE, TENANT_SIDE, shrink_read_buffer
from syncer.kubelet.tunnel import relay
from syncer.ops.logs import get_logger

log = get_logger(__name__)
UPGRADE_REQUEST_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version",
                           "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                           "Sec-WebSocket-Protocol")
UPGRADE_RESPONSE_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version",
                            "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol")
ERROR_BODY_MAX = 16 * 1024


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str) -> ssl.SSLContext:
    """Serving certificate, and client certificates required and verified against the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=client_ca_file)
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def _copy_headers(source: Any, names: tuple[str, ...]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name in names:
        for value in source.getall(name, ()):
            out.add(name, value)
    return out


def scrub(text: str, target: Target, call: KubeletCall) -> str:
    """An edge's error text as the tenant may read it: its own namespace name back."""
    return text.replace(target.edge_namespace, call.namespace)


def is_upgrade(request: web.Request) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower()


class KubeletEndpoint:
    """The kubelet endpoint of every virtual node; ``start``/``stop`` own its listener."""

    def __init__(self, tenants: Mapping[str, TenantConn], edges: Mapping[str, EdgeConn], *,
                 host: str, port: int, ssl_context: ssl.SSLContext) -> None:
        self.tenants, self.edges = tenants, edges
        self._host, self._port, self._ssl = host, port, ssl_context
        self._runner: web.AppRunner | None = None
        self.streams = EdgeStreams()

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
            await web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("kubelet endpoint listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.streams.close()

    def _check(self, request: web.Request) -> tuple[KubeletCall, Target]:
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        tenant = tenant_of_peercert(peercert)
        try:
            call = parse_kubelet_path(request.raw_path.split("?", 1)[0])
        except BadKubeletPath as err:
            raise Refused(404, f"404 page not found: {err}") from None
        if not self.tenants:
            raise Refused(503, "this fusionvc replica is not serving tenants (standby)")
        return call, resolve(self.tenants, self.edges, tenant, call)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            call, target = self._check(request)
        except Refused as refused:
            return _text(refused.status, refused.message)
        query = edge_query(call, list(request.query.items()))
        path = edge_path(target.edge_namespace, call)
        log.debug("kubelet call", tenant=target.tenant.name, cluster=target.edge.name,
                  operation=call.operation)
        try:
            if call.operation == RUN:
                status, text = await run_on_edge(self.streams, target.edge, path, query)
                return _text(status, scrub(text, target, call).rstrip("\n"))
            if is_upgrade(request):
                return await self._upgrade(request, target, call, path, query)
            if call.operation == LOGS:
                return await self._logs(request, target, call, path, query)
        except EdgeUnreachable as err:
            return _text(502, f"Bad Gateway: {err}")
        return _text(400, f"{call.operation} needs a connection upgrade (SPDY or WebSocket)")

    async def _edge_error(self, resp: aiohttp.ClientResponse, target: Target,
                          call: KubeletCall) -> web.Response:
        body = await resp.content.read(ERROR_BODY_MAX)
        try:
            text = str(orjson.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            text = body.decode(errors="replace")
        return _text(resp.status, scrub(text, target, call))

    async def _logs(self, request: web.Request, target: Target, call: KubeletCall, path: str,
                    query: tuple[tuple[str, str], ...]) -> web.StreamResponse:
        edge = await self.streams.open(target.edge.name, target.edge.client, "GET", path, query,
                                       CIMultiDict())
        try:
            if edge.status != 200:
                return await self._edge_error(edge, target, call)
            out = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await out.prepare(request)
            shrink_read_buffer(request.transport, TENANT_SIDE)
            shrink_read_buffer(edge.connection.transport if edge.connection else None,
                               EDGE_SIDE)
            try:
                while chunk := await edge.content.readany():
                    await out.write(chunk)
            except (aiohttp.ClientError, OSError):
                pass  # the edge ended the stream: end ours the same way
            return out
        finally:
            edge.close()  # a tenant that goes away cancels us here: the edge stream ends too

    async def _upgrade(self, request: web.Request, target: Target, call: KubeletCall, path: str,
                       query: tuple[tuple[str, str], ...]) -> web.StreamResponse:
        headers = _copy_headers(request.headers, UPGRADE_REQUEST_HEADERS)
        edge = await self.streams.open(target.edge.name, target.edge.client, request.method,
                                       path, query, headers)
        try:
            if edge.status != 101 or edge.connection is None:
                return await self._edge_error(edge, target, call)
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

