"""FairQueue (syncer/core/queue.py) and the TokenBucket (syncer/kube/limiter.py)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from syncer.core.keys import WorkKey
from syncer.core.queue import (
    DEADLINE,
    STARTED,
    FairQueue,
    QueueObserver,
    QueueShutDown,
)
from syncer.daemon import queue_observer
from syncer.kube.limiter import TokenBucket
from syncer.ops.metrics import Metrics

FAST = 1e6  # qps and burst: no rate limiting unless a test wants it


def key(tenant: str, name: str) -> WorkKey:
    return WorkKey(tenant, "Pod", "default", name)


async def get_now(queue: FairQueue, timeout: float = 0.2) -> WorkKey:
    return await asyncio.wait_for(queue.get(), timeout)


async def assert_blocks(queue: FairQueue, timeout: float = 0.05) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout)


async def test_queued_key_is_deduplicated() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    k = key("a", "p")
    q.add(k)
    q.add(k)
    assert len(q) == 1
    assert await get_now(q) == k
    await assert_blocks(q)
    q.shutdown()


async def test_key_added_while_processing_is_requeued_once_after_done() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    k = key("a", "p")
    q.add(k)
    assert await get_now(q) == k
    q.add(k)
    q.add(k)
    assert len(q) == 0  # not handed to a second worker while processing
    await assert_blocks(q)
    q.done(k)
    assert len(q) == 1
    assert await get_now(q) == k
    q.done(k)
    await assert_blocks(q)
    assert q.pending() == 0
    q.shutdown()


async def test_done_without_readd_does_not_requeue() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    k = key("a", "p")
    q.add(k)
    await get_now(q)
    q.done(k)
    assert len(q) == 0
    assert q.pending() == 0
    q.shutdown()


async def test_add_after_delays_the_key() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    k = key("a", "p")
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after(k, 0.05)
    assert len(q) == 0
    assert q.pending() == 1
    assert await get_now(q, 1.0) == k
    assert loop.time() - start >= 0.045
    q.shutdown()


@pytest.mark.parametrize("delay", [0, -1.0])
async def test_add_after_non_positive_delay_adds_now(delay: float) -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    q.add_after(key("a", "p"), delay)
    assert len(q) == 1
    q.shutdown()


@pytest.mark.parametrize("delays", [(0.5, 0.05), (0.05, 0.5)], ids=["later-first", "earlier-first"])
async def test_add_after_keeps_the_earliest(delays: tuple[float, float]) -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    k = key("a", "p")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for d in delays:
        q.add_after(k, d)
    assert q.pending() == 1  # one timer for the key
    assert await get_now(q, 0.4) == k
    assert loop.time() - start < 0.4
    q.done(k)
    await assert_blocks(q, 0.1)  # the later timer was not kept as a second add
    q.shutdown()


async def test_add_rate_limited_backoff_is_exponential_and_capped() -> None:
    q = FairQueue(base_delay=0.01, max_delay=0.05, qps=FAST, burst=FAST)
    k = key("a", "p")
    delays = [q.add_rate_limited(k) for _ in range(6)]
    assert delays == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05, 0.05])
    assert q.failures(k) == 6
    q.forget(k)
    assert q.failures(k) == 0
    assert q.add_rate_limited(k) == pytest.approx(0.01)
    q.shutdown()


async def test_backoff_is_per_key() -> None:
    q = FairQueue(base_delay=0.01, max_delay=1.0, qps=FAST, burst=FAST)
    a, b = key("a", "p"), key("a", "q")
    assert [q.add_rate_limited(a) for _ in range(3)] == pytest.approx([0.01, 0.02, 0.04])
    assert q.add_rate_limited(b) == pytest.approx(0.01)
    q.shutdown()


async def test_rate_limited_key_comes_back() -> None:
    retried: list[str] = []
    q = FairQueue(base_delay=0.02, observer=QueueObserver(retried=retried.append),
                  qps=FAST, burst=FAST)
    k = key("a", "p")
    q.add_rate_limited(k)
    assert retried == ["a"]
    assert await get_now(q, 1.0) == k
    q.shutdown()


async def test_small_tenant_is_not_starved() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    for i in range(100):
        q.add(key("big", f"p{i}"))
    q.add(key("small", "only"))
    first_two = [await get_now(q), await get_now(q)]
    assert key("small", "only") in first_two
    q.shutdown()


async def test_round_robin_across_three_tenants() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    for k in [key("a", "1"), key("a", "2"), key("a", "3"), key("b", "1"), key("b", "2"),
              key("c", "1")]:
        q.add(k)
    got = [await get_now(q) for _ in range(6)]
    assert [(k.tenant, k.name) for k in got] == [
        ("a", "1"), ("b", "1"), ("c", "1"), ("a", "2"), ("b", "2"), ("a", "3")]
    assert q.depth("a") == q.depth("b") == q.depth("c") == 0
    q.shutdown()


async def test_tenant_rejoins_ring_after_emptying() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    q.add(key("a", "1"))
    q.add(key("b", "1"))
    assert (await get_now(q)).tenant == "a"
    q.add(key("a", "2"))
    assert [(await get_now(q)).tenant for _ in range(2)] == ["b", "a"]
    q.shutdown()


async def test_bounded_queue_drops_and_reports() -> None:
    dropped: list[str] = []
    added: list[str] = []
    q = FairQueue(max_items=3, observer=QueueObserver(added=added.append,
                                                      dropped=dropped.append), qps=FAST, burst=FAST)
    for i in range(3):
        q.add(key("a", f"p{i}"))
    q.add(key("b", "x"))
    q.add(key("a", "p3"))
    assert len(q) == 3
    assert dropped == ["b", "a"]
    assert added == ["a", "a", "a"]
    assert q.depth("b") == 0
    q.add(key("a", "p0"))  # already queued: a dedup, not a drop
    assert dropped == ["b", "a"]
    q.shutdown()


async def test_shutdown_wakes_waiting_getters() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    waiters = [asyncio.create_task(q.get()) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    q.shutdown()
    for w in waiters:
        with pytest.raises(QueueShutDown):
            await asyncio.wait_for(w, 0.5)


async def test_after_shutdown_get_raises_and_adds_are_ignored() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    q.add(key("a", "1"))
    q.add_after(key("a", "2"), 0.01)
    q.shutdown()
    assert q.pending() == 1  # the timer is cancelled
    with pytest.raises(QueueShutDown):
        await get_now(q)
    q.add(key("a", "3"))
    q.add_after(key("a", "4"), 0.01)
    assert len(q) == 1
    await asyncio.sleep(0.03)
    assert len(q) == 1


async def test_get_is_throttled_by_the_token_bucket() -> None:
    q = FairQueue(qps=20.0, burst=1.0)
    q.add(key("a", "1"))
    q.add(key("a", "2"))
    loop = asyncio.get_running_loop()
    start = loop.time()
    await get_now(q, 1.0)
    assert loop.time() - start < 0.04
    await get_now(q, 1.0)
    assert loop.time() - start >= 0.045
    q.shutdown()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("rate", "burst", "steps"),
    [
        # (advance clock by, expected wait) per take
        (10.0, 2.0, [(0, 0.0), (0, 0.0), (0, 0.1), (0, 0.2)]),
        (10.0, 2.0, [(0, 0.0), (0, 0.0), (0.1, 0.0), (0, 0.1)]),
        (10.0, 2.0, [(0, 0.0), (0, 0.0), (0, 0.1), (0.1, 0.1)]),
        (10.0, 2.0, [(0, 0.0), (0, 0.0), (60, 0.0), (0, 0.0), (0, 0.1)]),  # refill capped at burst
        (1.0, 1.0, [(0, 0.0), (0, 1.0), (0.5, 1.5)]),
    ],
)
def test_token_bucket_waits(rate: float, burst: float, steps: list[tuple[float, float]]) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock=clock)
    for advance, expected in steps:
        clock.now += advance
        assert bucket.take() == pytest.approx(expected)


async def test_urgent_keys_of_a_tenant_are_served_before_its_earlier_keys() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    for name in ("create-1", "create-2"):
        q.add(key("a", name))
    q.add(key("a", "status-1"), STARTED)
    assert [await get_now(q) for _ in range(3)] == [
        key("a", "status-1"), key("a", "create-1"), key("a", "create-2")]
    assert q.depth("a") == 0
    q.shutdown()


async def test_a_queued_key_added_as_urgent_moves_ahead_once() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    for name in ("p1", "p2", "p3"):
        q.add(key("a", name))
    q.add(key("a", "p3"), STARTED)
    assert len(q) == 3 and q.depth("a") == 3
    got = [await get_now(q) for _ in range(3)]
    assert got == [key("a", "p3"), key("a", "p1"), key("a", "p2")]
    await assert_blocks(q)  # its old place in the normal lane is not served again
    q.shutdown()


async def test_urgent_lane_keeps_tenants_in_turn() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    q.add(key("a", "a1"))
    q.add(key("a", "a2"), STARTED)
    q.add(key("b", "b1"))
    assert [await get_now(q) for _ in range(3)] == [key("a", "a2"), key("b", "b1"),
                                                    key("a", "a1")]
    q.shutdown()


async def test_urgent_add_while_processing_requeues_as_urgent() -> None:
    q, k = FairQueue(qps=FAST, burst=FAST), key("a", "p")
    q.add(k)
    assert await get_now(q) == k  # now being processed
    q.add(key("a", "other"))
    q.add(k, STARTED)
    q.done(k)
    assert await get_now(q) == k  # ahead of "other", queued before it
    q.shutdown()


async def test_an_urgent_delayed_add_is_served_before_keys_queued_meanwhile() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    q.add_after(key("a", "renew"), 0.01, DEADLINE)
    q.add(key("a", "create-1"))
    q.add_after(key("a", "create-2"), 0.01)
    await asyncio.sleep(0.05)
    assert [await get_now(q) for _ in range(3)] == [
        key("a", "renew"), key("a", "create-1"), key("a", "create-2")]
    q.shutdown()


async def test_deadline_work_goes_before_started_work_before_new_work() -> None:
    q = FairQueue(qps=FAST, burst=FAST)
    q.add(key("a", "create"))
    q.add(key("a", "status"), STARTED)
    q.add(key("a", "lease"), DEADLINE)
    q.add(key("a", "create"), DEADLINE)  # promoted past both
    assert [await get_now(q) for _ in range(3)] == [
        key("a", "lease"), key("a", "create"), key("a", "status")]
    await assert_blocks(q)
    q.shutdown()


async def test_keys_are_not_paced_by_default() -> None:
    """No token per key (writes are capped by the clients' WriteLimiter): a restart's
    20,000 keys that write nothing go as fast as workers take them. The former default
    bucket (200 keys/s after 400) would have needed 98 s."""
    q = FairQueue(max_items=50_000)
    for i in range(20_000):
        q.add(key(f"t{i % 2}", f"p{i}"))

    async def drain() -> None:
        for _ in range(20_000):
            q.done(await q.get())
    await asyncio.wait_for(drain(), 10.0)
    assert len(q) == 0
    q.shutdown()


async def test_keys_dropped_by_a_full_queue_are_counted_in_prometheus() -> None:
    metrics = Metrics(CollectorRegistry())
    q = FairQueue(max_items=2, observer=queue_observer(metrics))
    for name in ("p1", "p2", "p3", "p4"):
        q.add(key("a", name))
    q.add(WorkKey("", "Tenant", "", "b"))  # management work: tenant label "-"
    dropped = metrics.registry.get_sample_value
    assert dropped("fusionvc_queue_dropped_total", {"tenant": "a"}) == 2.0
    assert dropped("fusionvc_queue_dropped_total", {"tenant": "-"}) == 1.0
    q.shutdown()
