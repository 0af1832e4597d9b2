"""Http1Pool: a lean HTTP/1.1 client for the API servers' request/response calls.

aiohttp's client spends about 0.35 ms of CPU per call around the call itself (request
and response objects, header multidicts, timers, its stream reader): measured with
hack/bench/client_write_cost.py, that was a quarter of the syncer's CPU per pod, which
makes three writes per pod. The syncer's calls need little of it: a JSON body out, a
status and a JSON body back, on keep-alive connections to one server. This pool keeps
those connections, writes each request in one buffer, and parses the answer in a
Protocol (the parser: http1_parse.py): status line, headers, then a Content-Length, chunked
or close-delimited body.

Watches stream through it too (BodyStream); proxies and the rest stay on aiohttp:
kube/client.py decides. Every call
has a deadline; a call that is cancelled or times out closes its connection, since
the rest of its answer may still arrive on it. A call that fails on a reused connection
before any byte of the answer (the server closed the idle connection as we wrote) is sent
once more on a new connection, as Go's transport does for requests it may replay.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass

from syncer.kube.http1_parse import Body, parse_head
from syncer.kube.receive import ReceiveProtocol

# Idle pooled connections live this long (aiohttp's default: 15 s). A cluster the syncer
# writes to every few tens of seconds (a quiet edge, the management cluster, the metrics
# polls) would otherwise pay a TLS handshake per request: 5% of the syncer's CPU in a
# rollout. Below the API server's own idle timeout (90 s), so the client closes first,
# not the server under a request.
KEEPALIVE_S = 60.0
MAX_HEAD = 64 * 1024  # a response head larger than this is not an API server's
HIGH_WATER = 2**20  # bytes of a stream read but not consumed before reading pauses


class ConnectionLost(ConnectionError):
    """The connection ended before the whole answer; ``answered``: some of it had come."""

    def __init__(self, message: str, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


class BodyStream:
    """A streamed body's pieces as they arrive (a watch). While more than HIGH_WATER bytes
    wait unread, the connection stops reading: a slow reader holds back the server, and
    memory stays bounded. After ``read_timeout`` seconds without a byte from the server
    the stream ends with TimeoutError (one timer per stream, not one per read: a watch
    delivers thousands of pieces a minute)."""

    def __init__(self, read_timeout: float) -> None:
        self.transport: asyncio.Transport | None = None
        self.read_timeout = read_timeout
        self._pieces: deque[bytes] = deque()
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.ended = False
        self.error: Exception | None = None
        self._loop = asyncio.get_running_loop()
        self._heard = self._loop.time()
        self._timer = self._loop.call_at(self._heard + read_timeout, self._check_silence)

    def push(self, data: bytes) -> None:
        self._pieces.append(data)
        self._size += len(data)
        self._heard = self._loop.time()
        if self._size > HIGH_WATER and not self._paused and self.transport is not None:
            self.transport.pause_reading()
            self._paused = True
        self._wake()

    def end(self, error: Exception | None = None) -> None:
        if not self.ended:
            self.ended, self.error = True, error
            self._timer.cancel()
            self._wake()

    def _check_silence(self) -> None:
        silent_since = self._loop.time() if self._paused else self._heard  # paused: ours
        due = silent_since + self.read_timeout
        if due <= self._loop.time():
            self.end(TimeoutError(f"no data for {self.read_timeout:g} s"))
        else:
            self._timer = self._loop.call_at(due, self._check_silence)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes:
        """The oldest piece not read yet; b"" once the body ended; raises what ended it
        otherwise (TimeoutError when the server fell silent)."""
        while not self._pieces:
            if self.ended:
                if self.error is not None:
                    raise self.error
                return b""
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        # One piece at a time (a receive buffer's worth at most), not all that waits: a
        # watch-list's initial events arrive faster than they are compacted, and joined
        # megabytes, split into lines, lived next to the cache for every informer at once
        # (40 MiB more RSS after a restart with 10,000 pods).
        data = self._pieces.popleft()
        self._size -= len(data)
        if self._paused and self._size < HIGH_WATER and self.transport is not None:
            self.transport.resume_reading()
            self._paused = False
            self._heard = self._loop.time()
        return data


class _Connection(ReceiveProtocol):
    """One keep-alive connection; one request at a time. The answer is one Response, or
    for a stream a Response with the status only, its body going to the BodyStream."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self.answer: asyncio.Future[Response] | None = None
        self._busy = False
        self._stream: BodyStream | None = None
        self._head = b""
        self._body: Body | None = None
        self._status, self._keep = 0, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._busy:
            return
        lost = ConnectionLost(f"connection closed before the whole answer ({exc or 'EOF'})",
                              answered=bool(self._head) or self._body is not None)
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(lost)
        if self._stream is not None:
            self._stream.end(lost)

    def eof_received(self) -> bool:
        if self._body is not None and self._body.length is None and not self._body.chunked:
            self._finish()  # a close-delimited body ends here
        return False

    def send(self, request: bytes, stream: BodyStream | None = None) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self._busy, self._stream, self._head, self._body = True, stream, b"", None
        if stream is not None:
            stream.transport = self.transport
        self.transport.write(request)
        return self.answer

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            self.abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        try:
            if self._body is None:
                data = self._take_head(data)
                if self._body is None:
                    return
            self._body.feed(data)
        except ValueError as err:
            self._fail(ConnectionLost(f"malformed answer: {err}", True))
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
        self._status, length, chunked, self._keep = parse_head(self._head)
        streamed = self._stream is not None and self._status == 200
        self._body = Body(length, chunked, self._stream.push if streamed else None)  # type: ignore[union-attr]
        if streamed and self.answer is not None:
            self.answer.set_result(Response(self._status, b""))
        return buffered[end + 4:]

    def _finish(self) -> None:
        assert self.answer is not None and self._body is not None
        self._busy = False
        if not self.answer.done():
            self.answer.set_result(Response(self._status, self._body.bytes()))
        if self._stream is not None:
            self._stream.end()
        if not self._keep:
            self.abort()
        self.idle_since = time.monotonic()

    def _fail(self, error: ConnectionLost) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)
        if self._stream is not None:
            self._stream.end(error)
        self.abort()

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
            conn, answer, _ = await self._send(request, connect_s, None)
            self._release(conn)
            return answer

    async def stream(self, request: bytes, connect_s: float, read_s: float) -> OpenStream:
        """Sends a request whose answer streams (a watch); returns once its head came
        (within ``read_s``), and the body ends with TimeoutError after ``read_s`` without
        a byte. Streams do not count against ``limit``: they hold their connection for
        minutes."""
        async with asyncio.timeout(connect_s + read_s):
            conn, answer, body = await self._send(request, connect_s, read_s)
        return OpenStream(answer.status, answer.body, body, conn, self)

    async def _send(self, request: bytes, connect_s: float, read_s: float | None
                    ) -> tuple[_Connection, Response, BodyStream | None]:
        """The answer (streamed when ``read_s`` is given), sent again on a new connection
        when a reused one closed before any of it."""
        conn, reused = await self._acquire(connect_s)
        try:
            return conn, *await self._exchange(conn, request, read_s)
        except ConnectionLost as err:
            if not reused or err.answered:
                raise
        conn, _ = await self._acquire(connect_s, fresh=True)
        return conn, *await self._exchange(conn, request, read_s)

    async def _exchange(self, conn: _Connection, request: bytes,
                        read_s: float | None) -> tuple[Response, BodyStream | None]:
        body = BodyStream(read_s) if read_s is not None else None
        try:
            answer = await conn.send(request, body)
        except BaseException:
            conn.abort()  # cancelled, timed out or broken: its answer may still be coming
            if body is not None:
                body.end()
            raise
        if body is not None and answer.status != 200:
            body.end()
            body = None
        return answer, body

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

    def release(self, conn: _Connection, clean: bool) -> None:
        """Takes back a stream's connection: kept when its body ended cleanly."""
        if clean:
            self._release(conn)
        else:
            conn.abort()

    def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.abort()
        self._idle.clear()


@dataclass
class OpenStream:
    """A streaming answer: ``status``; the whole ``body`` unless the status is 200, else
    ``chunks`` as they come. ``close`` when done (the connection is kept if it ended)."""

    status: int
    body: bytes
    chunks: BodyStream | None
    _conn: _Connection
    _pool: Http1Pool

    def close(self) -> None:
        chunks = self.chunks
        clean = chunks is None or (chunks.ended and chunks.error is None)
        if chunks is not None:
            chunks.end()  # its silence timer
        self._pool.release(self._conn, clean and not self._conn.closed)
