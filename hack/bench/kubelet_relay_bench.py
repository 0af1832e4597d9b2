"""The kubelet endpoint's byte relay alone, without a sandbox: CPU per MiB, MiB/s.

Three processes on 127.0.0.1, TLS everywhere as in the sandbox:
client -> relay (syncer/kubelet/tunnel.py between a TLS server connection and a
TLS client connection) -> echo server, and the same client straight to the echo
server, alternated in one run. Prints throughput of each path, their ratio, and
the CPU seconds per MiB relayed of each process, so the relay's own cost can be
set against what an edge API server or kwok spend on the same bytes
(``kubelet_bench.py`` prints those for the real path).

Run: ``PYTHONPATH=.:hack .venv/bin/python hack/bench/kubelet_relay_bench.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import cpu_seconds
from sandbox_lib.pki import ClusterPKI

from syncer.__main__ import keep_large_blocks_returnable
from syncer.kubelet.tunnel import relay

CHUNK = 256 * 1024


def contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) TLS contexts of one throw-away CA, client certificates required."""
    pki = ClusterPKI(folder)
    pki.ensure_ca("relay-bench")
    serving, client = pki.issue("server", "server", server=True), pki.issue("client", "client")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca.cert))
    server_ctx.load_cert_chain(str(serving.cert), str(serving.key))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    client_ctx.load_cert_chain(str(client.cert), str(client.key))
    return server_ctx, client_ctx


def _echo_one(conn: ssl.SSLSocket) -> None:
    buf = bytearray(CHUNK)
    with conn:
        while n := conn.recv_into(buf):
            conn.sendall(memoryview(buf)[:n])


def echo_server(folder: Path, ready: mp.Queue[int]) -> None:
    """A blocking TLS echo server, one thread per connection."""
    server_ctx, _ = contexts(folder)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ready.put(listener.getsockname()[1])
        while True:
            raw, _ = listener.accept()
            conn = server_ctx.wrap_socket(raw, server_side=True)
            threading.Thread(target=_echo_one, args=(conn,), daemon=True).start()


class _Held(asyncio.Protocol):
    """Holds a fresh connection, reading paused, until the relay takes it."""

    def __init__(self) -> None:
        self.made: asyncio.Future[asyncio.Transport] = (
            asyncio.get_running_loop().create_future())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        self.made.set_result(transport)


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"relay failed: {task.exception()!r}", flush=True)


async def _relay_server(folder: Path, upstream: int, ready: mp.Queue[int]) -> None:
    server_ctx, client_ctx = contexts(folder)
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def join(tenant: _Held) -> None:
        _, edge = await loop.create_connection(_Held, "127.0.0.1", upstream, ssl=client_ctx)
        await relay(await tenant.made, b"", await edge.made, b"")

    def accepted() -> _Held:
        held = _Held()
        task = loop.create_task(join(held))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(_report)
        return held

    server = await loop.create_server(accepted, "127.0.0.1", 0, ssl=server_ctx)
    ready.put(server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


def relay_server(folder: Path, upstream: int, ready: mp.Queue[int]) -> None:
    keep_large_blocks_returnable()  # the syncer's allocator setting
    asyncio.run(_relay_server(folder, upstream, ready))


def echo_through(port: int, client_ctx: ssl.SSLContext, total: int, window: int) -> float:
    """MiB/s of ``total`` bytes sent and echoed back, at most ``window`` bytes in flight."""
    return asyncio.run(_echo_through(port, client_ctx, total, window))


async def _echo_through(port: int, client_ctx: ssl.SSLContext, total: int, window: int
                        ) -> float:
    # one TLS connection cannot be read and written by two threads: an asyncio client
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                                   limit=1 << 20)
    chunk, counts = os.urandom(CHUNK), {"sent": 0, "got": 0}
    moved = asyncio.Event()

    async def sender() -> None:
        while counts["sent"] < total:
            while counts["sent"] - counts["got"] >= window:
                moved.clear()
                await moved.wait()
            size = min(CHUNK, total - counts["sent"])
            writer.write(chunk[:size])
            counts["sent"] += size
            await writer.drain()

    start = time.perf_counter()
    sending = asyncio.create_task(sender())
    try:
        while counts["got"] < total:
            data = await asyncio.wait_for(reader.read(1 << 20), 120)
            if not data:
                raise SystemExit("the echo connection closed early")
            counts["got"] += len(data)
            moved.set()
        await sending
        return total / (time.perf_counter() - start) / (1 << 20)
    finally:
        sending.cancel()
        writer.close()


def pump(send: Callable[[bytes], object], recv: Callable[[int], bytes], total: int,
         window: int) -> float:
    """MiB/s of ``total`` bytes sent and received back; the sender stays ``window`` ahead."""
    chunk = os.urandom(CHUNK)
    counts = {"sent": 0, "got": 0}
    moved = threading.Condition()

    def room() -> bool:
        return counts["sent"] - counts["got"] < window

    def sender() -> None:
        while counts["sent"] < total:
            with moved:
                moved.wait_for(room, timeout=120)
            size = min(CHUNK, total - counts["sent"])
            send(chunk[:size])
            counts["sent"] += size

    start = time.perf_counter()
    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    while counts["got"] < total:
        data = recv(1 << 20)
        if not data:
            raise SystemExit("the echo connection closed early")
        with moved:
            counts["got"] += len(data)
            moved.notify()
    thread.join()
    return total / (time.perf_counter() - start) / (1 << 20)


def measure(port: int, client_ctx: ssl.SSLContext, mib: int, window: int,
            pids: dict[str, int]) -> tuple[float, dict[str, float]]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    rate = echo_through(port, client_ctx, mib << 20, window)
    return rate, {name: (cpu_seconds(pid) - before[name]) / mib for name, pid in pids.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="bytes each way per run")
    parser.add_argument("--window", type=int, default=1024, help="KiB in flight")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, client_ctx = contexts(folder)
        ready: mp.Queue[int] = mp.Queue()
        echo = mp.Process(target=echo_server, args=(folder, ready), daemon=True)
        echo.start()
        echo_port = ready.get(timeout=30)
        relay_proc = mp.Process(target=relay_server, args=(folder, echo_port, ready), daemon=True)
        relay_proc.start()
        relay_port = ready.get(timeout=30)
        assert echo.pid is not None and relay_proc.pid is not None
        pids = {"client": os.getpid(), "relay": relay_proc.pid, "echo": echo.pid}
        print(f"processes: {pids}", flush=True)  # e.g. to profile the relay
        try:
            run(args, client_ctx, {"relayed": relay_port, "direct": echo_port}, pids)
        finally:
            relay_proc.kill()
            echo.kill()


def run(args: argparse.Namespace, client_ctx: ssl.SSLContext, ports: dict[str, int],
        pids: dict[str, int]) -> None:
    window = args.window << 10
    for port in ports.values():
        echo_through(port, client_ctx, 4 << 20, window)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in ports}
    cpu: dict[str, list[dict[str, float]]] = {name: [] for name in ports}
    for _ in range(args.rounds):
        for name, port in ports.items():
            rate, spent = measure(port, client_ctx, args.mib, window, pids)
            rates[name].append(rate)
            cpu[name].append(spent)
    print(f"relay bench: {args.mib} MiB echoed per run, {args.window} KiB in flight, "
          f"{args.rounds} rounds alternated; load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    print(f"  {'path':10}{'MiB/s':>8}  CPU ms per MiB echoed: " + "  ".join(
        f"{p:>7}" for p in pids))
    for name in ports:
        per = {p: statistics.median(c[p] for c in cpu[name]) * 1000 for p in pids}
        print(f"  {name:10}{statistics.median(rates[name]):8.1f}  {'':22}" + "  ".join(
            f"{per[p]:7.2f}" for p in pids))
    ratio = statistics.median(rates["relayed"]) / statistics.median(rates["direct"])
    print(f"  ratio relayed/direct {ratio:.2f}")


if __name__ == "__main__":
    main()
