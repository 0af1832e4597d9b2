"""PodEchoes: the events of fusionvc's own create, binding and deletes are not queued,
nothing else."""

from __future__ import annotations

import copy

import pytest

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.kinds.pod_echoes import (
    PodEchoes,
    binding_only_change,
    deletion_only_change,
    grace_cut_only,
)
from syncer.kube import Obj
from syncer.kube.apis import PODS
from tests.builders import pod

from .harness import SyncTest

KEY = WorkKey("tenant-a", "Pod", "shop", "web")
PLACED = {markers.EDGE_CLUSTER: "edge-1", markers.EDGE_NODE: "n1"}


def bound(old: Obj, **changes: Obj) -> Obj:
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "vn-edge-1-n1"
    new["metadata"].setdefault("annotations", {}).update(PLACED)
    new["status"] = {"conditions": [{"type": "PodScheduled", "status": "True"}]}
    for part, values in changes.items():
        new[part].update(values)
    return new


def test_a_binding_and_nothing_else_is_a_binding_only_change() -> None:
    old = pod("shop", "web")
    assert binding_only_change(old, bound(old))
    topology = {"topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": "r1-a"}
    assert binding_only_change(old, bound(old, metadata={"labels": {**old["metadata"].get(
        "labels", {}), **topology}}))  # PodTopologyLabels admission, at the binding
    assert not binding_only_change(old, bound(old, metadata={"labels": topology}))  # removed
    assert not binding_only_change(old, bound(old, metadata={"labels": {"v": "2"}}))
    assert not binding_only_change(old, bound(old, metadata={"annotations": {"x": "1"}}))
    assert not binding_only_change(old, bound(old, spec={"priority": 5}))
    assert not binding_only_change(old, bound(old, metadata={"deletionTimestamp": "t"}))
    assert not binding_only_change(old, bound(old, metadata={"generation": 7}))
    assert not binding_only_change(bound(old), bound(old))  # bound already
    assert not binding_only_change(old, old)


def edge_copy(uid: str, status: Obj | None = None) -> Obj:
    found = pod("t-ns", "web")
    found["metadata"]["labels"] = {markers.MANAGED_BY: markers.MANAGED_BY_VALUE,
                                   markers.TENANT: "tenant-a"}
    found["metadata"]["annotations"] = {markers.TENANT_NAMESPACE: "shop",
                                        markers.TENANT_NAME: "web", markers.TENANT_UID: uid}
    found["status"] = status or {"phase": "Pending"}
    return found


def test_each_note_is_taken_once_and_only_by_its_own_write() -> None:
    echoes, uid = PodEchoes(), "u-1"
    assert markers.tenant_ref(edge_copy(uid)) == ("shop", "web", uid)
    assert not echoes.is_create_echo("edge-1", None, edge_copy(uid))  # nothing noted
    echoes.creating(uid, "edge-1")
    assert not echoes.is_create_echo("edge-2", None, edge_copy(uid))  # another cluster
    assert not echoes.is_create_echo("edge-1", edge_copy(uid), edge_copy(uid))  # not ADDED
    assert echoes.is_create_echo("edge-1", None, edge_copy(uid))
    assert not echoes.is_create_echo("edge-1", None, edge_copy(uid))  # taken
    echoes.creating(uid, "edge-1")  # a relist's ADDED of a copy already running is news
    assert not echoes.is_create_echo("edge-1", None, edge_copy(uid, {"phase": "Running"}))
    old = pod("shop", "web")
    old["metadata"]["uid"] = "u-2"
    echoes.binding("u-2")
    assert not echoes.is_binding_echo(old, bound(old, metadata={"labels": {"v": "2"}}))
    assert not echoes.is_binding_echo(old, bound(old))  # the note went with the first event
    echoes.binding("u-2")
    echoes.forget("u-2")
    assert not echoes.is_binding_echo(old, bound(old))


async def test_placing_a_pod_queues_its_key_again_for_neither_of_its_own_writes(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web"))
    assert KEY in await sync.queued()
    await sync.controller.process(KEY)
    tpod, epod = tenant.get(PODS, "shop", "web"), edge.get(PODS, sync.edge_ns(), "web")
    assert tpod is not None and tpod["spec"]["nodeName"] and epod is not None
    assert KEY not in await sync.queued()  # the copy's ADDED and the binding: echoes
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running"}})
    assert KEY in await sync.queued()  # the edge's own news goes up as before


def marked(old: Obj, grace: int = 30, **changes: Obj) -> Obj:
    new = copy.deepcopy(old)
    new["metadata"].update(deletionTimestamp=f"t+{grace}", deletionGracePeriodSeconds=grace,
                           generation=new["metadata"].get("generation", 1) + 1,
                           resourceVersion="88")
    for part, values in changes.items():
        new[part].update(values)
    return new


def test_a_deletion_and_nothing_else_is_a_deletion_only_change() -> None:
    old = edge_copy("u-1", {"phase": "Running"})
    assert deletion_only_change(old, marked(old))
    assert deletion_only_change(marked(old), marked(marked(old), grace=0))  # grace cut
    assert not deletion_only_change(old, old)  # not marked
    assert not deletion_only_change(old, marked(old, status={"phase": "Succeeded"}))
    assert not deletion_only_change(old, marked(old, spec={"nodeName": "n2"}))
    assert not deletion_only_change(old, marked(old, metadata={"finalizers": ["f"]}))
    assert not deletion_only_change(old, marked(old, metadata={"labels": {"v": "2"}}))


def test_only_a_marked_pods_grace_cut_is_grace_cut_only() -> None:
    old = edge_copy("u-1", {"phase": "Running"})
    assert grace_cut_only(marked(old), marked(marked(old), grace=0))
    assert not grace_cut_only(old, marked(old))  # the first mark: someone deletes it
    assert not grace_cut_only(marked(old), None)  # gone
    assert not grace_cut_only(marked(old), marked(marked(old), grace=0,
                                                  status={"phase": "Succeeded"}))


async def test_delete_notes_are_taken_by_their_own_events() -> None:
    echoes = PodEchoes()
    copy_ = edge_copy("u-1", {"phase": "Running"})
    copy_["metadata"]["uid"] = "c-1"
    assert not echoes.is_delete_echo(copy_, marked(copy_))  # nothing noted
    async with echoes.deleting("c-1"):
        pass
    assert not echoes.is_delete_echo(copy_, None)  # gone: news for the tenant pod
    assert echoes.is_delete_echo(copy_, marked(copy_))
    assert not echoes.is_delete_echo(copy_, marked(copy_))  # taken
    async with echoes.deleting("c-1"):  # the kubelet's report in the same event is news
        pass
    assert not echoes.is_delete_echo(copy_, marked(copy_, status={"phase": "Succeeded"}))
    with pytest.raises(RuntimeError):
        async with echoes.deleting("c-1"):
            raise RuntimeError("timeout")  # a delete that failed leaves no note
    assert not echoes.is_delete_echo(copy_, marked(copy_))
    tpod = marked(pod("shop", "web"))
    tpod["metadata"]["uid"] = "u-1"
    assert not echoes.is_finish_echo(tpod, None)
    async with echoes.finishing("u-1"):
        pass
    assert not echoes.is_finish_echo(tpod, marked(tpod, status={"phase": "Failed"}))
    assert echoes.is_finish_echo(tpod, marked(tpod, grace=0))  # the grace cut to zero
    assert echoes.is_finish_echo(tpod, None)  # then gone, which takes the note
    assert not echoes.is_finish_echo(tpod, None)


async def test_finishing_a_delete_queues_the_key_for_none_of_its_own_events(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and edge.get(PODS, sync.edge_ns(), "web") is not None
    sync.put(tenant, PODS, marked(tpod))
    assert KEY in await sync.queued()
    await sync.controller.process(KEY)  # the copy deleted (at once, in this harness)
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    assert KEY in await sync.queued()  # the copy gone: the tenant pod is finished
    await sync.controller.process(KEY)
    assert tenant.get(PODS, "shop", "web") is None
    assert KEY not in await sync.queued()  # the final delete's own event
    finals = [c for c in sync.client(tenant).writes(PODS) if c.verb == "delete"]
    assert len(finals) == 1 and finals[0].body["grace"] == 0


async def test_the_nodes_final_delete_of_a_marked_copy_queues_nothing(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.put(edge, PODS, marked(epod))  # marked by someone else (an eviction): news
    assert KEY in await sync.queued()
    going = edge.get(PODS, sync.edge_ns(), "web")
    assert going is not None
    sync.put(edge, PODS, marked(going, grace=0))  # the node's final delete
    assert KEY not in await sync.queued()
    sync.remove(edge, PODS, sync.edge_ns(), "web")
    assert KEY in await sync.queued()  # gone: the tenant pod is finished
