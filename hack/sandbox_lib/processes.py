"""Starting, recording and stopping the sandbox's processes.

Every process is recorded with its PID and executable in state.json, and
``down`` stops exactly those: a PID is only signalled while /proc still shows
the same executable, so a recycled PID is never hit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path


class SandboxError(RuntimeError):
    """Something did not come up; the message says which process and why."""


@dataclass
class ProcessRecord:
    name: str
    pid: int
    exe: str
    log: str
    argv: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        try:
            target = os.readlink(f"/proc/{self.pid}/exe")
        except OSError:
            return False
        state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[-1].split()
        return state[0] != "Z" and os.path.realpath(target) == os.path.realpath(self.exe)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = Path(self.log).read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        interesting = [
            ln for ln in text if any(w in ln.lower() for w in ("error", "fatal", "e0", "f0"))
        ]
        picked = (interesting or text)[-lines:]
        return "\n".join("    " + ln[:300] for ln in picked)


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; held together so they differ from each other."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start(
    name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None
) -> ProcessRecord:
    log = log_dir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return ProcessRecord(
        name=name, pid=proc.pid, exe=os.path.realpath(argv[0]), log=str(log), argv=list(argv)
    )


def stop_all(records: Iterable[ProcessRecord], timeout: float = 15.0) -> list[str]:
    """SIGTERM, wait, then SIGKILL; returns the names that were running."""
    running = [r for r in records if r.alive()]
    for rec in running:
        _signal(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(r.alive() for r in running):
        time.sleep(0.1)
    for rec in running:
        if rec.alive():
            _signal(rec.pid, signal.SIGKILL)
    return [r.name for r in running]


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def save_records(path: Path, records: list[ProcessRecord]) -> None:
    path.write_text(json.dumps([asdict(r) for r in records], indent=1))


def load_records(path: Path) -> list[ProcessRecord]:
    if not path.exists():
        return []
    return [ProcessRecord(**r) for r in json.loads(path.read_text())]
