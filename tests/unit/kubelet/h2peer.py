"""A small edge API server over HTTP/2, on the ``h2`` library directly (not fusionvc's code).

``pods/log`` answers a line and ends; with ``follow=true`` it answers headers
(and ``EdgeWorld.greeting``, if any) and stays open for lines pushed with
``EdgeWorld.push``; ``/pods/missing/`` is a 404 Status. It records the
requests, connections and resets it sees. Used by test_h2.py and by
hack/bench/h2_idle_memory.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events

PATTERN = bytes(range(251)) * 2000  # 490 KiB


def pattern(offset: int, size: int) -> bytes:
    """Bytes ``offset`` to ``offset + size`` of an endless known sequence."""
    start = offset % 251
    return PATTERN[start:start + size]


@dataclass
class EdgeWorld:
    """What the test edge server saw, and its open followed streams."""

    connections: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    followed: dict[int, tuple[h2.connection.H2Connection, asyncio.Transport]] = field(
        default_factory=dict)
    transports: list[asyncio.Transport] = field(default_factory=list)
    greeting: bytes = b""  # sent on each followed stream right after its headers
    filled: int = 0  # bytes sent by ``fill``

    def push(self, text: str) -> None:
        for stream_id, (conn, transport) in self.followed.items():
            conn.send_data(stream_id, text.encode())
            transport.write(conn.data_to_send())

    def go_away(self) -> None:
        """GOAWAY on every connection (an API server shutting down), then close them."""
        for conn, transport in {id(c): (c, t) for c, t in self.followed.values()}.values():
            conn.close_connection()
            transport.write(conn.data_to_send())
            transport.close()
        self.followed.clear()

    def fill(self) -> int:
        """Sends on every followed stream as much as its window takes, the bytes of
        ``pattern(offset, size)`` in sequence; returns the bytes sent."""
        sent = 0
        for stream_id, (conn, transport) in self.followed.items():
            size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if size > 0:
                conn.send_data(stream_id, pattern(self.filled, size))
                transport.write(conn.data_to_send())
                self.filled += size
                sent += size
        return sent


class EdgeServer(asyncio.Protocol):
    def __init__(self, world: EdgeWorld) -> None:
        self.world = world
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.world.connections += 1
        self.world.transports.append(transport)
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.answer(event.stream_id, dict(event.headers))  # type: ignore[arg-type]
            elif isinstance(event, h2.events.StreamReset):
                self.world.resets.append(event.stream_id)  # type: ignore[arg-type]
                self.world.followed.pop(event.stream_id, None)  # type: ignore[arg-type]
        self.transport.write(self.conn.data_to_send())

    def answer(self, stream_id: int, headers: dict[str, str]) -> None:
        self.world.requests.append(headers)
        path = headers[":path"]
        if "/pods/missing/" in path:
            body = b'{"kind":"Status","message":"pods \\"missing\\" not found"}'
            self.conn.send_headers(stream_id, [(":status", "404")])
            self.conn.send_data(stream_id, body, end_stream=True)
        elif "follow=true" in path:
            self.conn.send_headers(stream_id, [(":status", "200")])
            if self.world.greeting:
                self.conn.send_data(stream_id, self.world.greeting)
            self.world.followed[stream_id] = (self.conn, self.transport)
        else:
            self.conn.send_headers(stream_id, [(":status", "200")])
            self.conn.send_data(stream_id, b"one line\n", end_stream=True)
