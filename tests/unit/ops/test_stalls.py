"""Stall watchdog and garbage collection timing (syncer/ops/stalls.py)."""

from __future__ import annotations

import asyncio
import gc
import time

from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from syncer.ops.stalls import GC_THRESHOLDS, GcPauses, StallWatch, tune_gc


def blocking_step(seconds: float) -> None:
    time.sleep(seconds)  # what a long synchronous step does to the loop


def busy_step(cpu_seconds: float) -> None:
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:  # a long synchronous step that computes
        pass


async def test_a_stalled_loop_is_reported_with_the_step_that_holds_it() -> None:
    watch = StallWatch(stall_s=0.3, beat_s=0.05)
    watch.start()
    try:
        await asyncio.sleep(0.2)
        assert watch.stalls == 0
        seen: list[str] = []
        original = watch.loop_stack
        watch.loop_stack = lambda: seen.append(original()) or seen[-1]  # type: ignore[method-assign]
        blocking_step(0.8)
        await asyncio.sleep(0.2)
    finally:
        await watch.stop()
    assert watch.stalls == 1
    assert watch.longest_s >= 0.3
    assert "blocking_step" in seen[0]


async def test_a_busy_but_responsive_loop_is_no_stall() -> None:
    watch = StallWatch(stall_s=0.3, beat_s=0.05)
    watch.start()
    try:
        for _ in range(20):
            blocking_step(0.02)
            await asyncio.sleep(0)
    finally:
        await watch.stop()
    assert watch.stalls == 0


def test_collections_are_timed_and_exported() -> None:
    pauses = GcPauses()
    registry = CollectorRegistry()
    registry.register(pauses)
    pauses.install()
    try:
        gc.collect()
    finally:
        pauses.uninstall()
    assert pauses.count[2] >= 1
    assert pauses.seconds[2] > 0
    text = generate_latest(registry).decode()
    assert 'fusionvc_gc_seconds_total{generation="2"}' in text
    assert 'fusionvc_gc_longest_pause_seconds{generation="2"}' in text


def test_tune_gc_sets_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_a_stall_says_how_much_of_it_the_loop_spent_computing() -> None:
    watch = StallWatch(stall_s=0.3, beat_s=0.05)
    watch.start()
    try:
        with capture_logs() as logs:
            await asyncio.sleep(0.1)
            busy_step(0.5)  # our own long step: the loop thread computed all along
            await asyncio.sleep(0.3)
            blocking_step(0.7)  # like a process waiting for a CPU: no loop CPU
            await asyncio.sleep(0.3)
    finally:
        await watch.stop()
    assert len([e for e in logs if e["event"] == "event loop stalled"]) == 2
    ended = [e for e in logs if e["event"] == "event loop stall ended"]
    assert len(ended) == 2
    assert ended[0]["loop_cpu_s"] >= 0.45
    assert ended[1]["loop_cpu_s"] < 0.1
    assert ended[1]["stalled_s"] >= 0.7
