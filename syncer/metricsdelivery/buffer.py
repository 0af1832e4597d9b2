"""The bounded buffer of samples waiting for the receiver (pure).

Holds at most ``limit`` samples; adding past it drops the oldest, counted in
``dropped``. Samples leave only when ``consume`` confirms they were delivered (or
rejected for good), so a receiver that is down loses nothing within the bound.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

from syncer.metricsdelivery.remote_write import Labels

Entry = tuple[Labels, float, int]


class SampleBuffer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: deque[Entry] = deque()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entries: Iterable[Entry]) -> int:
        """Appends; returns how many of the oldest were dropped to stay within the limit."""
        self._entries.extend(entries)
        over = len(self._entries) - self.limit
        for _ in range(max(over, 0)):
            self._entries.popleft()
        if over > 0:
            self.dropped += over
        return max(over, 0)

    def peek(self, count: int) -> list[Entry]:
        return list(itertools.islice(self._entries, count))

    def consume(self, count: int) -> None:
        for _ in range(min(count, len(self._entries))):
            self._entries.popleft()
