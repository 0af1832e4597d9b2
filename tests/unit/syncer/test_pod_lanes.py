"""The queue lane of an edge pod's event (syncer/kinds/pod_lanes.py), and what it saves: a pod
still starting waits its turn, so its Pending and Running merge into one status write."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.core.keys import WorkKey
from syncer.core.queue import NEW, STARTED
from syncer.kinds.pod_lanes import edge_pod_lane, starting_as_it_should
from syncer.kube.apis import PODS
from tests.builders import pod

from .harness import SyncTest

Obj = dict[str, Any]


def edge_pod(status: Obj | None, *, deleting: bool = False) -> Obj:
    meta: Obj = {"name": "web", "namespace": "ns", "resourceVersion": "7"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": "n1"}, "status": status}


def waiting(reason: str, restarts: int = 0) -> Obj:
    return {"name": "c", "ready": False, "restartCount": restarts,
            "state": {"waiting": {"reason": reason}}}


def terminated(code: int) -> Obj:
    return {"name": "init", "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": "Completed"}}}


CREATED = {"phase": "Pending", "qosClass": "Burstable"}  # the edge API server's, at create
CREATING = {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [waiting("ContainerCreating")]}
RUNNING = {"phase": "Running", "podIP": "10.1.0.7",
           "conditions": [{"type": "Ready", "status": "True"}],
           "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0,
                                  "state": {"running": {}}}]}


@pytest.mark.parametrize(("status", "deleting", "starting"), [
    (None, False, True),  # no status at all
    (CREATED, False, True),
    (CREATING, False, True),
    ({"phase": "Pending", "initContainerStatuses": [terminated(0)],
      "containerStatuses": [waiting("PodInitializing")]}, False, True),
    ({"phase": "Pending", "containerStatuses": [waiting("ErrImagePull")]}, False, False),
    ({"phase": "Pending", "containerStatuses": [waiting("ImagePullBackOff")]}, False, False),
    ({"phase": "Pending", "containerStatuses": [waiting("CreateContainerConfigError")]},
     False, False),
    ({"phase": "Pending", "initContainerStatuses": [terminated(1)]}, False, False),
    ({"phase": "Pending", "initContainerStatuses": [waiting("PodInitializing", 2)]},
     False, False),  # an init container restarted
    ({"phase": "Pending", "reason": "UnexpectedAdmissionError"}, False, False),
    (CREATING, True, False),  # being deleted
    (RUNNING, False, False),
    ({"phase": "Succeeded"}, False, False),
    ({"phase": "Failed", "reason": "Evicted"}, False, False),
])
def test_a_pod_starts_as_it_should_until_it_runs_or_something_goes_wrong(
        status: Obj | None, deleting: bool, starting: bool) -> None:
    assert starting_as_it_should(edge_pod(status, deleting=deleting)) is starting


@pytest.mark.parametrize(("old", "new", "lane"), [
    (None, edge_pod(CREATED), NEW),  # the copy fusionvc just made
    (edge_pod(CREATED), edge_pod(CREATING), NEW),  # soon replaced by Running
    (edge_pod(CREATING), edge_pod(RUNNING), STARTED),  # what the tenant waits for
    (None, edge_pod(RUNNING), STARTED),  # a running copy seen first (a restart's list)
    (edge_pod(CREATING), edge_pod({"phase": "Pending",
                                   "containerStatuses": [waiting("ErrImagePull")]}), STARTED),
    (edge_pod(RUNNING), edge_pod({**RUNNING, "conditions": [{"type": "Ready",
                                                             "status": "False"}]}), STARTED),
    (edge_pod(RUNNING), edge_pod({"phase": "Succeeded"}), STARTED),
    (edge_pod(RUNNING), edge_pod(RUNNING), NEW),  # the status did not move (an echo)
    (edge_pod(RUNNING), edge_pod(RUNNING, deleting=True), STARTED),  # going away
    (edge_pod(CREATED), edge_pod(CREATED, deleting=True), STARTED),
    (edge_pod(RUNNING), None, STARTED),  # gone: the tenant's graceful delete ends
])
def test_the_lane_of_an_edge_pod_event(old: Obj | None, new: Obj | None, lane: int) -> None:
    assert edge_pod_lane(old, new) == lane


async def test_a_created_copy_waits_behind_the_tenants_creates_and_a_running_one_does_not(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "first"))
    await sync.settle()
    for i in range(3):  # the rollout goes on
        sync.put(tenant, PODS, pod("shop", f"later-{i}"))
    epod = edge.get(PODS, sync.edge_ns(), "first")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": CREATING})
    assert (await sync.ctx.queue.get()).name == "later-0"  # the Pending copy waits its turn
    sync.put(edge, PODS, {**epod, "status": RUNNING})
    first = WorkKey("tenant-a", "Pod", "shop", "first")
    assert await sync.ctx.queue.get() == first  # moved up when it runs


async def test_a_rollouts_copy_gets_one_status_write_from_creating_to_running(
        sync: SyncTest) -> None:
    """Served at once, the status of a copy whose container is being created went up on
    its own, then Running: two writes. Waiting its turn, it merges with Running."""
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, {**pod("shop", "web"), "metadata": {
        **pod("shop", "web")["metadata"], "generation": 1}})
    await sync.settle()
    for i in range(2):
        sync.put(tenant, PODS, pod("shop", f"later-{i}"))
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": CREATING})
    tenant_client = sync.client(tenant)
    before = len(tenant_client.writes())
    for step in range(3):
        key = await sync.ctx.queue.get()
        await sync.controller.process(key)
        sync.ctx.queue.done(key)
        if step == 0:  # kwok marks the copy Running while the rollout goes on
            sync.put(edge, PODS, {**epod, "status": RUNNING})
    await sync.settle()
    status = [c for c in tenant_client.writes()[before:]
              if c.verb == "patch/status" and c.name == "web"]
    assert len(status) == 1 and status[0].body["status"]["phase"] == "Running"
    assert status[0].body["status"]["observedGeneration"] == 1
