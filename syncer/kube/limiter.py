"""Client-side rate limits: the token bucket, and the WriteLimiter on API writes.

``WriteLimiter`` is the syncer's cap on the load it puts on API servers, shared by
every tenant and edge KubeClient of the process (``--write-qps``/``--write-burst``).
It works like client-go's client-side limiter (rest.Config QPS and Burst: every
request waits for a token) but charges only writes (POST, PUT, PATCH, DELETE): the
syncer reads from its informer caches, so its per-object cost to an API server is
its writes, and a reconcile that finds nothing to change costs no token. Before
(issue 16, part 5), the work queue charged a token per key: a restart holding
10,000 pods paced 10,000 reconciles that wrote nothing at 1,000 keys/s.

The management cluster's client is not limited: its writes are a few per second
(the leader Lease, Tenant and EdgeCluster status) and a Lease renewal must never
wait behind tenant work.

A write waits for a reservation (as golang.org/x/time/rate's Wait): the bucket may
go below zero, and each caller sleeps until its own token is due, so callers are
served in the order they asked. The wait is at most (writes in flight) / qps, since
each writer holds one reservation at a time. A cancelled wait gives its token back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens, self._stamp = self.burst, self.clock()

    def take(self) -> float:
        """Takes a token; returns how long the caller must wait for it (0 if none)."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def give_back(self) -> None:
        """Returns a token taken by a caller that will not use it."""
        self._tokens = min(self.burst, self._tokens + 1)


class WriteLimiter:
    """At most ``qps`` writes a second after a burst of ``burst``; shared by the clients of
    one process. ``on_wait(seconds)`` is told of every write that had to wait."""

    def __init__(self, qps: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 on_wait: Callable[[float], None] | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"a write limit needs qps > 0 and burst >= 1, got {qps}, {burst}")
        self.qps, self.burst = qps, burst
        self._bucket = TokenBucket(qps, burst, clock=clock)
        self._on_wait = on_wait

    async def acquire(self) -> None:
        """Returns when the caller may send one write."""
        wait = self._bucket.take()
        if wait <= 0:
            return
        if self._on_wait is not None:
            self._on_wait(wait)
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self._bucket.give_back()
            raise
