"""Entry point: ``python -m syncer`` (console script ``fusionvc-syncer``)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

from syncer.kube.transport import use_transport
from syncer.ops import event_loop
from syncer.ops.logs import configure_logging, shutdown_logging
from syncer.ops.settings import Settings, SettingsError, load_settings

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 128 * 1024


def keep_large_blocks_returnable() -> None:
    """Pins glibc's mmap threshold at its default of 128 KiB.

    glibc raises the threshold each time a large block is freed, after which TLS buffers
    (256 KiB per connection) and list pages are carved from the heap instead, and a heap
    with long-lived objects between them can never shrink: a burst of connections would
    stay in RSS for good. Pinned, every block over 128 KiB is its own mapping and goes
    back to the system when freed. A no-op where the C library is not glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingsError as err:
        print(f"fusionvc-syncer: {err}", file=sys.stderr)
        return 2
    # Until the event loop installs its own handler, SIGTERM still means a clean exit.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))
    configure_logging(settings.logging.format, settings.logging.level)
    keep_large_blocks_returnable()
    use_transport(settings.process.api_transport)
    try:
        return event_loop.run(_run(settings), settings.process.event_loop)
    except SettingsError as err:  # an --extra-kinds reference that does not import
        print(f"fusionvc-syncer: {err}", file=sys.stderr)
        return 2
    finally:
        shutdown_logging()


async def _run(settings: Settings) -> int:
    from syncer.daemon import Daemon  # after logging, so import-time loggers use it
    return await Daemon(settings).run()


if __name__ == "__main__":
    sys.exit(main())
