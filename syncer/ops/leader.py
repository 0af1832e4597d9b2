"""Leader election among syncer replicas with a ``coordination.k8s.io/v1`` Lease.

This module owns who may write. Semantics follow client-go's leaderelection:

- a candidate takes the Lease when it is absent, released (empty holder) or
  expired (``renewTime + leaseDurationSeconds < now``); taking it from another
  holder increments ``leaseTransitions``;
- every write is a create or a ``resourceVersion``-guarded replace, so when two
  candidates race exactly one wins and the other gets 409 Conflict;
- the leader renews every ``retry_period_s``. If it has not renewed for
  ``renew_deadline_s`` it stops leading at once: :attr:`LeaderElector.leading`
  is cleared, :attr:`LeaderElector.lost` is set and :meth:`LeaderElector.run`
  returns. :attr:`LeaderElector.is_leader` also checks the deadline against the
  clock, so a writer asking it never gets a stale yes;
- on graceful shutdown :meth:`LeaderElector.release` empties ``holderIdentity``
  so a standby takes over at its next retry instead of waiting for expiry.

The decisions are the pure functions :func:`decide` and :func:`release_body`
over the Lease as a JSON dict; :class:`LeaderElector` only does the I/O.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from syncer.kube.apis import LEASES
from syncer.kube.client import KubeClient, KubeError
from syncer.ops.logs import get_logger
from syncer.ops.metrics import Metrics
from syncer.ops.settings import LeaderSettings

_log = get_logger(__name__)


def format_micro_time(moment: datetime) -> str:
    """RFC 3339 with exactly six fractional digits, as the API's MicroTime wants."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object) -> datetime | None:
    """A Lease time (string or datetime) as an aware datetime; None when absent or bad."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Action(StrEnum):
    CREATE = "create"  # no Lease yet: create it, holding it
    UPDATE = "update"  # replace it (guarded by resourceVersion), holding it
    WAIT = "wait"  # someone else holds a valid Lease


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # absent | renew | released | expired | held
    holder: str  # holder after the write, or the current holder when waiting
    body: dict[str, Any] | None = None  # what to write for CREATE and UPDATE
    expires: datetime | None = None  # when the current holder's Lease expires (WAIT)


def _spec(lease: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = lease.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def lease_expiry(lease: Mapping[str, Any], default_duration_s: int) -> datetime | None:
    """``renewTime + leaseDurationSeconds`` of a Lease; None when it was never renewed."""
    spec = _spec(lease)
    renewed = parse_time(spec.get("renewTime"))
    if renewed is None:
        return None
    duration = spec.get("leaseDurationSeconds")
    if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
        duration = default_duration_s
    return renewed + timedelta(seconds=duration)


def decide(
    lease: Mapping[str, Any] | None,
    *,
    identity: str,
    now: datetime,
    lease_duration_s: int,
    name: str,
    namespace: str,
) -> Decision:
    """What ``identity`` should do given the current Lease (JSON dict) or None."""
    stamp = format_micro_time(now)
    if lease is None:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"holderIdentity": identity, "leaseDurationSeconds": lease_duration_s,
                     "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0},
        }
        return Decision(Action.CREATE, "absent", identity, body)
    spec = _spec(lease)
    holder = spec.get("holderIdentity") or ""
    transitions = spec.get("leaseTransitions")
    transitions = transitions if isinstance(transitions, int) else 0
    expires = lease_expiry(lease, lease_duration_s)
    if holder == identity:
        previous = parse_time(spec.get("acquireTime"))
        reason, acquired = "renew", format_micro_time(previous) if previous else stamp
    elif not holder:
        reason, acquired, transitions = "released", stamp, transitions + 1
    elif expires is None or expires < now:
        reason, acquired, transitions = "expired", stamp, transitions + 1
    else:
        return Decision(Action.WAIT, "held", str(holder), expires=expires)
    body = copy.deepcopy(dict(lease))
    body["spec"] = {**spec, "holderIdentity": identity, "leaseDurationSeconds": lease_duration_s,
                    "acquireTime": acquired, "renewTime": stamp, "leaseTransitions": transitions}
    return Decision(Action.UPDATE, reason, identity, body)


def release_body(
    lease: Mapping[str, Any], *, identity: str, now: datetime
) -> dict[str, Any] | None:
    """The Lease given up by ``identity``, or None when ``identity`` does not hold it."""
    spec = _spec(lease)
    if spec.get("holderIdentity") != identity:
        return None
    stamp = format_micro_time(now)
    body = copy.deepcopy(dict(lease))
    # As client-go: empty holder, 1 s duration, so standbys take over at their next try.
    body["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1,
                    "acquireTime": stamp, "renewTime": stamp}
    return body


class LeaderElector:
    """Runs the election for one replica against the management cluster.

    ``client`` is the management cluster's ``KubeClient`` (owned by the caller).
    Typical use: run :meth:`run` as a task; writers wait for :attr:`leading` and
    check :attr:`is_leader` before each write; when :attr:`lost` is set (``run``
    returned) the daemon stops writing and exits. On graceful shutdown: stop
    writers, cancel the ``run`` task, then ``await release()``.
    """

    def __init__(
        self,
        client: KubeClient,
        settings: LeaderSettings,
        identity: str | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self.identity = identity or settings.identity
        self._metrics = metrics
        self.leading = asyncio.Event()
        self.lost = asyncio.Event()
        self._renewed_at = 0.0  # time.monotonic() when the last successful write started
        self._lease: dict[str, Any] | None = None  # the Lease as we last wrote it
        self._holder = ""  # last holder observed, for logging changes
        self._io = asyncio.Lock()  # one attempt or release at a time
        self._released = False

    @property
    def is_leader(self) -> bool:
        """True only while leading and within the renew deadline of the last renewal."""
        fresh = time.monotonic() - self._renewed_at < self._settings.renew_deadline_s
        return self.leading.is_set() and not self.lost.is_set() and fresh

    async def run(self) -> None:
        """Acquire the Lease, then renew it; returns when leadership is lost or released."""
        while not self._released:
            if await self._attempt():
                await self._renew_until_lost()
                return
            retry = self._settings.retry_period_s
            await asyncio.sleep(retry * (1.0 + 0.2 * random.random()))

    async def _renew_until_lost(self) -> None:
        deadline_s, retry_s = self._settings.renew_deadline_s, self._settings.retry_period_s
        while not self._released:
            await asyncio.sleep(max(0.0, min(retry_s, self._left(deadline_s))))
            if self._left(deadline_s) <= 0:
                return self._lose(f"could not renew within {deadline_s:g}s")
            try:
                async with asyncio.timeout(self._left(deadline_s)):
                    renewed = await self._attempt()
            except TimeoutError:
                renewed = False
            if not renewed and self._holder not in ("", self.identity):
                return self._lose(f"lease taken by {self._holder}")
        return None

    def _left(self, deadline_s: float) -> float:
        return self._renewed_at + deadline_s - time.monotonic()

    async def release(self) -> bool:
        """Give the Lease up if held (writers must have stopped); True when released."""
        async with self._io:
            self._released = True
            was_leading = self.leading.is_set()
            self._set_leading(False)
            body = None
            if was_leading and self._lease is not None:
                body = release_body(self._lease, identity=self.identity, now=datetime.now(UTC))
            if body is None:
                return False
            try:
                await self._client.request("PUT", self._path(), body=body, decode=False,
                                           timeout=self._settings.renew_deadline_s)
            except KubeError as err:
                _log.warning("could not release the lease", error=str(err))
                return False
        _log.info("released the lease", identity=self.identity, lease=self._lease_ref())
        return True

    async def _attempt(self) -> bool:
        """One read and, if due, one write; True when we hold the Lease afterwards."""
        async with self._io:
            if self._released:
                return False
            started = time.monotonic()
            try:
                held = await self._read_and_write(started)
                self._set_reachable(True)
                return held
            except KubeError as err:
                self._set_reachable(bool(err.status))  # an HTTP status: the server answered
                level = "debug" if err.conflict else "warning"
                getattr(_log, level)("lease attempt failed", status=err.status, reason=err.reason,
                                     error=err.message)
            return False

    def _set_reachable(self, reachable: bool) -> None:
        """Every attempt is a probe of the management API server."""
        if self._metrics is not None:
            self._metrics.cluster_reachable.labels("management", "management").set(
                1 if reachable else 0)

    async def _read_and_write(self, started: float) -> bool:
        """A leader renews optimistically: one PUT of the Lease as it last wrote it (the
        resourceVersion guards it), as client-go does; only a conflict costs a read. Half
        the round trips of read-then-write, so a busy process renews in time."""
        if self.leading.is_set() and self._lease is not None:
            try:
                return await self._decide_and_write(self._lease, started)
            except KubeError as err:
                if not err.conflict:
                    raise
        try:
            observed = await self._client.request("GET", self._path(),
                                                  timeout=self._settings.renew_deadline_s)
        except KubeError as err:
            if not err.not_found:
                raise
            observed = None
        return await self._decide_and_write(observed, started)

    async def _decide_and_write(self, observed: dict[str, Any] | None, started: float) -> bool:
        timeout = self._settings.renew_deadline_s
        name, namespace = self._settings.lease_name, self._settings.lease_namespace
        decision = decide(observed, identity=self.identity, now=datetime.now(UTC),
                          lease_duration_s=self._settings.lease_duration_s,
                          name=name, namespace=namespace)
        if decision.action is Action.WAIT:
            self._observe_holder(decision.holder)
            return False
        if decision.action is Action.CREATE:
            written = await self._client.request("POST", LEASES.path(namespace),
                                                 body=decision.body, timeout=timeout)
        else:
            written = await self._client.request("PUT", self._path(), body=decision.body,
                                                 timeout=timeout)
        self._lease = written
        self._renewed_at = started
        self._observe_holder(self.identity)
        if not self.leading.is_set():
            self._set_leading(True)
            _log.info("became leader", reason=decision.reason, identity=self.identity,
                      lease=self._lease_ref())
        return True

    def _observe_holder(self, holder: str) -> None:
        if holder != self._holder:
            self._holder = holder
            _log.info("lease holder changed", holder=holder or None, lease=self._lease_ref())

    def _lose(self, reason: str) -> None:
        self._set_leading(False)
        self.lost.set()
        _log.error("lost leadership", reason=reason, identity=self.identity)

    def _set_leading(self, leading: bool) -> None:
        if leading:
            self.leading.set()
        else:
            self.leading.clear()
        if self._metrics is not None:
            self._metrics.is_leader.set(1 if leading else 0)

    def _path(self) -> str:
        return LEASES.path(self._settings.lease_namespace, self._settings.lease_name)

    def _lease_ref(self) -> str:
        return f"{self._settings.lease_namespace}/{self._settings.lease_name}"
