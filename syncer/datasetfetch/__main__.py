"""Command line of the dataset downloader (see the package docstring).

Exit status: 0 the file is there and verified; 3 checksum mismatch; 4 transfer
failed; 2 bad arguments. The last line of stderr and, when given,
``--termination-log`` (a kubelet reads /dev/termination-log) say why.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from syncer.datasetfetch.fetch import (
    EXIT_CHECKSUM,
    EXIT_TRANSFER,
    ChecksumMismatch,
    FetchError,
    fetch,
)
from syncer.datasetfetch.report import say

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m syncer.datasetfetch",
                                description="Download one dataset file, verified and resumable.")
    p.add_argument("--url", required=True, help="http(s) URL of the file")
    p.add_argument("--sha256", required=True, help="expected SHA-256 (hex)")
    p.add_argument("--dest", required=True, type=Path, help="folder the file goes into")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--read-timeout", type=float, default=60.0)
    p.add_argument("--backoff", type=float, default=1.0, help="first retry delay, seconds")
    p.add_argument("--termination-log", type=Path, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.url.startswith(("http://", "https://")) or not SHA256.match(args.sha256):
        say("InvalidArguments: --url must be http(s) and --sha256 64 hex digits",
             args.termination_log)
        return 2
    try:
        result = asyncio.run(fetch(args.url, args.sha256, args.dest, retries=args.retries,
                                   read_timeout=args.read_timeout, backoff=args.backoff))
    except ChecksumMismatch as err:
        say(f"ChecksumMismatch: {err}", args.termination_log)
        return EXIT_CHECKSUM
    except FetchError as err:
        say(f"TransferFailed: {err}", args.termination_log)
        return EXIT_TRANSFER
    how = "already there" if result.already_there else (
        f"resumed at {result.resumed_from} bytes" if result.resumed_from else "downloaded")
    say(f"Ready: {result.path.name} ({result.size} bytes, {how})", args.termination_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
