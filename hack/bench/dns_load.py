"""Fixed-rate UDP DNS load and real-time scheduling, shared by the DNS benchmarks.

- ``open_loop``: sends queries at a fixed rate (open loop: a slow server does not slow
  the sender) from one socket per source address and returns the latency of every
  answer and how many queries got none. Synchronous (select), so no event loop of the
  generator's own sits between a reply and its timestamp.
- ``realtime``: SCHED_FIFO for a server process (all threads) and this process while a
  light, fixed-rate run measures latency: on a loaded 2-core machine the run queue would
  otherwise set the p99, not the server.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def _receive(sock: socket.socket, sent_at: dict[int, float], latencies: list[float]) -> None:
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        sent = sent_at.pop(int.from_bytes(data[:2], "big"), None)
        if sent is not None:
            latencies.append((time.perf_counter() - sent) * 1000)


def open_loop(host: str, port: int, wires: Sequence[bytes], rate: float, seconds: float,
              sources: Sequence[str] = ("127.0.0.1",)) -> tuple[list[float], int]:
    """Latencies (ms) of answered queries sent at ``rate``/s, and how many got no answer."""
    socks = []
    for source in sources:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((source, 0))
        sock.setblocking(False)
        socks.append(sock)
    rng = random.Random(2)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []

    def drain(timeout: float) -> None:
        for ready in select.select(socks, [], [], timeout)[0]:
            _receive(ready, sent_at, latencies)

    start = time.perf_counter()
    for k in range(int(rate * seconds)):
        due = start + k / rate
        while (wait := due - time.perf_counter()) > 0:
            drain(wait)
        drain(0)
        qid = k & 0xFFFF
        socks[k % len(socks)].sendto(qid.to_bytes(2, "big") + rng.choice(wires)[2:],
                                     (host, port))
        sent_at[qid] = time.perf_counter()
    drain_end = time.perf_counter() + 1.0
    while sent_at and time.perf_counter() < drain_end:
        drain(0.05)
    for sock in socks:
        sock.close()
    return latencies, len(sent_at)


@contextmanager
def realtime(pid: int, enabled: bool) -> Iterator[None]:
    """SCHED_FIFO for ``pid`` (all its threads) and this process, restored afterwards."""
    if not enabled:
        yield
        return
    fifo = subprocess.run(["chrt", "-a", "-f", "-p", "10", str(pid)], capture_output=True,
                          check=False).returncode == 0
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except PermissionError:
        fifo = False
    if not fifo:
        print("cannot use SCHED_FIFO (not root?): latency includes CPU contention")
    try:
        yield
    finally:
        subprocess.run(["chrt", "-a", "-o", "-p", "0", str(pid)], capture_output=True,
                       check=False)
        with contextlib.suppress(PermissionError):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
