"""PersistentVolumeClaims (syncer/kinds/pvcs.py): translation tables, and through SyncTest
the copy where the pod runs, the storage class mapping, placement, status up, deletion."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

import pytest

from syncer.core import markers
from syncer.fleet.conn import EdgeConn
from syncer.kinds.pod_translate import translate_pod_down
from syncer.kinds.pvcs import claim_names, edge_storage_class, status_up, translate_pvc_down
from syncer.kube import Obj
from syncer.kube.apis import EVENTS, NODES, PODS, PVCS
from syncer.kube.client import KubeError
from tests.builders import edge_node, pod, pod_spec

from .harness import SyncTest


def claim(name: str = "data", storage_class: str | None = "fast", **meta: Any) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "volumeName": "tenant-pv", "selector": {"matchLabels": {"a": "b"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}", **meta},
            "spec": spec}


def using(*claims: str, name: str = "web") -> Obj:
    return pod("shop", name, spec=pod_spec(volumes=[
        {"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]))


def offer(edge: EdgeConn, **classes: str) -> None:
    edge.spec = dataclasses.replace(edge.spec, storage_classes=MappingProxyType(classes))


@pytest.mark.parametrize(("mapping", "storage_class", "want"), [
    ({"fast": "local-ssd"}, "fast", (True, "local-ssd")),
    ({"fast": "local-ssd"}, "slow", (False, None)),
    ({}, None, (True, None)),  # no class: the edge's default
    (None, "fast", (False, None)),
])
def test_storage_class_mapping(mapping: dict[str, str] | None, storage_class: str | None,
                               want: tuple[bool, str | None]) -> None:
    assert edge_storage_class(mapping, claim(storage_class=storage_class)) == want


def test_the_edge_copy_keeps_what_the_edge_can_use() -> None:
    out = translate_pvc_down(claim(annotations={"volume.kubernetes.io/selected-node": "x",
                                                "team": "a"}),
                             tenant="t", edge_namespace="t-1-shop", storage_class="local-ssd")
    assert out["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-ssd",
                           "resources": {"requests": {"storage": "1Gi"}}}
    assert out["metadata"]["annotations"]["team"] == "a"
    assert "volume.kubernetes.io/selected-node" not in out["metadata"]["annotations"]
    assert markers.tenant_ref(out) == ("shop", "data", "uid-data")


def test_status_up_only_what_differs() -> None:
    edge = {"status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                       "accessModes": ["ReadWriteOnce"]}}
    assert status_up(edge, {"status": {"phase": "Pending"}}) == {
        "phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
    assert status_up(edge, edge) is None


async def test_a_claim_follows_its_pod_with_the_mapped_class_and_status_comes_up(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    offer(edge, fast="local-ssd")
    sync.put(tenant, PVCS, claim())
    sync.put(tenant, PODS, using("data"))
    await sync.settle()
    copy = edge.get(PVCS, sync.edge_ns(), "data")
    assert copy is not None and copy["spec"]["storageClassName"] == "local-ssd"
    assert edge.get(PODS, sync.edge_ns(), "web") is not None
    copy = edge.get(PVCS, sync.edge_ns(), "data")
    assert copy is not None  # the node the edge scheduler would have selected (WFFC classes)
    assert copy["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "n1"
    tclaim = tenant.get(PVCS, "shop", "data")
    assert tclaim is not None
    assert tclaim["metadata"]["annotations"][markers.EDGE_CLUSTER] == "edge-1"
    sync.put(edge, PVCS, {**copy, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                                             "accessModes": ["ReadWriteOnce"]}})
    await sync.settle()
    tclaim = tenant.get(PVCS, "shop", "data")
    assert tclaim is not None and tclaim["status"]["phase"] == "Bound"
    assert tclaim["status"]["capacity"] == {"storage": "1Gi"}
    # The pod leaves: the claim (its data) stays. The claim is deleted: the copy goes.
    sync.remove(tenant, PODS, "shop", "web")
    await sync.settle()
    assert edge.get(PVCS, sync.edge_ns(), "data") is not None
    sync.remove(tenant, PVCS, "shop", "data")
    await sync.settle()
    assert edge.get(PVCS, sync.edge_ns(), "data") is None


async def test_a_class_no_cluster_offers_keeps_the_pod_pending_with_the_reason(
        sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    offer(sync.ctx.edges["edge-1"], fast="local-ssd")
    sync.put(tenant, PVCS, claim(storage_class="gold"))
    sync.put(tenant, PODS, using("data"))
    await sync.settle()
    assert sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web") is None
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    assert 'storage class "gold" is offered by no edge cluster' in str(tpod["status"])


async def test_a_missing_claim_keeps_the_pod_pending_as_the_scheduler_says(
        sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    sync.put(tenant, PODS, using("nothere"))
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    assert 'persistentvolumeclaim "nothere" not found' in str(tpod["status"])


async def test_a_second_pod_goes_where_the_claim_lives(sync: SyncTest) -> None:
    tenant, one = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    two = sync.add_edge("edge-2")
    sync.put(two, NODES, edge_node("n2", cpu="64"))  # roomier: the scheduler would pick it
    offer(one, fast="local-ssd")
    offer(two, fast="ssd")
    sync.put(tenant, PVCS, claim(annotations={markers.EDGE_CLUSTER: "edge-1"}))
    sync.put(tenant, PODS, using("data"))
    await sync.settle()
    assert one.get(PODS, sync.edge_ns(), "web") is not None
    assert two.get(PVCS, sync.edge_ns(), "data") is None


async def test_an_edge_refusal_of_the_claim_reaches_the_tenant(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    offer(edge, fast="local-ssd")
    sync.client(edge).fail[("create", "persistentvolumeclaims")] = KubeError(
        403, "Forbidden", "exceeded quota: requests.storage")
    sync.put(tenant, PVCS, claim())
    sync.put(tenant, PODS, using("data"))
    await sync.settle()
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    events = [e for e in tenant.store(EVENTS) if e["reason"] == "EdgeRefused"]
    assert events and "exceeded quota" in events[0]["message"]
    assert events[0]["involvedObject"]["kind"] == "PersistentVolumeClaim"


async def test_a_pod_waiting_for_its_claim_is_placed_once_the_claim_appears(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    offer(edge, fast="local-ssd")
    sync.put(tenant, PODS, using("later"))
    await sync.settle()
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    sync.put(tenant, PVCS, claim("later"))
    await sync.settle()  # no drift scan here: the claim's arrival wakes the pod
    assert edge.get(PODS, sync.edge_ns(), "web") is not None
    assert edge.get(PVCS, sync.edge_ns(), "later") is not None


EPHEMERAL = {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
    "accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
    "resources": {"requests": {"storage": "1Gi"}}}}}}


def test_an_ephemeral_volume_is_the_claim_the_tenant_made_for_it() -> None:
    p = pod("shop", "web", spec=pod_spec(volumes=[EPHEMERAL, {"name": "e", "emptyDir": {}}]))
    assert claim_names(p) == ["web-scratch"]
    spec = translate_pod_down(p, tenant="t", edge_namespace="t-1-shop", edge_node="n1",
                              virtual_node="vn-e-n1")["spec"]
    assert spec["volumes"] == [{"name": "scratch",
                                "persistentVolumeClaim": {"claimName": "web-scratch"}},
                               {"name": "e", "emptyDir": {}}]


async def test_an_ephemeral_claim_is_copied_with_its_pod(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    offer(edge, fast="local-ssd")
    sync.put(tenant, PODS, pod("shop", "web", spec=pod_spec(volumes=[EPHEMERAL])))
    await sync.settle()
    assert edge.get(PODS, sync.edge_ns(), "web") is None  # its claim is not made yet
    sync.put(tenant, PVCS, claim("web-scratch"))  # as the tenant's ephemeral-volume controller
    await sync.settle()
    copy = edge.get(PVCS, sync.edge_ns(), "web-scratch")
    assert copy is not None and copy["spec"]["storageClassName"] == "local-ssd"
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    assert epod["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "web-scratch"}
