"""The lean HTTP/1.1 client (syncer/kube/http1.py): answer framing, then the pool against a
local server that answers as scripted (keep-alive, idle close, slow answers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from syncer.kube.http1 import HIGH_WATER, BodyStream, ConnectionLost, Endpoint, Http1Pool
from syncer.kube.http1_parse import Body, parse_head

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json"


@pytest.mark.parametrize(("head", "expected"), [
    (OK_HEAD + b"\r\nContent-Length: 12", (200, 12, False, True)),
    (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked", (201, None, True, True)),
    (b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nConnection: close", (404, 3, False, False)),
    (b"HTTP/1.0 200 OK", (200, None, False, False)),
    (b"HTTP/1.1 204 No Content", (204, 0, False, True)),
    (b"HTTP/1.1 409 Conflict\r\nCONTENT-LENGTH:  7 ", (409, 7, False, True)),
])
def testparse_head(head: bytes, expected: tuple[int, int | None, bool, bool]) -> None:
    assert parse_head(head) == expected


def test_parse_head_refuses_what_is_not_http() -> None:
    with pytest.raises(ValueError, match="not an HTTP"):
        parse_head(b"SSH-2.0-OpenSSH")


CHUNKED = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
WITH_TRAILER = b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"


@pytest.mark.parametrize(("wire", "body"), [(CHUNKED, b"hello, world"), (WITH_TRAILER, b"abc")])
def test_chunked_body_split_at_every_byte(wire: bytes, body: bytes) -> None:
    for cut in range(len(wire) + 1):
        collected = Body(None, chunked=True)
        collected.feed(wire[:cut])
        assert not collected.done or cut == len(wire)
        collected.feed(wire[cut:])
        assert collected.done, cut
        assert collected.bytes() == body


def test_length_body_in_pieces() -> None:
    collected = Body(5, chunked=False)
    for piece in (b"he", b"", b"llo"):
        collected.feed(piece)
    assert collected.done and collected.bytes() == b"hello"


def test_bad_chunk_size_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Body(None, chunked=True).feed(b"zz\r\n")


Script = Callable[[bytes, int], bytes | None]  # (request, index on its connection) -> answer


class ScriptedServer:
    """A local HTTP/1.1 server answering each request as ``script`` says (None: close), and
    closing each connection after ``per_connection`` answers."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self._servers: list[asyncio.Server] = []

    async def start(self, script: Script, per_connection: int = 100) -> Endpoint:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            for index in range(per_connection):
                request = await reader.readuntil(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in request.split(b"\r\n")
                          if line.lower().startswith(b"content-length")]
                request += await reader.readexactly(length[0]) if length else b""
                self.requests.append(request)
                reply = script(request, index)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
            writer.close()

        srv = await asyncio.start_server(serve, "127.0.0.1", 0)
        self._servers.append(srv)
        return Endpoint("127.0.0.1", srv.sockets[0].getsockname()[1], None)

    def close(self) -> None:
        for srv in self._servers:
            srv.close()


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def answer(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status.encode(), len(body), extra, body)


async def test_keep_alive_reuses_one_connection(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: answer(b'{"n":%d}' % i))
    pool = Http1Pool(endpoint, limit=4)
    bodies = [await pool.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5) for _ in range(3)]
    assert [b.body for b in bodies] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert server.connections == 1
    pool.close()


async def test_a_request_body_arrives_whole(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: answer(b"", "201 Created"))
    pool = Http1Pool(endpoint, limit=1)
    got = await pool.request(b"POST /p HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", 5)
    assert got.status == 201 and server.requests[0].endswith(b"\r\n\r\nbody")
    pool.close()


async def test_reused_connection_closed_unanswered_is_sent_again(server: ScriptedServer) -> None:
    # The server answers the first request of each connection and closes the connection on
    # the second unanswered (its idle timeout struck as the request arrived).
    endpoint = await server.start(lambda req, i: answer(b"ok") if i == 0 else None)
    pool = Http1Pool(endpoint, limit=1)
    first = await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)
    second = await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)
    assert first.body == second.body == b"ok"
    assert server.connections == 2 and len(server.requests) == 3
    pool.close()


async def test_connection_the_server_closed_while_idle_is_not_used(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: answer(b"ok"), per_connection=1)
    pool = Http1Pool(endpoint, limit=1)
    await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)
    await asyncio.sleep(0.1)  # the close arrives while the connection is idle
    await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)
    assert server.connections == 2 and len(server.requests) == 2
    pool.close()


async def test_connection_close_answer_is_not_reused(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: answer(b"bye", extra=b"Connection: close\r\n"))
    pool = Http1Pool(endpoint, limit=1)
    for _ in range(2):
        assert (await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)).body == b"bye"
    assert server.connections == 2
    pool.close()


async def test_half_answer_then_close_is_an_error_not_a_retry(
        server: ScriptedServer) -> None:
    endpoint = await server.start(
        lambda req, i: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", per_connection=1)
    pool = Http1Pool(endpoint, limit=1)
    with pytest.raises(ConnectionLost) as lost:
        await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)
    assert lost.value.answered
    pool.close()


async def test_timeout_closes_the_connection(server: ScriptedServer) -> None:
    slow = asyncio.Event()

    def script(req: bytes, i: int) -> bytes | None:
        return answer(b"late") if slow.is_set() else b""  # nothing: the client waits

    endpoint = await server.start(script)
    pool = Http1Pool(endpoint, limit=1)
    with pytest.raises(TimeoutError):
        await pool.request(b"GET / HTTP/1.1\r\n\r\n", 0.2)
    slow.set()
    # The timed-out connection is gone: the next call gets its own answer on a new one.
    assert (await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)).body == b"late"
    assert server.connections == 2
    pool.close()


async def test_refused_connection_is_an_os_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    pool = Http1Pool(Endpoint("127.0.0.1", port, None), limit=1)
    with pytest.raises(OSError):
        await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)


def chunked_answer(*chunks: bytes, end: bool = True) -> bytes:
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed
            + (b"0\r\n\r\n" if end else b""))


def test_chunked_body_of_many_small_pieces_is_whole() -> None:
    wire = chunked_answer(*(b"x" * 1000 for _ in range(200)))
    body = Body(None, chunked=True)
    body.feed(wire[wire.index(b"\r\n\r\n") + 4:][:7])  # a size line cut in two
    rest = wire[wire.index(b"\r\n\r\n") + 4 + 7:]
    for at in range(0, len(rest), 333):
        body.feed(rest[at:at + 333])
    assert body.done and body.bytes() == b"x" * 200_000


async def test_stream_delivers_chunks_then_ends(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: chunked_answer(b'{"a":1}\n', b'{"b":2}\n'))
    pool = Http1Pool(endpoint, limit=1)
    opened = await pool.stream(b"GET /w HTTP/1.1\r\n\r\n", 5, 5)
    assert opened.status == 200 and opened.chunks is not None
    received = b""
    while piece := await opened.chunks.read():
        received += piece
    assert received == b'{"a":1}\n{"b":2}\n'
    opened.close()
    # The stream ended cleanly: its connection serves the next call.
    await pool.request(b"GET / HTTP/1.1\r\n\r\n", 5)
    assert server.connections == 1
    pool.close()


async def test_stream_error_status_carries_the_whole_body(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: answer(b'{"reason":"Gone"}', "410 Gone"))
    pool = Http1Pool(endpoint, limit=1)
    opened = await pool.stream(b"GET /w HTTP/1.1\r\n\r\n", 5, 5)
    assert (opened.status, opened.body, opened.chunks) == (410, b'{"reason":"Gone"}', None)
    opened.close()
    pool.close()


async def test_stream_read_times_out_and_a_cut_stream_raises(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: chunked_answer(b"one\n", end=False),
                                  per_connection=1)
    pool = Http1Pool(endpoint, limit=1)
    opened = await pool.stream(b"GET /w HTTP/1.1\r\n\r\n", 5, 5)
    assert opened.chunks is not None
    assert await opened.chunks.read() == b"one\n"
    with pytest.raises(ConnectionLost):  # the server closes mid-stream
        await opened.chunks.read()
    opened.close()
    pool.close()


async def test_a_silent_stream_times_out(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: chunked_answer(end=False))
    pool = Http1Pool(endpoint, limit=1)
    opened = await pool.stream(b"GET /w HTTP/1.1\r\n\r\n", 5, 0.3)
    assert opened.chunks is not None
    with pytest.raises(TimeoutError):
        await opened.chunks.read()
    opened.close()
    pool.close()


async def test_a_stream_that_keeps_talking_does_not_time_out(server: ScriptedServer) -> None:
    endpoint = await server.start(lambda req, i: chunked_answer(b"a\n", end=False))
    pool = Http1Pool(endpoint, limit=1)
    opened = await pool.stream(b"GET /w HTTP/1.1\r\n\r\n", 5, 0.3)
    assert opened.chunks is not None
    assert await opened.chunks.read() == b"a\n"
    for _ in range(4):  # pieces every 0.2 s keep a 0.3 s silence timer from striking
        await asyncio.sleep(0.2)
        opened.chunks.push(b"b\n")  # as the connection would
        assert await opened.chunks.read() == b"b\n"
    opened.close()
    pool.close()


class PausableTransport:
    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


async def test_a_stream_read_faster_than_consumed_is_held_back_and_read_piece_by_piece(
) -> None:
    stream = BodyStream(read_timeout=30)
    transport = PausableTransport()
    stream.transport = transport  # type: ignore[assignment]
    piece = b"x" * (HIGH_WATER // 4)
    for _ in range(6):  # 1.5 times the high water
        stream.push(piece)
    assert transport.paused
    assert await stream.read() == piece  # the oldest piece, not all that waits
    assert await stream.read() == piece
    assert transport.paused  # the high water still waits
    assert await stream.read() == piece
    assert not transport.paused  # below it: the server may send more
    stream.end()
    rest = [await stream.read() for _ in range(3)]
    assert rest == [piece] * 3 and await stream.read() == b""
