"""Controller.process: results, retries with backoff, and the drift-scan difference count."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from syncer.core.context import SyncContext
from syncer.core.controller import Controller
from syncer.core.keys import WorkKey
from syncer.core.queue import FairQueue
from syncer.core.recorder import EventRecorder
from syncer.kube.client import WRITES, KubeError
from syncer.ops.metrics import Metrics
from syncer.placement import Placer

KEY = WorkKey("", "Thing", "", "one")


def _controller() -> tuple[Controller, Metrics]:
    ctx = SyncContext(tenants={}, edges={}, queue=FairQueue(), recorder=EventRecorder(),
                      placer=Placer())
    metrics = Metrics(CollectorRegistry())
    return Controller(ctx, metrics, (), workers=1), metrics


def _count(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "fusionvc_sync_operations_total",
        {"tenant": "-", "resource": "Thing", "direction": "down", "result": result})
    return value or 0.0


async def test_a_conflict_is_retried_with_backoff_then_succeeds() -> None:
    controller, metrics = _controller()
    calls: list[int] = []

    async def reconcile(key: WorkKey) -> float | None:
        calls.append(1)
        if len(calls) == 1:
            raise KubeError(409, "Conflict", "the object has been modified")
        return None
    controller.add_reconciler("Thing", reconcile)
    await controller.process(KEY)
    assert controller.ctx.queue.failures(KEY) == 1
    assert controller.ctx.queue.pending() == 1  # re-added after its backoff, not dropped
    await controller.process(KEY)
    assert len(calls) == 2
    assert controller.ctx.queue.failures(KEY) == 0  # forgotten after the success
    assert _count(metrics, "conflict") == 1 and _count(metrics, "success") == 1
    controller.ctx.queue.shutdown()


async def test_requeue_after_and_crash_are_both_retried() -> None:
    controller, metrics = _controller()

    async def crash(key: WorkKey) -> float | None:
        raise RuntimeError("bug")
    controller.add_reconciler("Thing", crash)
    await controller.process(KEY)
    assert _count(metrics, "error") == 1 and controller.ctx.queue.failures(KEY) == 1
    controller.ctx.queue.shutdown()


async def test_scan_queued_key_that_writes_counts_as_a_difference() -> None:
    controller, metrics = _controller()

    async def repair(key: WorkKey) -> float | None:
        writes = WRITES.get()
        assert writes is not None
        writes[0] += 1  # what KubeClient does for every non-GET call
        return None
    controller.add_reconciler("Thing", repair)
    controller._scanned.add(KEY)
    await controller.process(KEY)
    await controller.process(KEY)  # not from the scan this time
    value = metrics.registry.get_sample_value(
        "fusionvc_drift_findings_total", {"tenant": "", "finding": "difference_requeued"})
    assert value == 1
    controller.ctx.queue.shutdown()


async def test_workers_hand_the_event_loop_back_between_keys() -> None:
    """Reconciles that write nothing never suspend; the workers still let other tasks (the
    leader Lease renewal, the informers) run while they drain a restart's keys."""
    controller, _ = _controller()
    controller.workers = 4
    done: list[WorkKey] = []

    async def nothing_to_do(key: WorkKey) -> float | None:
        done.append(key)
        return None
    controller.add_reconciler("Thing", nothing_to_do)
    for i in range(2_000):
        controller.ctx.queue.add(WorkKey("", "Thing", "", f"k{i}"))
    seen_at: list[int] = []

    async def other_task() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
            seen_at.append(len(done))
    controller.start(scan_interval=3600)
    await other_task()
    await controller.stop(grace=1.0)
    assert seen_at[0] < 100 and seen_at == sorted(seen_at)  # it ran during the drain
