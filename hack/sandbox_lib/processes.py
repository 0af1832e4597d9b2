"""Starting, recording and stopping the sandbox's processes.

Every process is recorded with its PID and executable in state.json, and
``down`` stops exactly those: a PID is only signalled while /proc still shows
the same executable, so a recycled PID is never hit.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
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


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LISTEN_PORTS_LOW = 10000  # the sandbox's listeners use ports from here up to the ephemeral range


def listen_port_range() -> range:
    """Ports for listeners that start later than they are chosen: below the kernel's range
    for outgoing connections (32768-60999 by default), or above it. A port taken with
    bind(0) came from that range, and by the time kwok or metrics-server bound it, one of
    the sandbox's thousand loopback connections could hold it as its own end: kwok then
    served nothing and every metric of that edge was missing (CI, stop 24)."""
    try:
        low, high = (int(v) for v in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - LISTEN_PORTS_LOW >= 2000:
        return range(LISTEN_PORTS_LOW, low)
    if 65535 - high >= 2000:
        return range(high + 1, 65536)
    raise SandboxError(f"no port range for listeners outside the ephemeral range {low}-{high}")


def free_ports(count: int, kinds: Iterable[int] = (socket.SOCK_STREAM,),
               hosts: Iterable[str] = ("127.0.0.1",)) -> list[int]:
    """``count`` different ports, free now for every socket kind on every host, from
    listen_port_range() (random, so that sandboxes started together rarely meet)."""
    hosts, kinds, ports_range = list(hosts), list(kinds), listen_port_range()
    candidates = random.sample(ports_range, min(count * 50, 2000))
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for port in candidates:
            socks = _bind_all(port, kinds, hosts)
            if socks is None:
                continue
            held.extend(socks)
            ports.append(port)
            if len(ports) == count:
                return ports
    finally:
        for s in held:
            s.close()
    raise SandboxError(f"fewer than {count} free ports in {ports_range}")


def free_port() -> int:
    """One port for a listener started later (see listen_port_range)."""
    return free_ports(1)[0]


def _bind_all(port: int, kinds: list[int], hosts: list[str]) -> list[socket.socket] | None:
    socks: list[socket.socket] = []
    try:
        for host in hosts:
            for kind in kinds:
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind((host, port))
        return socks
    except OSError:
        for s in socks:
            s.close()
        return None


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
