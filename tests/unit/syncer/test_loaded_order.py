"""Under a rollout, an edge pod's status goes up before pods queued earlier are created
(issue 16, part 3: status writes queued behind creates doubled the loaded latency), and a
requeue a reconcile asked for (a virtual node's Lease renewal) is not starved by them."""

from __future__ import annotations

import asyncio

from syncer.core.keys import WorkKey
from syncer.core.syncer import ResourceSyncer
from syncer.kube.apis import NODES, PODS
from tests.builders import edge_node, pod

from .harness import SyncTest


async def test_a_running_edge_pod_is_served_before_pods_still_to_be_created(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "first"))
    await sync.settle()
    for i in range(5):  # the rollout goes on: five pods wait for their edge copy
        sync.put(tenant, PODS, pod("shop", f"later-{i}"))
    epod = edge.get(PODS, sync.edge_ns(), "first")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running", "podIP": "10.1.0.7"}})
    taken = await sync.ctx.queue.get()
    assert taken == WorkKey("tenant-a", "Pod", "shop", "first")
    await sync.controller.process(taken)
    sync.ctx.queue.done(taken)
    tpod = tenant.get(PODS, "shop", "first")
    assert tpod is not None and tpod["status"]["phase"] == "Running"
    assert edge.get(PODS, sync.edge_ns(), "later-0") is None  # not created yet


async def test_an_edge_event_ahead_of_the_binding_mirrors_status_without_binding_again(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    unbound = sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    tenant_client = sync.client(tenant)
    binds = [c for c in tenant_client.writes() if c.verb == "bind"]
    assert len(binds) == 1
    # The tenant watch lags: its cache still holds the pod as it was before the binding.
    tenant.informers["pods"].store.upsert(unbound)
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running", "podIP": "10.1.0.7"}})
    key = await sync.ctx.queue.get()
    await sync.controller.process(key)
    sync.ctx.queue.done(key)
    assert len([c for c in tenant_client.writes() if c.verb == "bind"]) == 1
    status = [c for c in tenant_client.writes()
              if c.verb == "patch/status" and c.resource == "pods"]
    assert status and status[-1].body["status"]["phase"] == "Running"


class Renewing(ResourceSyncer):
    """A kind whose reconcile asks to be looked at again, as a virtual node's Lease does."""

    kind = "Renewing"

    async def reconcile(self, key: WorkKey) -> float | None:
        return 0.01 if key.name == "lease" else None


async def test_a_requeue_the_reconcile_asked_for_is_not_queued_behind_new_work() -> None:
    sync = SyncTest(syncers=(Renewing,))
    sync.add_tenant()
    lease = WorkKey("tenant-a", "Renewing", "", "lease")
    await sync.controller.process(lease)
    for i in range(3):  # a rollout's work, queued before the renewal is due
        sync.ctx.queue.add(WorkKey("tenant-a", "Renewing", "", f"pod-{i}"))
    await asyncio.sleep(0.05)
    assert await sync.ctx.queue.get() == lease
    sync.close()


async def test_virtual_node_work_goes_before_a_backlog_of_pod_status(sync: SyncTest) -> None:
    """As after a restart holding many pods: every pod's edge event is queued, and the
    virtual node (its Lease renewal) must not wait for all of them."""
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    for i in range(5):
        sync.put(tenant, PODS, pod("shop", f"web-{i}"))
    await sync.settle()
    for i in range(5):
        epod = edge.get(PODS, sync.edge_ns(), f"web-{i}")
        assert epod is not None
        sync.put(edge, PODS, {**epod, "status": {"phase": "Running"}})
    sync.put(edge, NODES, edge_node("n1", labels={"changed": "yes"}))  # the node, last
    first = await sync.ctx.queue.get()
    assert first.kind == "Node"
