"""MetricsDelivery throughput and memory: remote write from the syncer's code to a real Prometheus.

Prints, for N tenant pods (11 series each: phase, restarts, usage, one own metric):
- samples/s per core of this process' CPU for collect, encode + Snappy, and the whole
  push to a real Prometheus (Debian package, remote-write receiver, on 127.0.0.1),
  side by side with the Prometheus server's CPU per sample for the same samples;
- bytes per sample on the wire (Snappy) and before compression;
- memory of the delivery buffer filled to its bound (tracemalloc), per sample and in all.
Goal (issue 12): >= 50,000 samples/s per core, buffer memory bounded by its setting.

  PYTHONPATH=.:hack .venv/bin/python hack/bench/remote_write_bench.py --pods 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import aiohttp
from bench.common import cpu_seconds

from syncer.metricsapi.translate import ContainerUsage, PodUsage
from syncer.metricsdelivery.buffer import Entry
from syncer.metricsdelivery.collect import namespace_series
from syncer.metricsdelivery.remote_write import LabelCache, encode_write_request
from syncer.metricsdelivery.snappy import compress
from syncer.metricsdelivery.spec import DeliverySpec
from syncer.metricsdelivery.worker import DeliveryState, DeliveryWorker
from syncer.podmetrics.promtext import Sample
from syncer.podmetrics.source import PodSamples
from tests.integration.prometheus_fixture import PASSWORD, USER, PrometheusServer


def pods(count: int) -> list[dict[str, object]]:
    return [{"metadata": {"namespace": "inference", "name": f"infer-7d9f8c6b5-{i:05d}"},
             "status": {"phase": "Running",
                        "containerStatuses": [{"name": "main", "restartCount": i % 3}]}}
            for i in range(count)]


def collect(tenant_pods: list[dict[str, object]]) -> list[Entry]:
    usage = PodUsage("t", "15s", (ContainerUsage("main", 123_456_789, 200 * 2**20),))
    own = PodSamples(0, (Sample("http_requests_per_second", (), 42.0),))
    return namespace_series(tenant_pods, lambda _p: usage, lambda _p: own,
                            int(time.time() * 1000), lambda _n: True)


def per_core(samples: int, cpu: float) -> str:
    return f"{samples / cpu:,.0f}" if cpu > 0 else "n/a"


def measure_encoding(tenant_pods: list[dict[str, object]], rounds: int, batch: int) -> None:
    cache = LabelCache()
    t0 = time.process_time()
    rounds_entries = [collect(tenant_pods) for _ in range(rounds)]
    t_collect = time.process_time() - t0
    samples = sum(len(r) for r in rounds_entries)
    raw_bytes = wire_bytes = 0
    t0 = time.process_time()
    for entries in rounds_entries:
        for i in range(0, len(entries), batch):
            raw = encode_write_request(entries[i:i + batch], cache)
            raw_bytes += len(raw)
            wire_bytes += len(compress(raw))
    t_encode = time.process_time() - t0
    print(f"samples: {samples:,} ({len(tenant_pods)} pods x {rounds} rounds), batch {batch}")
    print(f"collect:          {per_core(samples, t_collect)} samples/s per core")
    print(f"encode + snappy:  {per_core(samples, t_encode)} samples/s per core")
    print(f"bytes per sample: {wire_bytes / samples:.1f} on the wire (snappy), "
          f"{raw_bytes / samples:.1f} before (ratio {raw_bytes / wire_bytes:.1f}x)")


async def measure_push(tenant_pods: list[dict[str, object]], rounds: int, batch: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rw-bench-"))
    server = PrometheusServer(folder).start()
    try:
        assert server.proc is not None
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        async def report(_s: DeliveryState) -> None:
            return None

        async with aiohttp.ClientSession() as session:
            worker = DeliveryWorker(DeliverySpec(server.write_url, max_samples_per_send=batch,
                                                 buffer_samples=10**7),
                                    {"Authorization": f"Basic {auth}"},
                                    lambda: collect(tenant_pods), report, session, timeout=60)
            loop = asyncio.get_running_loop()
            await asyncio.sleep(2)
            prom0, mine0 = cpu_seconds(server.proc.pid), time.process_time()
            for r in range(rounds):
                worker.buffer.add(collect(tenant_pods))
                await worker.flush(loop.time() + 600)
                await asyncio.sleep(0.01 if r < rounds - 1 else 0)
            prom, mine = cpu_seconds(server.proc.pid) - prom0, time.process_time() - mine0
        sent = worker.state.sent
        ok = len(server.query('count({__name__="http_requests_per_second"})')) == 1
        print(f"push to Prometheus: {sent:,} samples sent (ready={worker.state.ready}, "
              f"queryable={ok}); syncer side {per_core(sent, mine)} samples/s per core "
              f"(collect+encode+snappy+HTTP), Prometheus receiver {per_core(sent, prom)} "
              f"samples/s per core; CPU ratio syncer/receiver {mine / prom:.2f}")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def measure_buffer(tenant_pods: list[dict[str, object]], bound: int) -> None:
    async def report(_s: DeliveryState) -> None:
        return None

    worker = DeliveryWorker(DeliverySpec("http://127.0.0.1:9/", buffer_samples=bound), {},
                            lambda: collect(tenant_pods), report, None)  # type: ignore[arg-type]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    rounds = 0
    while worker.buffer.dropped == 0 or rounds < 3:
        worker.buffer.add(worker._interned(collect(tenant_pods)))
        rounds += 1
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"buffer at its bound ({bound:,} samples, {worker.buffer.dropped:,} dropped over "
          f"{rounds} rounds): {used / 2**20:.1f} MiB, {used / bound:.0f} bytes per sample "
          "(series labels shared, counted once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--buffer", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    tenant_pods = pods(args.pods)
    measure_encoding(tenant_pods, args.rounds, args.batch)
    if shutil.which("prometheus"):
        asyncio.run(measure_push(tenant_pods, args.rounds, args.batch))
    else:
        print("push to Prometheus: skipped (make prometheus)")
    measure_buffer(tenant_pods, args.buffer)


if __name__ == "__main__":
    main()
