"""FailoverMonitor over the SyncTest harness: a fake clock, scripted probes, real syncers."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration
from prometheus_client import CollectorRegistry

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.failover.gate import NOT_ADMITTED, GatedClient
from syncer.failover.monitor import FailoverMonitor, probe_inconclusive
from syncer.failover.state import Phase
from syncer.fleet.specs import EdgeSpec, FailoverSpec
from syncer.kube.apis import NODES, PODS
from syncer.kube.client import KubeClient, KubeError
from syncer.ops.metrics import Metrics
from tests.builders import pod

from .harness import SyncTest

T0 = 1_800_000_000.0  # after the harness's creation times
Obj = dict[str, Any]


class Scripted(FailoverMonitor):
    """Probes answer what the test says; the clock is the test's."""

    reachable = True
    now = T0

    async def _probe(self, name: str) -> bool:
        return self.reachable


def owned(name: str, kind: str | None) -> Obj:
    p = pod("shop", name)
    if kind:
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind,
                                             "name": "o", "uid": f"o-{name}",
                                             "controller": True}]
    return p


@pytest.fixture
async def world(sync: SyncTest) -> tuple[SyncTest, Scripted, list[int]]:
    tenant = sync.ctx.tenants["tenant-a"]
    for name, kind in (("web", "ReplicaSet"), ("bare", None), ("db-0", "StatefulSet")):
        sync.put(tenant, PODS, owned(name, kind))
    await sync.settle()
    requeued: list[int] = []
    monitor = Scripted(sync.ctx, Metrics(CollectorRegistry()), known=lambda _n: True,
                       requeue_all=lambda: requeued.append(1), run_tasks=False)
    monitor.clock = lambda: monitor.now  # type: ignore[method-assign]
    sync.ctx.admission = monitor
    monitor.track("edge-1", EdgeSpec(failover=FailoverSpec(60, 30)), None)
    return sync, monitor, requeued


def tenant_pod(sync: SyncTest, name: str) -> Obj | None:
    return sync.ctx.tenants["tenant-a"].get(PODS, "shop", name)


def condition(p: Obj | None, ctype: str) -> Obj:
    assert p is not None
    return next((c for c in p["status"].get("conditions") or [] if c["type"] == ctype), {})


async def lose(monitor: Scripted, at: float) -> None:
    monitor.reachable, monitor.now = False, T0 + at
    await monitor.tick("edge-1")


async def test_lost_pods_turn_not_ready_and_syncers_leave_the_edge_alone(
        world: tuple[SyncTest, Scripted, list[int]]) -> None:
    sync, monitor, _ = world
    edge = sync.client(sync.ctx.edges["edge-1"])
    await sync.queued()
    await lose(monitor, 0)
    assert monitor.states["edge-1"].phase is Phase.LOST and not monitor.admitted("edge-1")
    for name in ("web", "bare", "db-0"):
        ready = condition(tenant_pod(sync, name), "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "EdgeClusterUnreachable")
    queued = await sync.queued()
    assert WorkKey("", "EdgeCluster", "", "edge-1") in queued
    assert any(k.kind == "Node" for k in queued)  # virtual nodes: Unknown at once
    for key in queued:
        if key.tenant:
            await sync.controller.process(key)
    edge.calls.clear()
    for name in ("web", "bare", "db-0"):
        await sync.controller.process(WorkKey("tenant-a", "Pod", "shop", name))
    assert edge.calls == []  # no worker talks to the lost cluster
    vnode = next(iter(sync.ctx.tenants["tenant-a"].store(NODES)))
    ready = condition(vnode, "Ready")
    assert ready["status"] == "Unknown" and "edge-1" in ready["message"]
    assert tenant_pod(sync, "web") is not None  # nothing moves within the grace period


async def test_after_the_grace_period_pods_move_fail_or_wait(
        world: tuple[SyncTest, Scripted, list[int]]) -> None:
    sync, monitor, _ = world
    tenant = sync.client(sync.ctx.tenants["tenant-a"])
    await lose(monitor, 0)
    await lose(monitor, 60)
    assert monitor.states["edge-1"].moving
    assert tenant_pod(sync, "web") is None  # removed: its ReplicaSet recreates it
    patched = [c.body for c in tenant.calls if c.verb == "patch/status" and c.name == "web"]
    assert any(c["type"] == "DisruptionTarget" for b in patched
               for c in b["status"].get("conditions") or [])
    bare = tenant_pod(sync, "bare")
    assert bare is not None and bare["status"]["phase"] == "Failed"
    assert bare["status"]["reason"] == "EdgeClusterLost"
    db = tenant_pod(sync, "db-0")
    assert db is not None and db["status"]["phase"] != "Failed"  # waits for outOfService
    reasons = {c.body["reason"] for c in tenant.calls if c.resource == "events"
               and c.verb == "create"}
    assert {"EdgeClusterLost", "Rescheduled"} <= reasons
    monitor.specs["edge-1"] = EdgeSpec(failover=FailoverSpec(60, 30), out_of_service=True)
    await lose(monitor, 62)
    assert tenant_pod(sync, "db-0") is None


async def test_failback_deletes_leftovers_only_then_readmits(
        world: tuple[SyncTest, Scripted, list[int]]) -> None:
    sync, monitor, requeued = world
    edge = sync.ctx.edges["edge-1"]
    ens = sync.edge_ns()
    await lose(monitor, 0)
    await lose(monitor, 60)
    monitor.reachable, monitor.now = True, T0 + 100
    await monitor.tick("edge-1")
    assert monitor.states["edge-1"].phase is Phase.RECOVERING and not monitor.admitted("edge-1")
    assert edge.get(PODS, ens, "web") is not None  # not before it has been stable
    monitor.now = T0 + 130
    await monitor.tick("edge-1")
    assert monitor.states["edge-1"].phase is Phase.REACHABLE and monitor.admitted("edge-1")
    assert edge.get(PODS, ens, "web") is None and edge.get(PODS, ens, "bare") is None
    assert edge.get(PODS, ens, "db-0") is not None  # never moved: kept
    deletes = [c for c in sync.client(edge).calls if c.verb == "delete"]
    assert all(c.body["uid"] for c in deletes)  # UID preconditions
    assert requeued == [1]


async def test_a_short_flap_changes_nothing(
        world: tuple[SyncTest, Scripted, list[int]]) -> None:
    sync, monitor, requeued = world
    await lose(monitor, 0)
    monitor.reachable, monitor.now = True, T0 + 20
    await monitor.tick("edge-1")
    assert monitor.admitted("edge-1") and requeued == [1]
    assert all(tenant_pod(sync, n) is not None for n in ("web", "bare", "db-0"))
    assert all(tenant_pod(sync, n)["status"]["phase"] != "Failed"  # type: ignore[index]
               for n in ("web", "bare", "db-0"))


async def test_state_is_restored_from_the_edgecluster_status(sync: SyncTest) -> None:
    monitor = Scripted(sync.ctx, Metrics(CollectorRegistry()), known=lambda _n: True,
                       requeue_all=lambda: None, run_tasks=False)
    status = {"failover": {"phase": "FailedOver", "lostSince": "2027-01-15T07:59:00Z",
                           "failedOver": True}}
    monitor.track("edge-1", EdgeSpec(), status)
    assert monitor.states["edge-1"].moving and not monitor.admitted("edge-1")
    conds, extra = monitor.status("edge-1")
    assert extra["failover"]["lostSince"] == "2027-01-15T07:59:00Z"
    assert conds[0][:3] == ("Reachable", "False", "FailedOver")
    assert not monitor.admitted("not-looked-at-yet")
    monitor.track("edge-2", EdgeSpec(), None)  # reachable when last seen, not connected yet
    assert not monitor.admitted("edge-2")
    assert Scripted(sync.ctx, Metrics(CollectorRegistry()), known=lambda _n: False,
                    requeue_all=lambda: None, run_tasks=False).admitted("removed")


async def test_gated_client_refuses_object_calls_while_not_admitted() -> None:
    inner = KubeClient(ApiClient(Configuration(host="https://127.0.0.1:1")), "edge-1", 1.0)
    admitted = {"edge-1": False}
    gated = GatedClient(inner, lambda name: admitted[name])
    try:
        for call in (gated.get(PODS, "p", "ns"), gated.create(PODS, {"metadata": {}}, "ns"),
                     gated.patch(PODS, "p", {}, "ns"), gated.delete(PODS, "p", "ns")):
            with pytest.raises(KubeError) as err:
                await call
            assert (err.value.status, err.value.reason) == (503, NOT_ADMITTED)
        assert gated.ungated is inner and gated.name == "edge-1"
        assert markers.MANAGED_SELECTOR  # lists pass (informers keep watching): see gate.py
    finally:
        await gated.close()


@pytest.mark.parametrize(("timed_out", "loop_cpu_s", "waited_s", "inconclusive"), [
    (True, 1.5, 3.0, True),  # the loop computed half the wait: our stall, not the edge's
    (True, 0.75, 3.0, True),
    (True, 0.1, 3.0, False),  # an idle loop waited 3 s: the edge did not answer
    (False, 2.0, 3.0, False),  # refused or an error answer: the edge's doing, whatever we did
    (True, 0.0, 0.0, False),
])
def test_a_timeout_while_this_process_was_busy_is_not_counted(
        timed_out: bool, loop_cpu_s: float, waited_s: float, inconclusive: bool) -> None:
    assert probe_inconclusive(timed_out, loop_cpu_s, waited_s) is inconclusive
