"""Starting an EdgeDataset's download Jobs within the tenant's budget (``dataset_quota``).

``TransferAdmission.start`` takes the copies the strategy would start now and
starts those the tenant's ``Tenant.spec.datasets`` allows, under the tenant's
admission lock, counting every download Job of the tenant on every edge (from the
edge caches, plus the Jobs it started that the caches do not show yet). It
returns the copies it held back with why; ``announce`` tells the tenant of a hold
it has not been told of yet (a Warning Event ``TransferHeld``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

import structlog

from syncer.core.context import SyncContext
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kinds.dataset_claims import INDEX
from syncer.kinds.dataset_cleanup import is_cleanup
from syncer.kinds.dataset_quota import (
    DatasetQuota,
    Hold,
    QuotaError,
    TransferLedger,
    admit,
    parse_dataset_quota,
)
from syncer.kinds.dataset_translate import DatasetSpec, dataset_job_state, job_name
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj
from syncer.kube.apis import JOBS

log = structlog.get_logger(__name__)
Starter = Callable[[Target], Awaitable[None]]


def tenant_jobs(edges: Iterable[EdgeConn], tenant: str
                ) -> list[tuple[str, Obj, NodeState]]:
    """(cluster, download Job, state) of every EdgeDataset of the tenant, on every edge."""
    found = []
    for edge in edges:
        if JOBS.plural not in edge.informers:
            continue
        store = edge.store(JOBS)
        for value in store.index_values(INDEX):
            if value.split("/", 1)[0] != tenant:
                continue
            found += [(edge.name, job, dataset_job_state(job))
                      for job in store.by_index(INDEX, value) if not is_cleanup(job)]
    return found


def tenant_quota(tenant: TenantConn) -> DatasetQuota:
    """The operator's bounds for the tenant (an unreadable spec.datasets: no bound, logged:
    the CRD's schema keeps such values out)."""
    try:
        return parse_dataset_quota(tenant.spec.datasets)
    except QuotaError as err:
        log.warning("ignoring Tenant.spec.datasets", tenant=tenant.name, error=str(err))
        return DatasetQuota()


class TransferAdmission:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.ledger = TransferLedger()

    async def start(self, tenant: TenantConn, dataset: Obj, spec: DatasetSpec,
                    targets: Iterable[Target], starter: Starter) -> dict[Target, Hold]:
        """Starts (``starter``) each target the budget allows, in order; returns the held."""
        wanted, quota = list(targets), tenant_quota(tenant)
        if not wanted:
            return {}
        held: dict[Target, Hold] = {}
        meta = dataset["metadata"]
        async with self.ledger.lock(tenant.name):
            usage = self.ledger.usage(tenant.name, tenant_jobs(self.ctx.edges.values(),
                                                               tenant.name))
            for target in wanted:
                hold = admit(quota, usage, target, spec.size)
                if hold is not None:
                    held[target] = hold
                    continue
                await starter(target)
                usage = usage.plus(target.cluster, spec.size)
                self.ledger.reserve(tenant.name, job_name(
                    tenant.name, meta["namespace"], meta["name"], spec.sha256, target),
                    target.cluster, spec.size)
        return held

    async def announce(self, tenant: TenantConn, dataset: Obj,
                       held: Mapping[Target, Hold]) -> None:
        """A Warning Event per hold reason the EdgeDataset's status does not show yet."""
        shown = {(p.get("node"), p.get("reason")) for p in
                 (dataset.get("status") or {}).get("pendingNodes") or []}
        told: set[str] = set()
        for target, hold in sorted(held.items()):
            if (target.virtual_node, hold.reason) in shown or hold.reason in told:
                continue
            told.add(hold.reason)
            await self.ctx.recorder.warn(tenant.client, {"kind": "EdgeDataset", **dataset},
                                         "TransferHeld", f"{target.virtual_node}: {hold.message}")

    def forget(self, tenant: str) -> None:
        self.ledger.forget(tenant)
