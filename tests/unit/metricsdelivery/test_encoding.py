"""Snappy block format and the remote-write protobuf, decoded back independently."""

from __future__ import annotations

import os
import random
import struct

import pytest

from syncer.metricsdelivery.remote_write import (
    LabelCache,
    encode_write_request,
    write_request_body,
)
from syncer.metricsdelivery.snappy import SnappyError, compress, decompress, varint


@pytest.mark.parametrize("data", [b"", b"a", b"abc", b"abcd" * 1000, os.urandom(5000),
                                  b"x" * 70_000 + os.urandom(100) + b"x" * 131,
                                  bytes(random.Random(1).choice(b"ab") for _ in range(50_000))])
def test_snappy_round_trip(data: bytes) -> None:
    assert decompress(compress(data)) == data


def test_snappy_compresses_repeats_and_refuses_garbage() -> None:
    data = b'{namespace="web",pod="infer-1"}' * 500
    assert len(compress(data)) < len(data) // 10
    with pytest.raises(SnappyError):
        decompress(b"\x05\x01\x00")  # a copy before any output


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of one protobuf message."""
    out: list[tuple[int, int, object]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = _read_varint(data, pos)
            out.append((number, wire, data[pos:pos + n]))
            pos += n
        elif wire == 1:
            out.append((number, wire, struct.unpack("<d", data[pos:pos + 8])[0]))
            pos += 8
        else:
            value, pos = _read_varint(data, pos)
            out.append((number, wire, value))
    return out


def test_write_request_decodes_as_the_protocol_says() -> None:
    labels = (("pod", "p1"), ("__name__", "rps"), ("namespace", "web"))
    body = write_request_body([(labels, 2.5, 1_790_000_000_123)])
    (number, _, series), = _fields(decompress(body))
    assert number == 1
    parts = _fields(series)  # type: ignore[arg-type]
    label_pairs = [tuple(v.decode() for _, _, v in _fields(raw))  # type: ignore[union-attr]
                   for n, _, raw in parts if n == 1]
    assert label_pairs == sorted(labels)  # sorted by name
    (sample,) = [raw for n, _, raw in parts if n == 2]
    assert _fields(sample) == [(1, 1, 2.5), (2, 0, 1_790_000_000_123)]  # type: ignore[arg-type]


def test_label_cache_is_bounded_and_same_bytes() -> None:
    cache = LabelCache(size=2)
    samples = [((("__name__", f"m{i}"),), 1.0, 1) for i in range(3)]
    assert encode_write_request(samples, cache) == encode_write_request(samples)
    assert len(cache._cache) == 2
    assert varint(300) == b"\xac\x02" and varint(-1)[-1] == 1
