"""Http1Pool: a lean HTTP/1.1 client for the API servers' request/response calls.

aiohttp's client spends about 0.35 ms of CPU per call around the call itself (request
and response objects, header multidicts, timers, its stream reader): measured with
hack/bench/client_write_cost.py, that was a quarter of the syncer's CPU per pod, which
makes three writes per pod. The syncer's calls need little of it: a JSON body out, a
status and a JSON body back, on keep-alive connections to one server. This pool keeps
those connections, writes each request in one buffer, and parses the answer in a
Protocol: status line, headers, then a Content-Length, chunked or close-delimited body.

Watches, proxies and anything else stay on aiohttp: kube/client.py decides. Every call
has a deadline; a call that is cancelled or times out closes its connection, since
the rest of its answer may still arrive on it. A call that fails on a reused connection
before any byte of the answer (the server closed the idle connection as we wrote) is sent
once more on a new connection, as Go's transport does for requests it may replay.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

# Idle connections are closed after this long, before the API server's own idle timeout
# (90 s) closes them under a request.
KEEPALIVE_S = 60.0
MAX_HEAD = 64 * 1024  # a response head larger than this is not an API server's


class ConnectionLost(ConnectionError):
    """The connection ended before the whole answer; ``answered``: some of it had come."""

    def __init__(self, message: str, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


class _Body:
    """Collects a response body from the bytes after the head; ``done`` once complete."""

    def __init__(self, length: int | None, chunked: bool) -> None:
        self.length, self.chunked = length, chunked
        self.parts: list[bytes] = []
        self.done = length == 0
        self.size = 0
        self._pending = b""  # chunked: bytes not yet framed

    def feed(self, data: bytes) -> None:
        if self.chunked:
            self._feed_chunked(self._pending + data if self._pending else data)
        elif data:
            self.parts.append(data)
            self.size += len(data)
            self.done = self.length is not None and self.size >= self.length

    def _feed_chunked(self, data: bytes) -> None:
        pos = 0
        while not self.done:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(data[pos:eol].split(b";", 1)[0], 16)
            if size == 0:  # the last chunk; then optional trailers and an empty line
                end = data.find(b"\r\n\r\n", eol) if data[eol + 2:eol + 4] != b"\r\n" else eol
                if end < 0:
                    break
                self.done, pos = True, end + 4
                break
            if len(data) < eol + 2 + size + 2:
                break
            self.parts.append(data[eol + 2:eol + 2 + size])
            pos = eol + 2 + size + 2
        self._pending = data[pos:]

    def bytes(self) -> bytes:
        body = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        return body[:self.length] if self.length is not None else body


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """Status, Content-Length, chunked, and whether the server keeps the connection."""
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
    status = int(status_line[1])
    length: int | None = None
    chunked, keep = False, status_line[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = b"close" not in value.lower()
    if status in (204, 304) or 100 <= status < 200:
        length = 0
    return status, (None if chunked else length), chunked, keep


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self.answer: asyncio.Future[Response] | None = None
        self._head = b""
        self._body: _Body | None = None
        self._status, self._keep = 0, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer is not None and not self.answer.done():
            answered = bool(self._head) or self._body is not None
            self.answer.set_exception(ConnectionLost(
                f"connection closed before the whole answer ({exc or 'EOF'})", answered))

    def eof_received(self) -> bool:
        if self._body is not None and self._body.length is None and not self._body.chunked:
            self._finish()  # a close-delimited body ends here
        return False

    def send(self, request: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self._head, self._body = b"", None
        self.transport.write(request)
        return self.answer

    def data_received(self, data: bytes) -> None:
        if self.answer is None or self.answer.done():
            self.abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        try:
            if self._body is None:
                data = self._take_head(data)
                if self._body is None:
                    return
            self._body.feed(data)
        except ValueError as err:
            self.answer.set_exception(ConnectionLost(f"malformed answer: {err}", True))
            self.abort()
            return
        if self._body.done:
            self._finish()

    def _take_head(self, data: bytes) -> bytes:
        buffered = self._head + data
        end = buffered.find(b"\r\n\r\n")
        if end < 0:
            if len(buffered) > MAX_HEAD:
                raise ValueError("response head too large")
            self._head = buffered
            return b""
        self._head = buffered[:end]
        self._status, length, chunked, self._keep = _parse_head(self._head)
        self._body = _Body(length, chunked)
        return buffered[end + 4:]

    def _finish(self) -> None:
        assert self.answer is not None and self._body is not None
        if not self.answer.done():
            self.answer.set_result(Response(self._status, self._body.bytes()))
        if not self._keep:
            self.abort()
        self.idle_since = time.monotonic()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


@dataclass(frozen=True)
class Endpoint:
    """Where a pool connects: host and port, TLS (None: plain HTTP), the name TLS checks."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    server_hostname: str | None = None


class Http1Pool:
    """Keep-alive connections to one server, at most ``limit`` busy at once."""

    def __init__(self, endpoint: Endpoint, limit: int, keepalive_s: float = KEEPALIVE_S) -> None:
        self.endpoint = endpoint
        self.keepalive_s = keepalive_s
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    async def request(self, request: bytes, timeout: float | tuple[float, float]) -> Response:
        """Sends one whole request (head and body); the answer, or OSError/TimeoutError."""
        if isinstance(timeout, tuple):  # (connect, read), as kubernetes-asyncio reads a pair
            connect_s, total_s = timeout[0], timeout[0] + timeout[1]
        else:
            connect_s = total_s = timeout
        async with asyncio.timeout(total_s), self._slots:
            conn, reused = await self._acquire(connect_s)
            try:
                answer = await self._exchange(conn, request)
            except ConnectionLost as err:
                if not reused or err.answered:
                    raise
                conn, _ = await self._acquire(connect_s, fresh=True)
                answer = await self._exchange(conn, request)
            self._release(conn)
            return answer

    async def _exchange(self, conn: _Connection, request: bytes) -> Response:
        try:
            return await conn.send(request)
        except BaseException:
            conn.abort()  # cancelled, timed out or broken: its answer may still be coming
            raise

    async def _acquire(self, connect_s: float, fresh: bool = False) -> tuple[_Connection, bool]:
        if self._closed:
            raise ConnectionLost("client closed", False)
        stale_before = time.monotonic() - self.keepalive_s
        while self._idle and not fresh:
            conn = self._idle.pop()
            if not conn.closed and conn.idle_since > stale_before:
                return conn, True
            conn.abort()
        ep = self.endpoint
        async with asyncio.timeout(connect_s):
            _, conn = await asyncio.get_running_loop().create_connection(
                _Connection, ep.host, ep.port, ssl=ep.tls,
                server_hostname=(ep.server_hostname or ep.host) if ep.tls else None)
        return conn, False

    def _release(self, conn: _Connection) -> None:
        if conn.closed or self._closed:
            conn.abort()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.abort()
        self._idle.clear()
