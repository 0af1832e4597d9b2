"""How the edge Job commands (download, remove) say what happened: one line to stderr and, when
given, to the termination log a kubelet reads (/dev/termination-log), so the Job's failure
carries the reason."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


def say(message: str, log: Path | None) -> None:
    print(message, file=sys.stderr, flush=True)
    if log is not None:
        with contextlib.suppress(OSError):
            log.write_text(message)
