"""The HTTP/1.1 answer parser of Http1Pool (kube/http1.py): the head, and a body sent with
a Content-Length, chunked, or delimited by the connection's close. Pure: bytes in, state
out, no I/O."""

from __future__ import annotations

from collections.abc import Callable

# Where a chunked body's parser stands, when it is not inside a chunk's data.
_SIZE_LINE, _DATA_END, _TRAILERS = -1, -2, -3


class Body:
    """Collects a response body from the bytes after the head, or hands each piece to
    ``sink`` as it comes (a stream); ``done`` once complete. Linear in the body's size,
    however it is cut into pieces (a LIST of 10,000 pods is tens of MiB)."""

    def __init__(self, length: int | None, chunked: bool,
                 sink: Callable[[bytes], None] | None = None) -> None:
        self.length, self.chunked = length, chunked
        self.parts: list[bytes] = []
        self._keep = self.parts.append if sink is None else sink
        self.done = length == 0
        self.size = 0
        self._remaining = _SIZE_LINE  # chunked: bytes left in this chunk, or a _STATE
        self._line = b""  # chunked: a control line not yet whole

    def feed(self, data: bytes) -> None:
        if self.chunked:
            self._feed_chunked(data)
        elif data:
            self._keep(data)
            self.size += len(data)
            self.done = self.length is not None and self.size >= self.length

    def _feed_chunked(self, data: bytes) -> None:
        if self._line:
            data, self._line = self._line + data, b""
        pos, end = 0, len(data)
        while pos < end and not self.done:
            if self._remaining > 0:
                take = min(self._remaining, end - pos)
                self._keep(data[pos:pos + take])
                self._remaining -= take
                pos += take
                if self._remaining == 0:
                    self._remaining = _DATA_END
                continue
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                self._line = data[pos:]
                return
            self._control_line(data[pos:eol])
            pos = eol + 2

    def _control_line(self, line: bytes) -> None:
        if self._remaining == _DATA_END:
            if line:
                raise ValueError("chunk longer than its size")
            self._remaining = _SIZE_LINE
        elif self._remaining == _TRAILERS:
            self.done = not line  # trailers end with an empty line
        else:
            size = int(line.split(b";", 1)[0], 16)
            self._remaining = size if size else _TRAILERS

    def bytes(self) -> bytes:
        body = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        return body[:self.length] if self.length is not None else body


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
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
