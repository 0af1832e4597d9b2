"""Entry point: ``python -m syncer`` (console script ``fusionvc-syncer``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from .logs import configure_logging, shutdown_logging
from .settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingsError as err:
        print(f"fusionvc-syncer: {err}", file=sys.stderr)
        return 2
    # Until the event loop installs its own handler, SIGTERM still means a clean exit.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))
    configure_logging(settings.logging.format, settings.logging.level)
    from .daemon import Daemon  # after logging, so import-time loggers use it
    try:
        return asyncio.run(Daemon(settings).run())
    finally:
        shutdown_logging()


if __name__ == "__main__":
    sys.exit(main())
