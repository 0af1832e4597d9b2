"""Failback: before a failed-over edge cluster is re-admitted, delete its leftover copies.

Both sides are listed afresh from their API servers (never from a cache that
may predate the return): the edge's fusionvc pods and every connected
tenant's pods. ``plan.leftovers`` picks the copies of pods that were moved or
failed; each is deleted with its UID as precondition. Any failed list or
delete raises, and the cluster stays out until the next try succeeds.
"""

from __future__ import annotations

from typing import Any

import structlog

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.failover.plan import leftovers
from syncer.kube import Obj
from syncer.kube.apis import PODS
from syncer.kube.client import KubeClient, KubeError
from syncer.ops.metrics import Metrics

log = structlog.get_logger(__name__)
PAGE = 500


async def list_all(client: KubeClient, **query: Any) -> list[Obj]:
    items: list[Obj] = []
    cont: str | None = None
    while True:
        page = await client.list(PODS, limit=PAGE, **{"continue": cont}, **query)
        items.extend(page.get("items") or [])
        cont = (page.get("metadata") or {}).get("continue")
        if not cont:
            return items


def ungated(client: KubeClient) -> KubeClient:
    inner = getattr(client, "ungated", None)
    return inner if isinstance(inner, KubeClient) else client


async def clean_leftovers(ctx: SyncContext, metrics: Metrics, edge_name: str,
                          lost_since: float) -> int:
    """Deletes the leftovers on ``edge_name``; returns how many. Raises when it cannot tell."""
    edge = ctx.edges.get(edge_name)
    if edge is None:
        raise KubeError(0, "NotConnected", f"edge cluster {edge_name} is not connected yet")
    client = ungated(edge.client)
    edge_pods = await list_all(client, labelSelector=markers.MANAGED_SELECTOR)
    tenant_pods: dict[str, dict[str, Obj]] = {}
    for tenant in list(ctx.tenants.values()):
        pods = await list_all(tenant.client)
        tenant_pods[tenant.name] = {p["metadata"]["uid"]: p for p in pods}
    doomed = leftovers(edge_name, edge_pods, tenant_pods, lost_since)
    for epod in doomed:
        meta = epod["metadata"]
        await client.delete(PODS, meta["name"], meta["namespace"], uid=meta["uid"])
        metrics.failover_pods.labels(edge_name, "leftover_deleted").inc()
        log.info("failback: leftover copy deleted", edge=edge_name,
                 pod=f"{meta['namespace']}/{meta['name']}", tenant=markers.tenant_of(epod))
    return len(doomed)
