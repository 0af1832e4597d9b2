"""Calls to an edge API server's pod subresources for the kubelet endpoint.

Streams (``logs -f``, exec, attach, port-forward) live as long as the tenant
keeps them open, so they never take a connection of the syncer's own pool
(``KubeClient``'s connector is bounded and shared with every reconcile): each
edge gets a streaming session of its own, built from the same configuration as
its KubeClient (server URL, CA, client certificate, bearer token, proxy) and
rebuilt when the edge's client changes. Only connecting has a timeout; a
stream may stay quiet for as long as the tenant follows it.

Followed logs (``open_logs`` with ``follow``) go over HTTP/2 where the edge
offers it and no proxy is set: many long, mostly idle streams share a
connection (h2edge.py). A plain ``kubectl logs`` is short: it takes HTTP/1.1
from the keep-alive pool like the rest (pure-Python HTTP/2 framing would add
about a millisecond to it). Either way the caller reads a :class:`LogReply`.
A followed log has no timeout for its headers (an edge may send them with its
first line; the connection's PINGs find a dead edge); HTTP/1.1 calls have none
either, as before.

Nothing from here reaches the tenant but the edge's answer: failures to reach
an edge are :class:`EdgeUnreachable`, whose message names the cluster only.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import aiohttp
from multidict import CIMultiDict

from syncer.kube.client import KubeClient
from syncer.kube.transport import env_proxy, ssl_context_of
from syncer.kubelet.h2conn import H2Stream, StreamReset
from syncer.kubelet.h2edge import EdgeH2Error, EdgeH2Pool, H2Dial
from syncer.kubelet.tlsbuffer import EDGE_SIDE, shrink_read_buffer

CONNECT_TIMEOUT_S = 10.0


class EdgeUnreachable(Exception):
    """The edge API server did not answer (refused, timed out, TLS failure)."""

    def __init__(self, edge: str) -> None:
        super().__init__(f"edge cluster {edge} is unreachable")
        self.edge = edge


class LogReply(Protocol):
    """An edge's answer to a logs call: status first, then the body as it comes."""

    status: int

    async def chunk(self) -> bytes:
        """The next piece of the body; b"" once it ended (also when the edge went away)."""

    async def body(self, limit: int) -> bytes:
        """The body up to ``limit`` bytes (error texts)."""

    def close(self) -> None:
        """Ends the edge stream at once."""


class _H2Reply:
    def __init__(self, status: int, stream: H2Stream) -> None:
        self.status, self._stream = status, stream

    async def chunk(self) -> bytes:
        try:
            return await self._stream.read()
        except StreamReset:
            return b""

    async def body(self, limit: int) -> bytes:
        try:
            return await self._stream.read_up_to(limit)
        except StreamReset:
            return b""

    def close(self) -> None:
        self._stream.close()


class _Http1Reply:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.status, self.response = resp.status, resp
        shrink_read_buffer(resp.connection.transport if resp.connection else None, EDGE_SIDE)

    async def chunk(self) -> bytes:
        try:
            return await self.response.content.readany()
        except (aiohttp.ClientError, OSError):
            return b""

    async def body(self, limit: int) -> bytes:
        return await self.response.content.read(limit)

    def close(self) -> None:
        self.response.close()


def h2_dial(edge: str, client: KubeClient, ssl_context: ssl.SSLContext) -> H2Dial | None:
    """How to reach the edge over HTTP/2; None through a proxy (HTTP/1.1 then)."""
    conf = client.api.configuration
    if client.api.rest_client.proxy or env_proxy(conf.host):
        return None
    url = urlsplit(conf.host)
    if url.scheme != "https" or not url.hostname:
        return None
    ssl_context.set_alpn_protocols(["h2"])
    return H2Dial(edge, url.hostname, url.port or 443, url.netloc,
                  client.api.rest_client.server_hostname, ssl_context, client)


@dataclass
class _EdgeSession:
    client: KubeClient
    session: aiohttp.ClientSession
    proxy: str | None
    h2: H2Dial | None = None


class EdgeStreams:
    """One streaming session per edge cluster; ``close`` ends them all."""

    def __init__(self) -> None:
        self._sessions: dict[str, _EdgeSession] = {}
        self.h2 = EdgeH2Pool()

    async def _session(self, edge: str, client: KubeClient) -> _EdgeSession:
        have = self._sessions.get(edge)
        if have is not None and have.client is client:
            return have
        if have is not None:
            await have.session.close()
        connector = aiohttp.TCPConnector(limit=0, ssl=ssl_context_of(client.api),
                                         keepalive_timeout=30)
        host = client.api.configuration.host
        proxy = client.api.rest_client.proxy or env_proxy(host)
        made = _EdgeSession(client, aiohttp.ClientSession(connector=connector, trust_env=False,
                                                          auto_decompress=False), proxy)
        self._sessions[edge] = made
        return made

    async def _auth_headers(self, client: KubeClient) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for auth in (await client.api.configuration.auth_settings()).values():
            headers[auth["key"]] = auth["value"]
        return headers

    async def websocket_args(self, edge: str, client: KubeClient, path: str
                             ) -> tuple[aiohttp.ClientSession, str, CIMultiDict[str], str | None]:
        """(session, URL, auth headers, proxy) for a WebSocket call to the edge."""
        found = await self._session(edge, client)
        url = client.api.configuration.host + path
        return found.session, url, await self._auth_headers(client), found.proxy

    async def open(self, edge: str, client: KubeClient, method: str, path: str,
                   query: Sequence[tuple[str, str]],
                   headers: CIMultiDict[str]) -> aiohttp.ClientResponse:
        """Sends one call to the edge and returns its response (headers read, body not)."""
        found = await self._session(edge, client)
        conf = client.api.configuration
        send = CIMultiDict(headers)
        send.update(await self._auth_headers(client))
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S,
                                        sock_connect=CONNECT_TIMEOUT_S, sock_read=None)
        try:
            return await found.session.request(
                method, conf.host + path, params=list(query), headers=send, timeout=timeout,
                proxy=found.proxy, server_hostname=client.api.rest_client.server_hostname)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise EdgeUnreachable(edge) from err

    async def open_logs(self, edge: str, client: KubeClient, path: str,
                        query: Sequence[tuple[str, str]], follow: bool) -> LogReply:
        """A GET of the edge's ``pods/log``: followed over HTTP/2 where the edge has it."""
        found = await self._session(edge, client)
        if follow and found.h2 is None and found.proxy is None:
            found.h2 = h2_dial(edge, client, ssl_context_of(client.api))
        if follow and found.h2 is not None:
            target = f"{path}?{urlencode(list(query))}" if query else path
            auth = [(k.lower(), v) for k, v in (await self._auth_headers(client)).items()]
            try:
                opened = await self.h2.open(found.h2, target, auth, None)
            except EdgeH2Error as err:
                raise EdgeUnreachable(edge) from err
            if opened is not None:
                return _H2Reply(*opened)
        return _Http1Reply(await self.open(edge, client, "GET", path, query, CIMultiDict()))

    async def close(self) -> None:
        await self.h2.close()
        for found in self._sessions.values():
            await found.session.close()
        self._sessions.clear()
