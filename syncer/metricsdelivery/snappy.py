"""Snappy block format (what Prometheus remote write carries), in pure Python.

``compress`` finds repeats with a table of 4-byte sequences (the first occurrence
within 64 KiB wins) and extends a match 16 bytes at a time with slice compares, so
the repeated label names and values of a write request cost a few operations each.
Its output is valid Snappy (literals and 2-byte-offset copies); it compresses less
than the C library but any decoder reads it. ``decompress`` is for tests and benches.
"""

from __future__ import annotations

MAX_OFFSET = 65535
MIN_MATCH = 4


class SnappyError(ValueError):
    pass


def varint(n: int) -> bytes:
    """Base-128 varint (a negative protobuf int64 as its two's complement)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _literal(out: bytearray, data: bytes, start: int, end: int) -> None:
    while start < end:
        chunk = min(end - start, 65536)
        n = chunk - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes((60 << 2, n))
        else:
            out += bytes((61 << 2, n & 0xFF, n >> 8))
        out += data[start:start + chunk]
        start += chunk


def _copy(out: bytearray, offset: int, length: int) -> None:
    low, high = offset & 0xFF, offset >> 8
    while length > 0:
        # Keep every piece >= 4 bytes: a 64-byte piece would leave 1-3 otherwise.
        piece = 64 if length >= 68 or length == 64 else min(length, 60)
        out += bytes((((piece - 1) << 2) | 2, low, high))
        length -= piece


def _match_length(data: bytes, cand: int, pos: int, n: int) -> int:
    length = MIN_MATCH
    while pos + length + 16 <= n and data[cand + length:cand + length + 16] == \
            data[pos + length:pos + length + 16]:
        length += 16
    while pos + length < n and data[cand + length] == data[pos + length]:
        length += 1
    return length


def compress(data: bytes) -> bytes:
    out = bytearray(varint(len(data)))
    n = len(data)
    table: dict[bytes, int] = {}
    pos = literal_start = 0
    while pos + MIN_MATCH <= n:
        key = data[pos:pos + MIN_MATCH]
        cand = table.get(key)
        table[key] = pos
        if cand is None or pos - cand > MAX_OFFSET:
            pos += 1
            continue
        length = _match_length(data, cand, pos, n)
        _literal(out, data, literal_start, pos)
        _copy(out, pos - cand, length)
        pos += length
        literal_start = pos
    _literal(out, data, literal_start, n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise SnappyError("truncated length")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def decompress(data: bytes) -> bytes:
    size, pos = _read_varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        kind = tag & 3
        pos += 1
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            out += data[pos:pos + n + 1]
            pos += n + 1
            continue
        if kind == 1:
            length, offset = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + width], "little")
            pos += width
        if offset == 0 or offset > len(out):
            raise SnappyError("bad copy offset")
        for _ in range(length):
            out.append(out[-offset])
    if len(out) != size:
        raise SnappyError(f"length {len(out)} != {size}")
    return bytes(out)
