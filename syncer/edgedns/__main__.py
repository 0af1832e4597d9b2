"""Entry point: ``python -m syncer.edgedns`` (one process per edge cluster)."""

from __future__ import annotations

import os
import sys

from syncer.edgedns.settings import load_settings
from syncer.ops import event_loop
from syncer.ops.logs import configure_logging, shutdown_logging
from syncer.ops.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingsError as err:
        print(f"fusionvc-edgedns: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    from syncer.edgedns.app import run  # after logging, so import-time loggers use it
    try:
        return event_loop.run(run(settings))
    except OSError as err:  # a listen address that cannot be bound, an unreadable kubeconfig
        print(f"fusionvc-edgedns: {err}", file=sys.stderr)
        return 1
    except event_loop.EventLoopError as err:
        print(f"fusionvc-edgedns: {err}", file=sys.stderr)
        return 2
    finally:
        shutdown_logging()


if __name__ == "__main__":
    sys.exit(main())
