"""Smaller TLS read buffers for long-lived, mostly idle streams (``logs -f``).

asyncio's TLS protocol zero-fills a 256 KiB read buffer per connection and keeps
it for the connection's life; a followed log holds two connections (the tenant
apiserver's and the edge's), so 512 KiB of RSS per stream for a few lines a
second. asyncio has no public setting for it, so :func:`shrink_read_buffer`
swaps the buffer of one connection's TLS protocol for a smaller one once the
stream is set up. The protocol reads TLS records through it in as many pieces
as it takes, so nothing changes but the number of reads during a burst.

It reaches asyncio's internals (``_ssl_protocol``, ``max_size``,
``_ssl_buffer``, ``_ssl_buffer_view`` of CPython 3.11's ``asyncio.sslproto``)
and does nothing where those are not there: it returns whether it shrank, and a
unit test checks that it does on the Python the project runs. An event loop
with its own TLS (uvloop allocates its buffer without touching it) would make
this unnecessary.
"""

from __future__ import annotations

import asyncio

TENANT_SIDE = 1024  # a tenant apiserver sends nothing after its request but a close
EDGE_SIDE = 4096  # log lines; a burst is read a page at a time


def shrink_read_buffer(transport: asyncio.BaseTransport | None, size: int) -> bool:
    """Gives the TLS connection under ``transport`` a ``size``-byte read buffer."""
    protocol = getattr(transport, "_ssl_protocol", None)
    if protocol is None or not all(hasattr(protocol, name) for name in (
            "max_size", "_ssl_buffer", "_ssl_buffer_view")):
        return False
    protocol.max_size = size  # the largest read it asks for (asyncio: class attribute)
    protocol._ssl_buffer = bytearray(size)
    protocol._ssl_buffer_view = memoryview(protocol._ssl_buffer)
    return True
