"""Waiting for processes to come up, failing with the log line that says why."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from .pki import CertPair
from .processes import ProcessRecord, SandboxError


def https_ok(url: str, ca: str, client: CertPair) -> bool:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(str(client.cert), str(client.key))
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=3) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_all(
    checks: dict[str, tuple[ProcessRecord | None, Callable[[], bool]]], timeout: float, what: str
) -> None:
    """Polls every check until all pass; a dead process or the deadline raises SandboxError."""
    pending = dict(checks)
    deadline = time.monotonic() + timeout
    while pending:
        for name, (proc, check) in list(pending.items()):
            if proc is not None and not proc.alive():
                raise SandboxError(
                    f"{proc.name} exited while starting; last log lines "
                    f"({proc.log}):\n{proc.log_tail()}"
                )
            if check():
                del pending[name]
        if not pending:
            return
        if time.monotonic() > deadline:
            name, (proc, _) = next(iter(pending.items()))
            tail = f"; last log lines ({proc.log}):\n{proc.log_tail()}" if proc else ""
            raise SandboxError(f"{what} not ready after {timeout:.0f}s: {', '.join(pending)}{tail}")
        time.sleep(0.3)
