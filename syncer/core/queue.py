"""FairQueue: the work queue between informers and reconcilers.

What it guarantees, like client-go's workqueue: a key waits in the queue at
most once (dedup); a key being processed is never handed to a second worker,
and if it is added meanwhile it is queued again when the first is done;
failed keys come back after a per-key exponential backoff. On top of that,
fairness: every tenant has its own sub-queue and workers take from tenants in
turn, so a tenant with 5,000 pending pods cannot starve one with a single pod.
Within a tenant, keys wait in three lanes, served in order (issue 16: under a
rollout, status writes queued behind creates doubled the latency, and Lease
renewals queued behind them made the tenant mark its virtual nodes NotReady):

- ``DEADLINE``: work that must happen by a time: kinds that declare it (virtual
  nodes, whose Leases must be renewed) and requeues a reconcile asked for;
- ``STARTED``: work that finishes what was started (an edge copy's status going up);
- ``NEW``: everything else (a tenant pod to create).

A queued key added again in a more urgent lane moves there. The queue is bounded:
past ``max_items`` a key is dropped and counted (``fusionvc_queue_dropped_total``); the
periodic drift scan brings it back.

No rate limit per key by default (``qps=None``). The load the syncer puts on API servers
is its writes, and those are capped where they are sent, by the WriteLimiter the tenant
and edge clients share (kube/limiter.py). A token per key paced reconciles that write
nothing: after a restart holding 10,000 pods, 10,000 of them at 1,000 keys/s (issue 16,
part 5). What is left for the queue to bound is the syncer's own CPU, which its workers
already bound, and a failing key, which its backoff spaces out. An operator who wants
the reconciles themselves paced still can: ``qps``/``burst`` (``--queue-qps``,
``--queue-burst``) put a token bucket in front of every key handed to a worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from syncer.core.keys import WorkKey
from syncer.kube.limiter import TokenBucket


class QueueShutDown(Exception):
    """The queue was shut down; the worker should return."""


@dataclass
class QueueObserver:
    """Hooks for metrics; each defaults to doing nothing."""

    added: Callable[[str], None] = lambda tenant: None
    retried: Callable[[str], None] = lambda tenant: None
    dropped: Callable[[str], None] = lambda tenant: None
    waited: Callable[[str, float], None] = lambda tenant, seconds: None
    depth: Callable[[str, int], None] = lambda tenant, depth: None


DEADLINE, STARTED, NEW = 0, 1, 2  # lanes, served in this order within a tenant


@dataclass
class _Lanes:
    """One tenant's queued keys, one deque per lane. An entry is (key, ticket); an entry
    whose ticket is no longer the key's (it moved lanes, or was served) is skipped."""

    lanes: tuple[deque[tuple[WorkKey, object]], ...] = field(
        default_factory=lambda: (deque(), deque(), deque()))
    live: int = 0  # keys of this tenant really queued

    def pop(self, tickets: dict[WorkKey, object]) -> WorkKey:
        for lane in self.lanes:
            while lane:
                key, ticket = lane.popleft()
                if tickets.get(key) is ticket:
                    return key
        raise LookupError("no live key")  # callers keep live > 0 consistent


class FairQueue:
    def __init__(self, *, max_items: int = 100_000, qps: float | None = None,
                 burst: float = 1.0,
                 base_delay: float = 0.05, max_delay: float = 300.0,
                 observer: QueueObserver | None = None) -> None:
        self._queues: dict[str, _Lanes] = {}
        self._ring: deque[str] = deque()  # tenants with ready keys, in serving order
        self._queued: dict[WorkKey, float] = {}  # key -> time it was queued
        self._tickets: dict[WorkKey, object] = {}  # key -> its live lane entry's ticket
        self._lane: dict[WorkKey, int] = {}  # queued key -> its lane
        self._processing: set[WorkKey] = set()
        self._dirty: dict[WorkKey, int] = {}  # added while processing -> its lane
        self._failures: dict[WorkKey, int] = {}
        self._timers: dict[WorkKey, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()  # set while some tenant has a ready key
        self._bucket = TokenBucket(qps, burst) if qps else None  # None: no cap per key
        self._max_items, self._base_delay, self._max_delay = max_items, base_delay, max_delay
        self._observer = observer or QueueObserver()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queued)

    def depth(self, tenant: str) -> int:
        lanes = self._queues.get(tenant)
        return lanes.live if lanes else 0

    def pending(self) -> int:
        """Keys queued, being processed, or waiting for a delayed add."""
        return len(self._queued) + len(self._processing) + len(self._timers)

    def add(self, key: WorkKey, lane: int = NEW) -> None:
        if self._shutdown:
            return
        if key in self._queued:
            if lane < self._lane[key]:
                self._enter_lane(key, lane)  # promoted; its old entry is skipped
            return
        if key in self._processing:
            self._dirty[key] = min(self._dirty.get(key, NEW), lane)
            return
        if len(self._queued) >= self._max_items:
            self._observer.dropped(key.tenant)
            return
        lanes = self._queues.setdefault(key.tenant, _Lanes())
        if not lanes.live:
            self._ring.append(key.tenant)
        lanes.live += 1
        self._queued[key] = time.monotonic()
        self._enter_lane(key, lane)
        self._observer.added(key.tenant)
        self._observer.depth(key.tenant, lanes.live)
        self._ready.set()

    def _enter_lane(self, key: WorkKey, lane: int) -> None:
        ticket = self._tickets[key] = object()
        self._queues[key.tenant].lanes[lane].append((key, ticket))
        self._lane[key] = lane

    def add_after(self, key: WorkKey, delay: float, lane: int = NEW) -> None:
        if delay <= 0:
            self.add(key, lane)
            return
        if self._shutdown:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        old = self._timers.get(key)
        if old is not None:
            if old.when() <= when:
                return
            old.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key, lane)

    def _fire(self, key: WorkKey, lane: int) -> None:
        self._timers.pop(key, None)
        self.add(key, lane)

    def add_rate_limited(self, key: WorkKey) -> float:
        """Re-adds a failed key after its backoff; returns the delay chosen."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self._base_delay * (2.0 ** failures), self._max_delay)
        self._observer.retried(key.tenant)
        self.add_after(key, delay)
        return delay

    def forget(self, key: WorkKey) -> None:
        """Clears the key's failure count after a success."""
        self._failures.pop(key, None)

    def failures(self, key: WorkKey) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> WorkKey:
        """Waits for the next key, tenants served in turn; raises QueueShutDown."""
        while not self._ring:
            if self._shutdown:
                raise QueueShutDown
            self._ready.clear()
            await self._ready.wait()
        if self._shutdown:
            raise QueueShutDown
        key = self._pop()
        wait = self._bucket.take() if self._bucket is not None else 0.0
        if wait:
            await asyncio.sleep(wait)
        return key

    def _pop(self) -> WorkKey:
        tenant = self._ring.popleft()
        lanes = self._queues[tenant]
        key = lanes.pop(self._tickets)
        del self._tickets[key]
        del self._lane[key]
        lanes.live -= 1
        if lanes.live:
            self._ring.append(tenant)
        else:
            del self._queues[tenant]
        self._observer.depth(tenant, lanes.live)
        self._observer.waited(tenant, time.monotonic() - self._queued.pop(key))
        self._processing.add(key)
        return key

    def done(self, key: WorkKey) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self.add(key, self._dirty.pop(key))

    def shutdown(self) -> None:
        self._shutdown = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._ready.set()
