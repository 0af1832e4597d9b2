"""Virtual node heartbeats (syncer/kinds/node_heartbeat.py): the setting, the Lease, and the
only periodic tenant write per virtual node, through SyncTest."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncer.core.keys import WorkKey
from syncer.kinds.node_heartbeat import (
    RenewalSchedule,
    lease_duration_s,
    recommended_grace_period_s,
)
from syncer.kinds.nodes import VirtualNodeSyncer
from syncer.kube.apis import LEASES, NODES, PODS
from syncer.ops.settings import SettingsError, load_settings
from tests.builders import edge_node, pod

from .harness import SyncTest

VNODE = "vn-edge-1-n1"
KEY = WorkKey("tenant-a", "Node", "", VNODE)

# ---- the setting -----------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "env", "file", "seconds"), [
    ([], {}, None, 10.0),  # the kubelet's renew interval
    (["--node-heartbeat=60s"], {}, None, 60.0),
    (["--node-heartbeat", "2m"], {}, None, 120.0),
    ([], {"FUSIONVC_NODE_HEARTBEAT": "45"}, None, 45.0),
    ([], {}, "sync: {node_heartbeat_s: 30s}\n", 30.0),
    (["--node-heartbeat=20s"], {"FUSIONVC_NODE_HEARTBEAT": "45"}, None, 20.0),
])
def test_the_heartbeat_setting(tmp_path: Path, argv: list[str], env: dict[str, str],
                               file: str | None, seconds: float) -> None:
    if file is not None:
        (tmp_path / "c.yaml").write_text(file)
        argv = [*argv, "--config", str(tmp_path / "c.yaml")]
    assert load_settings(argv, env).sync.node_heartbeat_s == seconds


@pytest.mark.parametrize(("argv", "env", "file", "message"), [
    (["--node-heartbeat=0"], {}, None, "--node-heartbeat: must be greater than 0"),
    (["--node-heartbeat=500ms"], {}, None,
     "--node-heartbeat: must be between 1s and 600s, got 0.5s"),
    ([], {"FUSIONVC_NODE_HEARTBEAT": "1h"}, None,
     "FUSIONVC_NODE_HEARTBEAT: must be between 1s and 600s, got 3600s"),
    ([], {}, "sync: {node_heartbeat_s: often}\n",
     "sync.node_heartbeat_s in {file}: expected a duration, got 'often'"),
])
def test_a_bad_heartbeat_names_its_source(tmp_path: Path, argv: list[str], env: dict[str, str],
                                          file: str | None, message: str) -> None:
    if file is not None:
        (tmp_path / "c.yaml").write_text(file)
        argv = [*argv, "--config", str(tmp_path / "c.yaml")]
        message = message.format(file=tmp_path / "c.yaml")
    with pytest.raises(SettingsError) as caught:
        load_settings(argv, env)
    assert message in str(caught.value)


@pytest.mark.parametrize(("heartbeat", "lease", "grace"), [
    (1.0, 40, 50),
    (10.0, 40, 50),  # the kubelet's Lease and kube-controller-manager's default grace period
    (15.0, 60, 75),
    (60.0, 240, 300),
    (62.5, 250, 313),
    (600.0, 2400, 3000),
])
def test_lease_duration_and_recommended_grace_period(heartbeat: float, lease: int,
                                                     grace: int) -> None:
    assert lease_duration_s(heartbeat) == lease
    assert recommended_grace_period_s(heartbeat) == grace


def test_the_schedule_says_when_a_renewal_is_due() -> None:
    now = [100.0]
    schedule = RenewalSchedule(60.0, clock=lambda: now[0])
    assert schedule.due_in("a") == 0.0  # never renewed here: due
    schedule.renewed("a")
    assert schedule.due_in("a") == 60.0
    now[0] += 30.0
    assert schedule.due_in("a") == 30.0
    now[0] += 29.5  # a requeue that fires a moment early still renews
    assert schedule.due_in("a") == 0.0
    schedule.forget("a")
    assert len(schedule) == 0 and schedule.due_in("a") == 0.0


# ---- through the syncer ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_heartbeat(sync: SyncTest, seconds: float) -> Clock:
    clock = Clock()
    nodes = sync.syncer("Node")
    assert isinstance(nodes, VirtualNodeSyncer)
    nodes.heartbeats = RenewalSchedule(seconds, clock=clock)
    return clock


async def pod_on_n1(sync: SyncTest) -> None:
    sync.put(sync.ctx.tenants["tenant-a"], PODS, pod("shop", "web"))
    await sync.settle()


def tenant_writes(sync: SyncTest) -> list[tuple[str, str]]:
    return [(c.verb, c.resource) for c in sync.client(sync.ctx.tenants["tenant-a"]).writes()
            if c.resource in ("nodes", "leases")]


def ready_of(sync: SyncTest) -> tuple[str, str]:
    vnode = sync.ctx.tenants["tenant-a"].get(NODES, "", VNODE)
    assert vnode is not None
    ready = next(c for c in vnode["status"]["conditions"] if c["type"] == "Ready")
    return ready["status"], ready.get("reason", "")


def test_the_context_carries_the_setting_into_the_syncer() -> None:
    sync = SyncTest()
    try:
        assert sync.ctx.node_heartbeat_s == 10.0
        sync.ctx.node_heartbeat_s = 60.0
        nodes = VirtualNodeSyncer(sync.ctx)
        assert (nodes.heartbeats.heartbeat_s, nodes.heartbeats.lease_seconds) == (60.0, 240)
    finally:
        sync.close()


async def test_the_lease_says_four_heartbeats(sync: SyncTest) -> None:
    with_heartbeat(sync, 60.0)
    await pod_on_n1(sync)
    lease = sync.ctx.tenants["tenant-a"].get(LEASES, "kube-node-lease", VNODE)
    assert lease is not None
    assert lease["spec"]["leaseDurationSeconds"] == 240
    assert lease["spec"]["holderIdentity"] == VNODE


async def test_between_heartbeats_nothing_is_written(sync: SyncTest) -> None:
    """The drift scan, an edge node's own heartbeat and a pod event wake the virtual node:
    none of them writes to the tenant (each used to renew the Lease once more)."""
    clock = with_heartbeat(sync, 60.0)
    await pod_on_n1(sync)
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.client(tenant).calls.clear()
    clock.now += 20
    sync.controller.scan_once()
    beat = edge_node("n1")
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:20Z"
    sync.put(edge, NODES, beat)
    await sync.settle()
    assert tenant_writes(sync) == []
    assert await sync.syncer("Node").reconcile(KEY) == 40.0  # requeued for its next renewal
    clock.now += 40
    assert await sync.syncer("Node").reconcile(KEY) == 60.0
    assert tenant_writes(sync) == [("patch", "leases")]


async def test_a_status_change_is_written_without_waiting_for_the_heartbeat(
        sync: SyncTest) -> None:
    clock = with_heartbeat(sync, 60.0)
    await pod_on_n1(sync)
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.client(tenant).calls.clear()
    clock.now += 5
    sync.put(edge, NODES, edge_node("n1", cpu="32"))
    await sync.settle()
    assert tenant_writes(sync) == [("patch/status", "nodes")]
    vnode = tenant.get(NODES, "", VNODE)
    assert vnode is not None and vnode["status"]["capacity"]["cpu"] == "32"


async def test_an_unreachable_edge_goes_unknown_once_and_comes_back(sync: SyncTest) -> None:
    clock = with_heartbeat(sync, 60.0)
    await pod_on_n1(sync)
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.client(tenant).calls.clear()
    for informer in edge.informers.values():
        informer.healthy = False
    for _ in range(3):  # no Lease renewal, one status write
        clock.now += 60
        assert await sync.syncer("Node").reconcile(KEY) == 60.0
    assert tenant_writes(sync) == [("patch/status", "nodes")]
    assert ready_of(sync) == ("Unknown", "EdgeClusterUnreachable")
    for informer in edge.informers.values():
        informer.healthy = True
    await sync.syncer("Node").reconcile(KEY)
    assert ready_of(sync)[0] == "True"
    assert tenant_writes(sync)[1:] == [("patch/status", "nodes"), ("patch", "leases")]


async def test_a_node_the_tenant_marked_unknown_is_set_ready_again(sync: SyncTest) -> None:
    """The tenant controller-manager marks a node Unknown when its grace period passed
    without a renewal (a syncer that was down): the next reconcile writes Ready back."""
    with_heartbeat(sync, 60.0)
    await pod_on_n1(sync)
    tenant = sync.ctx.tenants["tenant-a"]
    vnode = tenant.get(NODES, "", VNODE)
    assert vnode is not None
    unknown = {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}
    sync.put(tenant, NODES, {**vnode, "status": {**vnode["status"], "conditions": [unknown]}})
    await sync.settle()
    assert ready_of(sync) == ("True", "")


async def test_a_removed_virtual_node_leaves_no_schedule_behind(sync: SyncTest) -> None:
    with_heartbeat(sync, 60.0)
    await pod_on_n1(sync)
    nodes = sync.syncer("Node")
    assert isinstance(nodes, VirtualNodeSyncer) and len(nodes.heartbeats) == 1
    tenant = sync.ctx.tenants["tenant-a"]
    sync.remove(tenant, PODS, "shop", "web")
    await sync.settle()  # the edge pod goes too
    vnode = tenant.get(NODES, "", VNODE)
    assert vnode is not None
    sync.put(tenant, NODES, {**vnode, "metadata": {
        **vnode["metadata"], "creationTimestamp": "2020-01-01T00:00:00Z"}})
    await sync.settle()
    assert tenant.get(NODES, "", VNODE) is None
    assert len(nodes.heartbeats) == 0
    del sync.ctx.tenants["tenant-a"]  # a tenant gone: its keys are forgotten as they fire
    nodes.heartbeats.renewed(KEY)
    assert await nodes.reconcile(KEY) is None
    assert len(nodes.heartbeats) == 0


def restarted_with_pods_listing(sync: SyncTest, *, nodes_listed: bool = True) -> None:
    """As a new process sees it: the tenant's pods (and maybe Nodes) are still listing."""
    tenant = sync.ctx.tenants["tenant-a"]
    tenant.informers["pods"].synced.clear()
    if not nodes_listed:
        tenant.informers["nodes"].synced.clear()
    tenant._synced_count = -1  # the latch of a new connection
    sync.client(tenant).calls.clear()


async def test_while_pods_list_after_a_restart_leases_are_still_renewed(
        sync: SyncTest) -> None:
    clock = with_heartbeat(sync, 10.0)
    await pod_on_n1(sync)
    restarted_with_pods_listing(sync)
    clock.now += 10
    sync.ctx.queue.add(KEY)
    await sync.settle()
    # The Lease only: no status, no removal decided on a partial view of the pods.
    assert tenant_writes(sync) == [("patch", "leases")]
    assert KEY in sync.controller._parked["tenant-a"]  # reconciled once the caches synced
    assert KEY in sync.ctx.queue._timers  # and back for the next renewal meanwhile


async def test_a_restarted_syncer_writes_its_kubelet_port_as_soon_as_the_caches_synced(
        sync: SyncTest) -> None:
    """Not at the next renewal: until then kubectl logs and exec dialled the old process."""
    clock = with_heartbeat(sync, 30.0)
    sync.ctx.kubelet_address = ("127.0.0.1", 10250)
    await pod_on_n1(sync)
    restarted_with_pods_listing(sync)
    sync.ctx.kubelet_address = ("127.0.0.1", 20250)  # the new process listens elsewhere
    clock.now += 30
    sync.ctx.queue.add(KEY)
    await sync.settle()
    assert tenant_writes(sync) == [("patch", "leases")]
    sync.ctx.tenants["tenant-a"].informers["pods"].synced.set()
    sync.ctx.tenants["tenant-a"]._synced_count = -1
    assert sync.controller.unpark() >= 1
    await sync.settle()
    assert tenant_writes(sync) == [("patch", "leases"), ("patch/status", "nodes")]
    vnode = sync.ctx.tenants["tenant-a"].get(NODES, "", VNODE)
    assert vnode is not None
    assert vnode["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 20250


async def test_before_the_nodes_listed_a_virtual_node_waits(sync: SyncTest) -> None:
    clock = with_heartbeat(sync, 10.0)
    await pod_on_n1(sync)
    restarted_with_pods_listing(sync, nodes_listed=False)
    clock.now += 10
    sync.ctx.queue.add(KEY)
    await sync.settle()
    assert tenant_writes(sync) == []
    assert KEY in sync.controller._parked["tenant-a"]
