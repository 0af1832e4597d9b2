"""One MetricsDelivery's loop: collect, buffer, push with remote write, retry with backoff.

Every ``interval`` the tenant namespace's series are collected into the bounded
buffer, then pushed in requests of at most ``max_samples_per_send`` samples until
the buffer is empty or the interval is over. A failed push is retried after a
backoff (1 s doubling to 30 s, never past the interval; the buffer keeps the
samples, the oldest dropped past its bound). A 4xx other than 401/403/429 means the
receiver refuses those samples for good: they are dropped and counted. ``collect``
returning None (the tenant disconnected) ends the loop. Every change of state (and
the counters, at most every ``report_every`` seconds) goes to ``report``; the owner
turns it into status, conditions and Events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import aiohttp
import structlog

from syncer.metricsdelivery.buffer import Entry, SampleBuffer
from syncer.metricsdelivery.remote_write import (
    HEADERS,
    LabelCache,
    Labels,
    write_request_body,
)
from syncer.metricsdelivery.spec import DeliverySpec

log = structlog.get_logger(__name__)
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 30.0
INTERN_MAX = 200_000  # series


@dataclass(frozen=True)
class DeliveryState:
    ready: bool | None = None  # None: nothing pushed yet
    reason: str = "Pending"
    message: str = "no push yet"
    sent: int = 0
    dropped: int = 0  # oldest samples dropped from the full buffer
    rejected: int = 0  # samples the receiver refused for good
    buffered: int = 0
    last_success: float | None = None  # time.time()


class PushError(Exception):
    def __init__(self, reason: str, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.reason, self.message, self.permanent = reason, message, permanent


def classify(status: int, body: str) -> PushError:
    text = body.strip()[:200]
    if status in (401, 403):
        return PushError("CredentialsRejected", f"the receiver refused the credentials "
                         f"(HTTP {status}): {text}")
    if status == 429 or status >= 500:
        return PushError("ReceiverError", f"the receiver failed (HTTP {status}): {text}")
    return PushError("WriteRejected", f"the receiver rejected samples (HTTP {status}): {text}",
                     permanent=True)


class DeliveryWorker:
    def __init__(self, spec: DeliverySpec, headers: dict[str, str],
                 collect: Callable[[], list[Entry] | None],
                 report: Callable[[DeliveryState], Awaitable[None]],
                 session: aiohttp.ClientSession, timeout: float = 10.0,
                 report_every: float = 10.0) -> None:
        self.spec, self.headers = spec, {**HEADERS, **headers}
        self.collect, self.report = collect, report
        self.session, self.timeout, self.report_every = session, timeout, report_every
        self.buffer = SampleBuffer(spec.buffer_samples)
        self.state = DeliveryState()
        self._labels = LabelCache()
        self._intern: dict[Labels, Labels] = {}
        self._reported: tuple[DeliveryState, float] | None = None
        self._backoff = BACKOFF_FIRST_S

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = loop.time() + self.spec.interval_s
            entries = self.collect()
            if entries is None:
                return  # its tenant is gone
            self.buffer.add(self._interned(entries))
            await self.flush(deadline)
            await self._report()
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    def _interned(self, entries: list[Entry]) -> list[Entry]:
        """One labels tuple per series, shared by all its buffered samples (memory)."""
        if len(self._intern) > INTERN_MAX:
            self._intern.clear()
        return [(self._intern.setdefault(labels, labels), value, ts)
                for labels, value, ts in entries]

    async def flush(self, deadline: float) -> None:
        """Pushes until the buffer is empty or ``deadline`` (loop time) has passed."""
        loop = asyncio.get_running_loop()
        while len(self.buffer) and loop.time() < deadline:
            batch = self.buffer.peek(self.spec.max_samples_per_send)
            try:
                await self.push(batch)
            except PushError as err:
                self._failed(err, len(batch))
                if err.permanent:
                    continue
                await self._report()
                await asyncio.sleep(min(self._backoff, max(0.0, deadline - loop.time())))
                self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
                continue
            self.buffer.consume(len(batch))
            self._backoff = BACKOFF_FIRST_S
            self.state = replace(self.state, ready=True, reason="Delivering",
                                 message=f"pushing to {self.spec.url}",
                                 sent=self.state.sent + len(batch), last_success=time.time())
        self.state = replace(self.state, buffered=len(self.buffer), dropped=self.buffer.dropped)

    async def push(self, batch: list[Entry]) -> None:
        # Encoding + Snappy is pure-Python CPU (~0.1 s per 5,000 samples): off the loop.
        body = await asyncio.to_thread(write_request_body, batch, self._labels)
        try:
            async with self.session.post(self.spec.url, data=body, headers=self.headers,
                                         timeout=aiohttp.ClientTimeout(total=self.timeout),
                                         allow_redirects=False) as resp:
                if resp.status // 100 == 2:
                    return
                text = (await resp.content.read(1024)).decode("utf-8", "replace")
                raise classify(resp.status, text)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise PushError("ReceiverUnreachable",
                            f"cannot reach {self.spec.url}: {err or type(err).__name__}") from None

    def _failed(self, err: PushError, count: int) -> None:
        rejected = self.state.rejected
        if err.permanent:
            self.buffer.consume(count)
            rejected += count
        self.state = replace(self.state, ready=False, reason=err.reason, message=err.message,
                             rejected=rejected, buffered=len(self.buffer),
                             dropped=self.buffer.dropped)

    async def _report(self) -> None:
        state, now = self.state, time.monotonic()
        if self._reported is not None:
            before, when = self._reported
            changed = (before.ready, before.reason) != (state.ready, state.reason)
            if not changed and (state == before or now - when < self.report_every):
                return
        self._reported = (state, now)
        await self.report(state)
