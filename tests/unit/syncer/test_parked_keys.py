"""Keys whose tenant's caches are not synced wait parked, not re-queued every second
(issue 16, part 5: after a 10,000-pod restart the workers spun through every key each
second while the informers listed)."""

from __future__ import annotations

from syncer.core.keys import WorkKey
from syncer.kube.apis import PODS
from tests.builders import pod

from .harness import SyncTest


async def test_a_key_waits_parked_until_the_caches_are_synced(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    sync.put(tenant, PODS, pod("shop", "web"))
    key = WorkKey("tenant-a", "Pod", "shop", "web")
    assert key in await sync.queued()
    tenant.informers["pods"].synced.clear()  # as while a restarted syncer still lists
    await sync.controller.process(key)
    assert sync.ctx.queue.pending() == 0  # no timer, nothing queued: parked
    assert sync.controller.unpark() == 0
    assert sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web") is None
    tenant.informers["pods"].synced.set()
    assert sync.controller.unpark() == 1
    await sync.settle()
    assert sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web") is not None
    assert sync.controller.unpark() == 0


async def test_a_key_waits_parked_until_every_cluster_was_tried(sync: SyncTest) -> None:
    """A restarted leader may connect a tenant before its edges: with no edge in view, a
    ServiceDomain saw no ready pod anywhere and published a record without sites."""
    tenant, known = sync.ctx.tenants["tenant-a"], [False]
    sync.ctx.fleet_known = lambda: known[0]
    sync.put(tenant, PODS, pod("shop", "web"))
    key = WorkKey("tenant-a", "Pod", "shop", "web")
    assert key in await sync.queued()
    await sync.controller.process(key)
    assert sync.ctx.queue.pending() == 0
    assert sync.controller.unpark() == 0
    known[0] = True
    assert sync.controller.unpark() == 1
    await sync.settle()
    assert sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web") is not None
