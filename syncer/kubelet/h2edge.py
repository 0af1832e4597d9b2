"""Followed logs to an edge API server, many streams over one HTTP/2 connection.

A ``kubectl logs -f`` stream is a long, mostly idle GET; over HTTP/1.1 each one
holds a TLS connection of its own to the edge (OpenSSL's buffers, asyncio's,
aiohttp's: most of a stream's memory). :class:`EdgeH2Pool` keeps a few HTTP/2
connections per edge cluster instead, dialled with the edge's own TLS identity
(client certificate, or a bearer token the caller sends with each request), and opens one
stream per call: a new connection only when every one of that cluster's is at
the server's ``MAX_CONCURRENT_STREAMS``, or went away (GOAWAY, loss; the next
call dials again). A connection with no stream left is closed after
``IDLE_CLOSE_S``; one whose PING goes unanswered for ``PING_INTERVAL_S`` is
closed (its streams end).

An edge that does not offer ``h2`` (ALPN) is remembered and gets ``None``: the
caller then uses HTTP/1.1 (edge.py). Failures are :class:`EdgeH2Error`; what
reaches the tenant is edge.py's ``EdgeUnreachable`` naming the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from dataclasses import dataclass

import h2.events

from syncer.kubelet.h2conn import H2Link, H2Stream, Headers, StreamReset

CONNECT_TIMEOUT_S = 10.0
IDLE_CLOSE_S = 2.0
PING_INTERVAL_S = 30.0


class EdgeH2Error(Exception):
    """The edge did not answer the call (connect, TLS, timeout, connection lost)."""


@dataclass(frozen=True)
class H2Dial:
    """Where and as whom one edge cluster is called."""

    cluster: str
    host: str
    port: int
    authority: str
    server_hostname: str | None
    ssl: ssl.SSLContext  # offers ALPN "h2"
    identity: object  # calls with another identity (a new edge client) use new connections


class _EdgeLink(H2Link):
    """A client connection to one edge API server."""

    def __init__(self, dial: H2Dial, pool: EdgeH2Pool) -> None:
        super().__init__(client_side=True)
        self.dial, self.pool = dial, pool
        self._idle: asyncio.TimerHandle | None = None
        self._ping: asyncio.TimerHandle | None = None
        self._ping_unanswered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._ping = self.loop.call_later(PING_INTERVAL_S, self._send_ping)
        self.stream_gone(None)  # idle until the first stream

    def has_room(self) -> bool:
        limit = self.conn.remote_settings.max_concurrent_streams
        return (not self.terminated and self.transport is not None
                and self.conn.open_outbound_streams < limit)

    def request(self, headers: list[tuple[str, str]]) -> H2Stream:
        stream_id = self.conn.get_next_available_stream_id()
        stream = H2Stream(self, stream_id)
        self.streams[stream_id] = stream
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.send_headers(stream_id, headers, end=True)
        return stream

    def handle(self, event: h2.events.Event, stream: H2Stream | None) -> None:
        if isinstance(event, h2.events.ResponseReceived) and stream is not None:
            if not stream.headers.done():
                stream.headers.set_result(list(event.headers or []))
        elif isinstance(event, h2.events.PingAckReceived):
            self._ping_unanswered = False

    def _send_ping(self) -> None:
        if self._ping_unanswered:
            self.close()  # the edge stopped answering: its streams end, the next call dials
            return
        self._ping_unanswered = True
        self.conn.ping(os.urandom(8))
        self.flush()
        self._ping = self.loop.call_later(PING_INTERVAL_S, self._send_ping)

    def stream_gone(self, stream: H2Stream | None) -> None:
        if not self.streams and self._idle is None and not self.terminated:
            self._idle = self.loop.call_later(IDLE_CLOSE_S, self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._idle = None
        if not self.streams:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._idle, self._ping):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)
        self.pool.forget(self)


class EdgeH2Pool:
    """HTTP/2 connections to edge API servers, by cluster; ``close`` ends them all."""

    def __init__(self) -> None:
        self._links: dict[str, list[_EdgeLink]] = {}
        self._dialling: dict[str, asyncio.Lock] = {}
        self._no_h2: dict[str, object] = {}  # cluster -> identity that answered http/1.1

    def connections(self) -> dict[str, int]:
        """Open HTTP/2 connections by edge cluster."""
        return {cluster: len(links) for cluster, links in self._links.items() if links}

    def forget(self, link: _EdgeLink) -> None:
        links = self._links.get(link.dial.cluster, [])
        if link in links:
            links.remove(link)

    async def open(self, dial: H2Dial, path: str, auth: list[tuple[str, str]],
                   headers_timeout: float | None) -> tuple[int, H2Stream] | None:
        """(status, stream) of a GET to ``path`` (``auth``: lower-case headers such as
        authorization); None when the edge speaks no HTTP/2."""
        link = await self._link(dial)
        if link is None:
            return None
        stream = link.request([(":method", "GET"), (":scheme", "https"),
                               (":authority", dial.authority), (":path", path),
                               ("accept", "*/*"), *auth])
        try:
            got: Headers = await asyncio.wait_for(asyncio.shield(stream.headers),
                                                  headers_timeout)
            status = int(next(v for k, v in got if k == b":status"))
        except (TimeoutError, StreamReset, StopIteration, ValueError) as err:
            stream.close()
            raise EdgeH2Error(f"no answer from {dial.cluster}: {err!r}") from err
        except BaseException:
            stream.close()
            raise
        return status, stream

    async def _link(self, dial: H2Dial) -> _EdgeLink | None:
        if dial.cluster in self._no_h2 and self._no_h2[dial.cluster] is dial.identity:
            return None
        lock = self._dialling.setdefault(dial.cluster, asyncio.Lock())
        async with lock:  # calls that arrive together share the connection one of them dials
            links = self._links.setdefault(dial.cluster, [])
            for link in links:
                if link.dial.identity is not dial.identity and not link.streams:
                    link.close()  # the edge's client changed: its old connections go
                elif link.dial.identity is dial.identity and link.has_room():
                    return link
            dialled = await self._dial(dial)
            if dialled is not None:
                links.append(dialled)
            return dialled

    async def _dial(self, dial: H2Dial) -> _EdgeLink | None:
        loop = asyncio.get_running_loop()
        try:
            transport, link = await asyncio.wait_for(loop.create_connection(
                lambda: _EdgeLink(dial, self), dial.host, dial.port, ssl=dial.ssl,
                server_hostname=dial.server_hostname), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ssl.SSLError) as err:
            raise EdgeH2Error(f"cannot connect to {dial.cluster}: {err!r}") from err
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            transport.abort()
            self._no_h2[dial.cluster] = dial.identity
            return None
        return link

    async def close(self) -> None:
        links = [link for group in self._links.values() for link in group]
        for link in links:
            link.close()
        for link in links:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.lost), 5.0)
        self._links.clear()
