"""The tenant status written once per edge status (syncer/kinds/pod_status_writes.py): a
reconcile that sees a tenant cache lagging behind fusionvc's own status write does not
write the same patch again; anything new is written."""

from __future__ import annotations

import copy
from typing import Any

from syncer.kinds.pod_status_writes import StatusWrites
from syncer.kube.apis import PODS
from tests.builders import pod

from .harness import SyncTest

Obj = dict[str, Any]
RUNNING = {"phase": "Running", "podIP": "10.1.0.7",
           "conditions": [{"type": "Ready", "status": "True"}]}


def status_writes(sync: SyncTest, name: str = "web") -> list[Obj]:
    return [c.body["status"] for c in sync.client(sync.ctx.tenants["tenant-a"]).writes()
            if c.verb == "patch/status" and c.name == name]


def test_only_the_very_same_patch_for_the_same_edge_version_was_written() -> None:
    writes = StatusWrites()
    writes._written["uid-1"] = ("7", {"phase": "Running"})
    assert writes.already_written("uid-1", "7", {"phase": "Running"})
    assert not writes.already_written("uid-1", "8", {"phase": "Running"})  # a new edge status
    assert not writes.already_written("uid-1", "7", {"phase": "Failed"})  # tenant moved on
    assert not writes.already_written("uid-2", "7", {"phase": "Running"})


async def running_copy(sync: SyncTest) -> tuple[Obj, Obj]:
    """tenant-a's pod "web", created, bound and Running; its tenant version before the
    status write, and its edge copy."""
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    before = copy.deepcopy(tenant.get(PODS, "shop", "web"))
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert before is not None and epod is not None
    epod = sync.put(edge, PODS, {**epod, "status": RUNNING})
    await sync.settle()
    assert [s["phase"] for s in status_writes(sync)] == ["Running"]
    return before, epod


async def test_a_tenant_cache_behind_fusionvcs_own_write_gets_no_second_write(
        sync: SyncTest) -> None:
    before, _ = await running_copy(sync)
    tenant = sync.ctx.tenants["tenant-a"]
    tenant.informers["pods"].store.upsert(before)  # the cache does not show the write yet
    sync.put(tenant, PODS, {**before, "metadata": {**before["metadata"],
                                                   "labels": {"app": "web", "v": "2"}}})
    await sync.settle()
    assert len(status_writes(sync)) == 1


async def test_a_new_edge_status_is_written_even_while_the_cache_lags(sync: SyncTest) -> None:
    before, epod = await running_copy(sync)
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    tenant.informers["pods"].store.upsert(before)
    sync.put(edge, PODS, {**epod, "metadata": {**epod["metadata"], "resourceVersion": "999"},
                          "status": {**RUNNING, "podIP": "10.1.0.8"}})
    await sync.settle()
    assert [s.get("podIP") for s in status_writes(sync)] == ["10.1.0.7", "10.1.0.8"]


async def test_a_status_the_tenant_changed_since_is_put_right(sync: SyncTest) -> None:
    await running_copy(sync)
    tenant = sync.ctx.tenants["tenant-a"]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    sync.put(tenant, PODS, {**tpod, "metadata": {**tpod["metadata"], "labels": {"v": "2"}},
                            "status": {**tpod["status"], "phase": "Failed"}})
    await sync.settle()
    assert [s["phase"] for s in status_writes(sync)] == ["Running", "Running"]
