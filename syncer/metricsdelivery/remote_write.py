"""Prometheus remote write 1.0 request bodies: ``prometheus.WriteRequest``, Snappy-compressed.

Hand-written protobuf for the four messages the protocol needs::

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }  // milliseconds

A series' encoded labels (sorted by name, ``__name__`` included) are computed once
and reused (``LabelCache``), so a steady set of series costs one sample encoding
each per push. The headers are the protocol's.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Iterable

from syncer.metricsdelivery.snappy import compress, varint

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}
Labels = tuple[tuple[str, str], ...]
_DOUBLE = struct.Struct("<Bd")


def _field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def encode_labels(labels: Labels) -> bytes:
    """The label fields of a TimeSeries, sorted by name as receivers require."""
    return b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode()))
                    for k, v in sorted(labels))


def encode_sample(value: float, timestamp_ms: int) -> bytes:
    sample = _DOUBLE.pack(0x09, value) + b"\x10" + varint(timestamp_ms)
    return b"\x12" + varint(len(sample)) + sample


class LabelCache:
    """Encoded labels of the most recent ``size`` series."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._cache: OrderedDict[Labels, bytes] = OrderedDict()

    def get(self, labels: Labels) -> bytes:
        found = self._cache.get(labels)
        if found is None:
            found = self._cache[labels] = encode_labels(labels)
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return found


def encode_write_request(samples: Iterable[tuple[Labels, float, int]],
                         cache: LabelCache | None = None) -> bytes:
    """The uncompressed WriteRequest: one TimeSeries per (labels, value, timestamp)."""
    cache = cache or LabelCache()
    parts = []
    for labels, value, timestamp_ms in samples:
        series = cache.get(labels) + encode_sample(value, timestamp_ms)
        parts.append(b"\x0a" + varint(len(series)) + series)
    return b"".join(parts)


def write_request_body(samples: Iterable[tuple[Labels, float, int]],
                       cache: LabelCache | None = None) -> bytes:
    """What is POSTed: the Snappy-compressed WriteRequest."""
    return compress(encode_write_request(samples, cache))
