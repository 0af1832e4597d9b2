"""PodSyncer through the SyncTest harness: events -> keys, and what reconcile writes."""

from __future__ import annotations

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.kube.apis import NODES, PODS
from tests.builders import container, edge_node, pod, pod_spec

from .harness import SyncTest

KEY = WorkKey("tenant-a", "Pod", "shop", "web")


async def place(t: SyncTest) -> None:
    t.put(t.ctx.tenants["tenant-a"], PODS, pod("shop", "web"))
    await t.settle()


async def test_tenant_events_queue_the_pod_but_not_status_only_changes(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    await sync.queued()
    created = sync.put(tenant, PODS, pod("shop", "web"))
    assert KEY in await sync.queued()
    sync.put(tenant, PODS, {**created, "status": {"phase": "Running"}})
    assert KEY not in await sync.queued()  # fusionvc's own status write
    sync.put(tenant, PODS, {**created, "metadata": {**created["metadata"],
                                                    "labels": {"app": "web", "v": "2"}}})
    assert KEY in await sync.queued()


async def test_a_new_pod_is_placed_created_on_the_edge_and_bound(sync: SyncTest) -> None:
    await place(sync)
    edge = sync.client(sync.ctx.edges["edge-1"])
    tenant = sync.client(sync.ctx.tenants["tenant-a"])
    created = [(c.verb, c.resource) for c in edge.writes()]
    assert created[:2] == [("create", "namespaces"), ("create", "networkpolicies")]
    assert ("create", "pods") in created
    epod = sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web")
    assert epod is not None and epod["spec"]["nodeName"] == "n1"
    assert markers.tenant_ref(epod) == ("shop", "web", sync.ctx.tenants["tenant-a"].get(
        PODS, "shop", "web")["metadata"]["uid"])  # type: ignore[index]
    verbs = [(c.verb, c.resource) for c in tenant.writes()]
    assert ("create", "nodes") in verbs and ("bind", "pods") in verbs
    tpod = sync.ctx.tenants["tenant-a"].get(PODS, "shop", "web")
    assert tpod is not None and tpod["spec"]["nodeName"] == "vn-edge-1-n1"


async def test_edge_events_map_back_to_the_tenant_key_and_foreign_pods_do_not(
        sync: SyncTest) -> None:
    await place(sync)
    edge = sync.ctx.edges["edge-1"]
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    syncer = sync.syncer("Pod")
    assert list(syncer.edge_event(edge, "pods", None, epod)) == [KEY]
    foreign = pod("kube-system", "dns")
    assert list(syncer.edge_event(edge, "pods", None, foreign)) == []


async def test_edge_status_is_mirrored_up(sync: SyncTest) -> None:
    await place(sync)
    edge = sync.ctx.edges["edge-1"]
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running", "podIP": "10.1.0.7"}})
    await sync.settle()
    tpod = sync.ctx.tenants["tenant-a"].get(PODS, "shop", "web")
    assert tpod is not None
    assert tpod["status"]["phase"] == "Running" and tpod["status"]["podIP"] == "10.1.0.7"


async def test_deleting_the_tenant_pod_deletes_the_edge_copy_by_uid(sync: SyncTest) -> None:
    await place(sync)
    edge = sync.ctx.edges["edge-1"]
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.remove(sync.ctx.tenants["tenant-a"], PODS, "shop", "web")
    await sync.settle()
    deletes = [c for c in sync.client(edge).writes(PODS) if c.verb == "delete"]
    assert [(c.name, c.body["uid"]) for c in deletes] == [("web", epod["metadata"]["uid"])]
    assert edge.get(PODS, sync.edge_ns(), "web") is None


async def test_a_forbidden_pod_is_refused_where_the_tenant_sees_it(sync: SyncTest) -> None:
    spec = pod_spec(containers=[container(securityContext={"privileged": True})])
    sync.put(sync.ctx.tenants["tenant-a"], PODS, pod("shop", "web", spec=spec))
    await sync.settle()
    assert not sync.client(sync.ctx.edges["edge-1"]).writes(PODS)
    tpod = sync.ctx.tenants["tenant-a"].get(PODS, "shop", "web")
    assert tpod is not None
    cond = tpod["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False",
                                                              "Forbidden")
    assert "privileged" in cond["message"]
    events = sync.client(sync.ctx.tenants["tenant-a"]).writes()
    assert any(c.resource == "events" and c.body["reason"] == "SyncRejected" for c in events)


async def test_unschedulable_waits_for_room_then_places(sync: SyncTest) -> None:
    spec = pod_spec(containers=[container(resources={"requests": {"cpu": "64"}})])
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, PODS, pod("shop", "web", spec=spec))
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and tpod["status"]["conditions"][0]["reason"] == "Unschedulable"
    sync.put(edge, NODES, edge_node("big", cpu="128"))  # the snapshot changed: retried
    await sync.settle()
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None and epod["spec"]["nodeName"] == "big"


async def test_scan_lists_tenant_pods_and_edge_orphans(sync: SyncTest) -> None:
    await place(sync)
    edge = sync.ctx.edges["edge-1"]
    orphan = pod(sync.edge_ns(), "gone")
    orphan["metadata"]["labels"] = markers.marker_labels("tenant-a")
    orphan["metadata"]["annotations"] = {markers.TENANT_NAMESPACE: "shop",
                                         markers.TENANT_NAME: "gone", markers.TENANT_UID: "x"}
    sync.put(edge, PODS, orphan)
    keys = set(sync.syncer("Pod").scan(sync.ctx.tenants["tenant-a"]))
    assert keys == {KEY, WorkKey("tenant-a", "Pod", "shop", "gone")}
