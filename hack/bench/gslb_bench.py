"""Benchmark of the GSLB DNS server: answers/s per core, latency at a fixed load, weight updates.

Usage: python hack/bench/gslb_bench.py [--seconds 5] [--rate 2000] [--sandbox-dir DIR]

1. Synthetic table (1,000 exported hostnames, 50 sites, 12 user networks with carriers):
   the real server (syncer.gslb.server + answer + select) runs in a child process pinned
   to one CPU; a load generator in this process sends A queries over UDP from 16 distinct
   127.10.x.y source addresses to 127.0.0.1.
   - saturation: as many queries in flight as the window allows; answers/s per core =
     answers / CPU seconds of the server process (the machine is shared);
   - fixed offered load (--rate queries/s, open loop, hack/bench/dns_load.py): p50/p99/max
     latency and lost queries, with the server and the generator under SCHED_FIFO when
     allowed (--no-realtime: on a loaded 2-core machine the run queue then sets the p99).
2. With --sandbox-dir (a running sandbox, e.g. .sandbox-test; the bench starts and stops
   its own syncer): seconds from a replica-count change of one site (kubectl scale) to the
   new weights being served by the sandbox's GSLB process, and from the edge pods being
   ready (as the tenant sees them) to served.
Goals (issue 14): >= 10,000 answers/s per core, p99 <= 2 ms, weights within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dns.message
from common import cpu_seconds, percentile
from dns_load import open_loop, realtime

from syncer.gslb.answer import Answerer, ServerIdentity
from syncer.gslb.metrics import GslbMetrics
from syncer.gslb.model import Table, compile_table
from syncer.gslb.select import Selector
from syncer.gslb.server import DNSServer

HOSTS, SITES, SOURCES = 1000, 50, 16
REGIONS = [f"region-{i}" for i in range(6)]
CARRIERS = ["telecom", "unicom"]


def synthetic_table() -> Table:
    rng = random.Random(14)
    edges = [{"metadata": {"name": f"site-{i}"},
              "spec": {"latencyMs": {r: rng.randint(3, 60) for r in REGIONS},
                       "entrance": [{"address": f"127.30.{i}.1", "carrier": "telecom"},
                                    {"address": f"127.30.{i}.2", "carrier": "unicom"}]}}
             for i in range(SITES)]
    records = [{"tenant": "t", "hostname": f"h{k}.bench.example.com", "ttl": 30, "answers": 1,
                "toleranceMs": 10, "createdAt": "2026-01-01",
                "sites": [{"cluster": f"site-{(k * 7 + j) % SITES}", "weight": rng.randint(1, 8)}
                          for j in range(10)]} for k in range(HOSTS)]
    regions = [{"spec": {"cidrs": [f"127.10.{i}.0/24"], "region": REGIONS[i % len(REGIONS)],
                         "carrier": CARRIERS[i % 2]}} for i in range(12)]
    tenants = [{"metadata": {"name": "t"}, "spec": {"dns": {"zones": ["bench.example.com"]}}}]
    return compile_table(records, edges, regions, tenants)


def serve(port_file: str) -> None:
    """Child process: the server on a free port, written to port_file, until killed."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    # Counted and timed as in production (syncer.gslb.metrics): the figures include that cost.
    answerer = Answerer(Selector(synthetic_table()), ServerIdentity(("ns1.bench.",)),
                        stats=GslbMetrics().answers)
    cold = warm_up(answerer)

    async def run() -> None:
        server = DNSServer(lambda: answerer, "127.0.0.1", 0)
        await server.start()
        _write(port_file, f"{server.port} {cold}")
        await asyncio.Event().wait()
    asyncio.run(run())


def warm_up(answerer: Answerer) -> float:
    """Answers every (hostname, client network) a few times in-process, as a server that has
    run for a while has; returns the CPU microseconds per answer of that cold pass."""
    wires = [dns.message.make_query(f"h{k}.bench.example.com", "A").to_wire()
             for k in range(HOSTS)]
    started, count = time.process_time(), 0
    for _ in range(3):
        for wire in wires:
            for i in range(SOURCES):
                answerer.respond(wire, source_address(i))
                count += 1
    return (time.process_time() - started) / count * 1e6


def source_address(i: int) -> str:
    return f"127.10.{i % 12}.{10 + i}"


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


class Load(asyncio.DatagramProtocol):
    def __init__(self, sent: dict[int, float], latencies: list[float]) -> None:
        self.sent, self.latencies = sent, latencies

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        started = self.sent.pop(int.from_bytes(data[:2], "big"), None)
        if started is not None:
            self.latencies.append(time.perf_counter() - started)


async def generate(port: int, seconds: float, rate: float | None, window: int
                   ) -> tuple[int, int, list[float]]:
    """(sent, answered, latencies): open loop at ``rate``, else closed loop of ``window``."""
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    transports = []
    for i in range(SOURCES):
        t, _ = await loop.create_datagram_endpoint(
            lambda: Load(sent, latencies), local_addr=(source_address(i), 0),
            remote_addr=("127.0.0.1", port))
        transports.append(t)
    wires = [bytearray(dns.message.make_query(f"h{k}.bench.example.com", "A").to_wire())
             for k in range(HOSTS)]
    count, qid = 0, 0
    end = time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        if rate is not None:
            due = int((seconds - (end - now)) * rate) - count
        else:
            due = window - len(sent)
        for _ in range(max(0, due)):
            qid = (qid + 1) & 0xFFFF
            wire = wires[count % HOSTS]
            wire[:2] = qid.to_bytes(2, "big")
            sent[qid] = time.perf_counter()
            transports[count % SOURCES].sendto(bytes(wire))
            count += 1
        await asyncio.sleep(0.0005 if rate is not None else 0)
    await asyncio.sleep(0.5)
    for t in transports:
        t.close()
    return count, len(latencies), latencies


def synthetic(args: argparse.Namespace) -> None:
    port_file = Path(f"/tmp/gslb-bench-{os.getpid()}.port")
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline + 120 or child.poll() is not None:
                raise SystemExit("bench server did not start")
            time.sleep(0.1)
        port_text, cold = port_file.read_text().split()
        port = int(port_text)
        print(f"cold pass in the server (every hostname x client address, 3 times, no I/O): "
              f"{float(cold):.0f} us CPU per answer")
        asyncio.run(generate(port, 1.0, None, 64))
        cpu0 = cpu_seconds(child.pid)
        sent, answered, _ = asyncio.run(generate(port, args.seconds, None, 64))
        cpu = cpu_seconds(child.pid) - cpu0
        print(f"synthetic table: {HOSTS} hostnames, {SITES} sites, {SOURCES} client addresses")
        print(f"saturation: {answered / args.seconds:,.0f} answers/s wall, server CPU "
              f"{cpu:.2f}s -> {answered / cpu:,.0f} answers/s per core "
              f"(sent {sent:,}, answered {answered:,})")
        wires = [dns.message.make_query(f"h{k}.bench.example.com", "A").to_wire()
                 for k in range(HOSTS)]
        with realtime(child.pid, args.realtime):
            ms, lost = open_loop("127.0.0.1", port, wires, args.rate, args.seconds,
                                 [source_address(i) for i in range(SOURCES)])
        ms.sort()
        print(f"offered {args.rate:,.0f} queries/s for {args.seconds:.0f}s"
              f"{' (SCHED_FIFO)' if args.realtime else ''}: answered {len(ms):,}, lost {lost}; "
              f"latency p50 {percentile(ms, 0.5):.3f} ms, p99 {percentile(ms, 0.99):.3f} ms, "
              f"max {max(ms, default=0):.3f} ms")
    finally:
        child.kill()
        child.wait()
        port_file.unlink(missing_ok=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rate", type=float, default=2000.0, help="fixed offered load, queries/s")
    p.add_argument("--sandbox-dir", default="", help="also measure weight updates there")
    p.add_argument("--no-realtime", dest="realtime", action="store_false",
                   help="latency run without SCHED_FIFO (includes the machine's run queue)")
    p.add_argument("--serve", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve)
        return
    synthetic(args)
    if args.sandbox_dir:
        from gslb_bench_sandbox import weight_update_seconds
        weight_update_seconds(args.sandbox_dir)


if __name__ == "__main__":
    socket.setdefaulttimeout(10)
    main()
