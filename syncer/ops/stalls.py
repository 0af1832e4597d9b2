"""Why the event loop stalls: a watchdog thread and the garbage collector's pauses.

A leader whose loop stalls for seconds misses Lease renewals and exits, so a stall
must say where it came from:

- ``StallWatch`` is a daemon thread (not a task: a stuck loop could not run it).
  The loop stamps a heartbeat every ``beat_s``; when the stamp is older than
  ``stall_s`` the thread logs the loop thread's Python stack once per stall, and
  logs the stall's length when it ends.
- ``GcPauses`` times every collection with ``gc.callbacks``: total seconds and the
  longest pause per generation (``fusionvc_gc_seconds_total``,
  ``fusionvc_gc_longest_pause_seconds``); a pause over ``stall_s`` is logged.
- ``tune_gc`` sets the collector's thresholds for a process that keeps hundreds of
  thousands of long-lived cached objects (see its docstring).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

# gen0 allocations between young collections; each young collection walks only the young
# objects, but a survivor count of gen1 * gen2 young collections triggers a full one.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Fewer collections for a cache-heavy process.

    The default (700, 10, 10) runs a young collection every 700 net allocations; parsing
    one pod event allocates hundreds of objects, so a busy syncer collects thousands of
    times a second and every survivor is walked again on its way to the old generation.
    Python 3.11's full collections also walk every cached object (a 10,000-pod syncer
    holds millions). Larger thresholds make both rarer; objects alive at start-up are
    frozen out of every later collection.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class GcPauses(Collector):
    """Times every garbage collection; exported as metrics, long pauses logged."""

    def __init__(self, stall_s: float = 1.0) -> None:
        self.stall_s = stall_s
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._started = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took, gen = time.perf_counter() - self._started, int(info.get("generation", 2))
        self.seconds[gen] += took
        self.count[gen] += 1
        self.longest[gen] = max(self.longest[gen], took)
        if took > self.stall_s:
            log.warning("long garbage collection", generation=gen, seconds=round(took, 3),
                        collected=info.get("collected"))

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        total = CounterMetricFamily("fusionvc_gc_seconds", "Time spent in garbage "
                                    "collections, by generation.", labels=("generation",))
        longest = GaugeMetricFamily("fusionvc_gc_longest_pause_seconds", "Longest garbage "
                                    "collection so far, by generation.", labels=("generation",))
        for gen in range(3):
            total.add_metric((str(gen),), self.seconds[gen])
            longest.add_metric((str(gen),), self.longest[gen])
        yield total
        yield longest


class StallWatch:
    """Logs the loop thread's stack when the event loop has not run for ``stall_s``."""

    def __init__(self, stall_s: float = 1.0, beat_s: float = 0.1) -> None:
        self.stall_s, self.beat_s = stall_s, beat_s
        self.stalls = 0
        self.longest_s = 0.0
        self._stamp = time.monotonic()
        self._stamp_cpu = 0.0  # the loop thread's CPU time at that stamp
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Call from the event loop's thread."""
        self._loop_thread = threading.get_ident()
        self._stamp = time.monotonic()
        self._beat = asyncio.create_task(self._beats(), name="stall-watch-beat")
        self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    async def _beats(self) -> None:
        while True:
            self._stamp_cpu, self._stamp = time.thread_time(), time.monotonic()
            await asyncio.sleep(self.beat_s)

    def _watch(self) -> None:
        stalled: tuple[float, float] | None = None  # (stamp, loop CPU) the stall began at
        while not self._stop.wait(self.stall_s / 4):
            stamp, cpu = self._stamp, self._stamp_cpu
            if stalled is not None and stamp != stalled[0]:
                # The loop ran again: how long it stood, and how much of that it computed.
                self.longest_s = max(self.longest_s, stamp - stalled[0])
                log.warning("event loop stall ended", stalled_s=round(stamp - stalled[0], 2),
                            loop_cpu_s=round(cpu - stalled[1], 2))
                stalled = None
            late = time.monotonic() - stamp
            if late <= self.stall_s or stalled is not None:
                continue
            stalled = (stamp, cpu)
            self.stalls += 1
            log.warning("event loop stalled", stalled_s=round(late, 2),
                        loop_cpu_s=round(self._loop_cpu_s() - cpu, 2), stack=self.loop_stack())

    def _loop_cpu_s(self) -> float:
        """CPU time of the loop thread so far: a stall with little of it was the machine's
        doing (the process waited for a CPU), one with as much was a long step of ours."""
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self._loop_thread))
        except (OSError, AttributeError):
            return 0.0

    def loop_stack(self) -> str:
        """The loop thread's Python stack now, innermost frame last."""
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return ""
        return "".join(traceback.format_stack(frame)[-25:])
