"""ReceiveProtocol: ``data_received`` fed from one receive buffer shared by every connection.

A plain ``asyncio.Protocol`` on a TLS connection gets each decrypted piece from
``SSLObject.read(256 KiB)``, which allocates 256 KiB per call and shrinks it after. The
syncer pins glibc's mmap threshold at 128 KiB (``syncer/__main__.py``), so each of those
allocations was an mmap, page faults, an mremap and a munmap: strace counted two mmap
family calls per read of a rollout, and a microbenchmark of the read path measured it at
four times the cost of reading into a buffer. A ``BufferedProtocol`` gets that buffer
from us instead. One buffer serves every connection: transports (uvloop's and asyncio's,
plain and TLS) fill it and call ``buffer_updated`` before running any other callback, so
no two reads ever share it.
"""

from __future__ import annotations

import asyncio

RECEIVE_BUFFER = 256 * 1024  # as large as uvloop's and asyncio's own TLS reads
_shared = memoryview(bytearray(RECEIVE_BUFFER))


class ReceiveProtocol(asyncio.BufferedProtocol):
    """Subclasses implement ``data_received`` as for a plain Protocol; it gets a copy."""

    def get_buffer(self, sizehint: int) -> memoryview:
        return _shared

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_shared[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        raise NotImplementedError
