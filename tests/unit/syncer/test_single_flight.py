"""SingleFlight (syncer/core/single_flight.py), and the races it ends: the first pods of a
rollout making the same edge namespace and virtual node at once (and the new node's Lease
renewed by its own first reconcile meanwhile)."""

from __future__ import annotations

import asyncio

import pytest

from syncer.core.single_flight import SingleFlight
from syncer.kinds.nodes import VirtualNodeSyncer
from syncer.kube.apis import LEASES, NAMESPACES, NETWORKPOLICIES, NODES, PODS
from tests.builders import edge_node, namespace, pod

from .harness import SyncTest


async def test_calls_while_one_runs_share_its_result() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release, runs = asyncio.Event(), []

    async def work() -> int:
        runs.append(1)
        await release.wait()
        return 42

    calls = [asyncio.create_task(flight.run("k", work)) for _ in range(5)]
    await asyncio.sleep(0)
    assert flight.running("k")
    release.set()
    assert await asyncio.gather(*calls) == [42] * 5
    assert len(runs) == 1
    assert not flight.running("k")
    assert await flight.run("k", work) == 42 and len(runs) == 2  # done: runs again


async def test_other_keys_do_not_wait() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "a"

    async def fast() -> str:
        return "b"

    first = asyncio.create_task(flight.run("a", slow))
    await asyncio.sleep(0)
    assert await flight.run("b", fast) == "b"
    release.set()
    assert await first == "a"


async def test_a_failure_is_its_callers_and_a_waiter_runs_the_work_itself() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release, runs = asyncio.Event(), []

    async def work() -> str:
        runs.append(1)
        if len(runs) == 1:
            await release.wait()
            raise RuntimeError("409 from the first try")
        return "made"

    first = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await first
    assert await waiter == "made"
    assert len(runs) == 2


async def test_a_cancelled_leader_does_not_cancel_its_waiters() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    runs: list[int] = []

    async def work() -> str:
        runs.append(1)
        if len(runs) == 1:
            await asyncio.Event().wait()  # until cancelled
        return "made"

    leader = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    assert await waiter == "made"
    assert leader.cancelled()


async def test_a_cancelled_waiter_leaves_the_run_and_the_other_waiters_alone() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "made"

    leader = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    quitter = asyncio.create_task(flight.run("k", work))
    stayer = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    quitter.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await leader == "made" and await stayer == "made"
    assert quitter.cancelled()


class SlowCreates:
    """Holds every create on the recording client until released, as a busy API server
    would: concurrent workers all find the object missing first."""

    def __init__(self, sync: SyncTest, conn_name: str) -> None:
        conns = {**sync.ctx.tenants, **sync.ctx.edges}
        self.client = sync.client(conns[conn_name])
        self.release = asyncio.Event()
        original = self.client.create

        async def create(*args: object, **kwargs: object) -> None:
            await self.release.wait()
            await original(*args, **kwargs)  # type: ignore[arg-type]

        self.client.create = create  # type: ignore[method-assign]


async def test_workers_making_one_edge_namespace_at_once_create_it_once(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    slow = SlowCreates(sync, "edge-1")
    ensure = sync.ctx.namespaces.ensure
    calls = [asyncio.create_task(ensure(tenant, edge, "shop")) for _ in range(8)]
    await asyncio.sleep(0.01)
    slow.release.set()
    assert set(await asyncio.gather(*calls)) == {sync.edge_ns()}
    creates = [c for c in slow.client.writes() if c.verb == "create"]
    assert [c.resource for c in creates if c.resource == NAMESPACES.plural] == ["namespaces"]
    assert len([c for c in creates if c.resource == NETWORKPOLICIES.plural]) == 1
    assert not [c for c in slow.client.writes() if c.verb == "patch"]


async def test_workers_binding_pods_to_one_new_node_create_its_virtual_node_once() -> None:
    sync = SyncTest(syncers=(VirtualNodeSyncer,))
    tenant = sync.add_tenant()
    sync.put(tenant, NAMESPACES, namespace("shop"))
    sync.put(tenant, PODS, {**pod("shop", "web"), "spec": {"nodeName": "vn-edge-1-n1"}})
    edge = sync.add_edge()
    sync.put(edge, NODES, edge_node("n1"))
    slow = SlowCreates(sync, "tenant-a")
    ensure = sync.ctx.virtual_nodes.ensure
    calls = [asyncio.create_task(ensure(tenant, edge, "n1")) for _ in range(8)]
    await asyncio.sleep(0.01)
    slow.release.set()
    assert len(set(await asyncio.gather(*calls))) == 1
    await sync.settle()  # the new node's own reconcile: its Lease was just made
    assert [(c.verb, c.resource) for c in slow.client.writes()
            if c.resource in (NODES.plural, LEASES.plural)] == [("create", "nodes"),
                                                                ("create", "leases")]
    sync.close()
