"""SingleFlight: concurrent calls for one key share one run of the work.

Workers reconcile many pods at once, and the first pods of a rollout all need the
same edge namespace and the same virtual nodes. Each worker that found them missing
used to create them itself: one create answered, the others 409 Conflict, each
followed by its own reads and patches (issue 16: 0.05-0.1 extra writes per pod in a
600-pod rollout). Here the first caller for a key runs the work; callers arriving
while it runs wait for it and get its result. If it fails (or its caller is
cancelled), its error stays its own caller's and one of the waiters runs the work
itself, so a waiter never gets an error, or a cancellation, that is not its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class _Failed:
    """The outcome of a run that raised: waiters run the work themselves."""


FAILED = _Failed()


class SingleFlight(Generic[K, T]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[T | _Failed]] = {}

    def running(self, key: K) -> bool:
        return key in self._running

    async def run(self, key: K, work: Callable[[], Awaitable[T]]) -> T:
        while (running := self._running.get(key)) is not None:
            # shield: a waiter's cancellation must not cancel what the others wait for
            outcome = await asyncio.shield(running)
            if not isinstance(outcome, _Failed):
                return outcome
        future: asyncio.Future[T | _Failed] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        result: T | _Failed = FAILED
        try:
            result = await work()
            return result
        finally:
            del self._running[key]
            future.set_result(result)
