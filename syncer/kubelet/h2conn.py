"""HTTP/2 over one asyncio TLS connection (the sans-IO ``h2`` state machine), both ends.

:class:`H2Link` is the asyncio protocol of one connection: it feeds received
bytes to ``h2``, writes what ``h2`` wants sent, and hands each stream's events
to its :class:`H2Stream`. The tenant side (h2server.py) and the edge side
(h2edge.py) subclass it for what only they do (requests in, responses in).

Flow control is end to end and bounded: a stream acknowledges received data
(opening its window again) only when its reader takes it, so at most
``STREAM_WINDOW`` bytes wait per stream; the connection window is large enough
for every stream's window at once, so one stream whose reader stalls never
stops the others. Sending waits for the peer's window and for the transport's
write buffer (``pause_writing``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes

Headers = list[tuple[bytes, bytes]]
STREAM_WINDOW = 64 * 1024  # bytes a stream may have received and not yet passed on
MAX_STREAMS = 250  # streams a peer may open on one connection (Go's clients then dial more)
WRITE_HIGH_WATER = 64 * 1024


class StreamReset(Exception):
    """The stream was reset by the peer, or its connection was lost."""


def header(headers: Headers, name: bytes) -> str:
    """The first value of ``name`` (lower case), or ""."""
    return next((v.decode("latin-1") for k, v in headers if k == name), "")


class H2Stream:
    """One stream: the peer's headers and data as they come, and sending on it."""

    __slots__ = ("_chunks", "_ready", "_window", "ended", "headers", "id", "link", "reset_code")

    def __init__(self, link: H2Link, stream_id: int) -> None:
        self.link, self.id = link, stream_id
        self.headers: asyncio.Future[Headers] = link.loop.create_future()
        self._chunks: collections.deque[tuple[bytes, int]] = collections.deque()
        self._ready = asyncio.Event()
        self._window = asyncio.Event()
        self.ended = False
        self.reset_code: int | None = None

    def fed(self, data: bytes, flow_length: int) -> None:
        self._chunks.append((data, flow_length))
        self._ready.set()

    def end_received(self) -> None:
        self.ended = True
        self._ready.set()

    def was_reset(self, code: int) -> None:
        self.reset_code = code
        self._ready.set()
        self._window.set()
        if not self.headers.done():
            self.headers.set_exception(StreamReset(f"stream reset ({code})"))
            self.headers.exception()  # retrieved: nobody may be waiting for it

    def window_opened(self) -> None:
        self._window.set()

    async def read(self) -> bytes:
        """The next piece of the body; b"" at its end. Raises StreamReset."""
        while not self._chunks:
            if self.reset_code is not None:
                raise StreamReset(f"stream reset ({self.reset_code})")
            if self.ended:
                return b""
            self._ready.clear()
            await self._ready.wait()
        data, flow_length = self._chunks.popleft()
        self.link.acknowledge(self.id, flow_length)
        return data

    async def read_up_to(self, limit: int) -> bytes:
        """The body up to ``limit`` bytes (error texts)."""
        body = bytearray()
        while len(body) < limit and (data := await self.read()):
            body += data
        return bytes(body[:limit])

    async def write(self, data: bytes, end: bool = False) -> None:
        """Sends ``data`` as the peer's window and the write buffer allow. Raises StreamReset."""
        while data:
            await self.link.writable()
            if self.reset_code is not None:
                raise StreamReset(f"stream reset ({self.reset_code})")
            size = min(len(data), self.link.window(self.id))
            if size <= 0:
                self._window.clear()
                await self._window.wait()
                continue
            self.link.send(self.id, data[:size])
            data = data[size:]
        if end:
            self.link.end(self.id)

    def close(self) -> None:
        """Ends the stream: reset (CANCEL) unless it is already closed both ways."""
        self.link.release(self)


class H2Link(asyncio.Protocol):
    """One HTTP/2 connection over an asyncio transport."""

    def __init__(self, client_side: bool) -> None:
        self.loop = asyncio.get_running_loop()
        config = h2.config.H2Configuration(client_side=client_side, header_encoding=None)
        self.conn = h2.connection.H2Connection(config)
        self.conn.local_settings = h2.settings.Settings(client=client_side, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, H2Stream] = {}
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.terminated = False  # GOAWAY seen or sent: no new streams

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport instance: uvloop's TLS
        # transport implements the same methods without deriving from it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(MAX_STREAMS * STREAM_WINDOW)
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            self.close()
            return
        for event in events:
            self.dispatch(event)
        self.flush()

    def dispatch(self, event: h2.events.Event) -> None:
        """Stream events to their streams; the rest to ``handle``."""
        stream_id = getattr(event, "stream_id", 0)
        stream = self.streams.get(stream_id) if stream_id else None
        if isinstance(event, h2.events.DataReceived):
            if stream is not None and event.data is not None:
                stream.fed(event.data, event.flow_controlled_length or 0)
            else:  # nobody reads it: give the window back at once
                self.acknowledge(stream_id, event.flow_controlled_length or 0)
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            stream.end_received()
        elif isinstance(event, h2.events.StreamReset):
            if stream is not None:
                self.streams.pop(stream_id, None)
                stream.was_reset(int(event.error_code or 0))
                self.stream_gone(stream)
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            for waiting in ([stream] if stream is not None else self.streams.values()):
                waiting.window_opened()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.terminated = True
            self.close()
        else:
            self.handle(event, stream)

    def handle(self, event: h2.events.Event, stream: H2Stream | None) -> None:
        """Events only one side knows (requests, responses)."""

    def stream_gone(self, stream: H2Stream | None) -> None:
        """Called once a stream left ``streams`` (reset, released, connection lost)."""

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def acknowledge(self, stream_id: int, size: int) -> None:
        if size:
            with contextlib.suppress(h2.exceptions.ProtocolError, KeyError):
                self.conn.acknowledge_received_data(size, stream_id)
                self.flush()

    def window(self, stream_id: int) -> int:
        try:
            window = self.conn.local_flow_control_window(stream_id)
        except (h2.exceptions.ProtocolError, KeyError):
            raise StreamReset("stream closed") from None
        return min(window, self.conn.max_outbound_frame_size)

    def send(self, stream_id: int, data: bytes) -> None:
        self.conn.send_data(stream_id, data)
        self.flush()

    def end(self, stream_id: int) -> None:
        self.conn.end_stream(stream_id)
        self.flush()

    def send_headers(self, stream_id: int, headers: list[tuple[str, str]],
                     end: bool = False) -> None:
        self.conn.send_headers(stream_id, headers, end_stream=end)
        self.flush()

    def release(self, stream: H2Stream) -> None:
        if self.streams.pop(stream.id, None) is None:
            return
        h2stream: Any = self.conn.streams.get(stream.id)
        if h2stream is not None and not h2stream.closed and self.transport is not None:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.conn.reset_stream(stream.id, ErrorCodes.CANCEL)
                self.flush()
        self.stream_gone(stream)

    async def writable(self) -> None:
        if self.lost.done():
            raise StreamReset("connection lost")
        await self._can_write.wait()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def close(self) -> None:
        self.terminated = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.terminated = True
        self._can_write.set()
        streams, self.streams = list(self.streams.values()), {}
        for stream in streams:
            stream.was_reset(int(ErrorCodes.CANCEL))
            self.stream_gone(stream)
        if not self.lost.done():
            self.lost.set_result(None)
