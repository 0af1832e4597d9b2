"""The tenant's budget for EdgeDataset transfers, checked before fusionvc starts a download Job.

Download Jobs run in fusionvc's own edge namespace ``fusionvc-datasets`` (they
need a hostPath), outside every tenant edge namespace and its ResourceQuota, so
fusionvc bounds them itself, from the operator's ``Tenant.spec.datasets``
(management cluster; the tenant cannot change it):

- ``maxConcurrentTransfers``: download Jobs of the tenant running at once in one
  edge cluster (all its EdgeDatasets together);
- ``maxBytes``: the sum of ``sizeBytes`` over the tenant's copies, on every edge,
  being transferred or ready (the disk they take or are about to take). With a
  budget set, a dataset without ``sizeBytes`` is not started (its size is unknown).

A copy over either bound is not started: it stays pending with the reason
(``TransferLimit``, ``StorageBudget``) in the EdgeDataset's status and a Warning
Event, and starts once a transfer ends or a copy goes. Unset fields: no bound.

``parse_dataset_quota``, ``job_usage`` and ``admit`` are pure; ``TransferLedger``
serialises admission per tenant and remembers Jobs created but not yet in the
edge caches, so two reconciles never both take the last slot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from scheduler.quantity import QuantityError, parse_quantity
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj
from syncer.warm_nodes import PROVIDES

TRANSFER_LIMIT, STORAGE_BUDGET = "TransferLimit", "StorageBudget"
RESERVATION_TTL_S = 60.0  # a Job created is in the edge cache well before this


class QuotaError(ValueError):
    """Tenant.spec.datasets fusionvc cannot read."""


@dataclass(frozen=True)
class DatasetQuota:
    max_concurrent: int | None = None  # per edge cluster
    max_bytes: int | None = None  # over every edge


@dataclass(frozen=True)
class Hold:
    reason: str  # TRANSFER_LIMIT or STORAGE_BUDGET
    message: str


@dataclass(frozen=True)
class Usage:
    active: dict[str, int] = field(default_factory=dict)  # cluster -> running transfers
    bytes: int = 0  # transferring or ready, every edge

    def plus(self, cluster: str, size: int) -> Usage:
        return Usage({**self.active, cluster: self.active.get(cluster, 0) + 1},
                     self.bytes + size)


def parse_dataset_quota(raw: Obj | None) -> DatasetQuota:
    raw = raw or {}
    concurrent, size = raw.get("maxConcurrentTransfers"), raw.get("maxBytes")
    if concurrent is not None and (isinstance(concurrent, bool) or not isinstance(
            concurrent, int) or concurrent < 1):
        raise QuotaError(f"spec.datasets.maxConcurrentTransfers: {concurrent!r} is not a "
                         "positive integer")
    max_bytes = None
    if size is not None:
        try:
            max_bytes = int(parse_quantity(str(size)))
        except QuantityError:
            raise QuotaError(f"spec.datasets.maxBytes: {size!r} is not a quantity") from None
        if max_bytes < 0:
            raise QuotaError(f"spec.datasets.maxBytes: {size!r} is negative")
    return DatasetQuota(concurrent, max_bytes)


def job_bytes(job: Obj) -> int:
    """The size the download Job announces for its copy (its pod's provides annotation)."""
    meta = ((job.get("spec") or {}).get("template") or {}).get("metadata") or {}
    try:
        value = orjson.loads((meta.get("annotations") or {}).get(PROVIDES) or "{}")
    except orjson.JSONDecodeError:
        return 0
    if not isinstance(value, dict):
        return 0
    return sum(v for v in value.values() if isinstance(v, int) and v > 0)


def job_usage(jobs: Iterable[tuple[str, Obj, NodeState]]) -> Usage:
    """What (cluster, download Job, its state) take: running Jobs count as transfers, running
    and succeeded ones as bytes; failed and deleted Jobs take nothing."""
    usage = Usage()
    for cluster, job, state in jobs:
        if job["metadata"].get("deletionTimestamp") or state.state == "failed":
            continue
        size = job_bytes(job)
        usage = usage.plus(cluster, size) if state.state == "active" else \
            Usage(usage.active, usage.bytes + size)
    return usage


def admit(quota: DatasetQuota, usage: Usage, target: Target, size: int) -> Hold | None:
    """None when a copy of ``size`` bytes may start on ``target``; else why not."""
    running = usage.active.get(target.cluster, 0)
    if quota.max_concurrent is not None and running >= quota.max_concurrent:
        return Hold(TRANSFER_LIMIT, f"{running} transfers of this tenant run in "
                    f"{target.cluster}, the limit of Tenant.spec.datasets."
                    f"maxConcurrentTransfers ({quota.max_concurrent}); it starts when one ends")
    if quota.max_bytes is not None and size <= 0:
        return Hold(STORAGE_BUDGET, "spec.source.sizeBytes is needed: the tenant has a dataset "
                    f"storage budget ({quota.max_bytes} bytes)")
    if quota.max_bytes is not None and usage.bytes + size > quota.max_bytes:
        return Hold(STORAGE_BUDGET, f"{usage.bytes} bytes of copies are in place or on their "
                    f"way; this {size}-byte copy would pass the budget of Tenant.spec.datasets."
                    f"maxBytes ({quota.max_bytes})")
    return None


class TransferLedger:
    """Per tenant: one admission at a time, and the Jobs started but not yet seen in a cache
    (job name -> (cluster, bytes, expiry))."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._reserved: dict[str, dict[str, tuple[str, int, float]]] = {}
        self._clock = clock

    def lock(self, tenant: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant, asyncio.Lock())

    def reserve(self, tenant: str, job: str, cluster: str, size: int) -> None:
        self._reserved.setdefault(tenant, {})[job] = (cluster, size,
                                                      self._clock() + RESERVATION_TTL_S)

    def usage(self, tenant: str, seen: Iterable[tuple[str, Obj, NodeState]]) -> Usage:
        """The usage of the Jobs in the caches plus the reserved ones not among them."""
        found = list(seen)
        names = {job["metadata"]["name"] for _, job, _ in found}
        usage, now = job_usage(found), self._clock()
        reserved = self._reserved.get(tenant, {})
        for name, (cluster, size, expiry) in list(reserved.items()):
            if name in names or expiry < now:
                del reserved[name]
            else:
                usage = usage.plus(cluster, size)
        return usage

    def forget(self, tenant: str) -> None:
        self._locks.pop(tenant, None)
        self._reserved.pop(tenant, None)
