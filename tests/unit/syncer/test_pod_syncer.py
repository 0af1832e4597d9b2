"""PodSyncer through the SyncTest harness: events -> keys, and what reconcile writes."""

from __future__ import annotations

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.kube.apis import EVENTS, NODES, PODS
from syncer.kube.client import KubeError
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


def _marked(obj: dict, grace: int) -> dict:  # type: ignore[type-arg]
    return {**obj, "metadata": {**obj["metadata"], "deletionGracePeriodSeconds": grace,
                                "deletionTimestamp": "2026-01-01T00:05:00Z"}}


async def test_a_shorter_tenant_grace_cuts_the_edge_copys_mark(sync: SyncTest) -> None:
    await place(sync)
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    tpod, epod = tenant.get(PODS, "shop", "web"), edge.get(PODS, sync.edge_ns(), "web")
    assert tpod is not None and epod is not None
    sync.put(edge, PODS, _marked(epod, 300))  # the copy terminating with the first grace
    sync.put(tenant, PODS, _marked(tpod, 300))
    await sync.settle()
    assert not [c for c in sync.client(edge).writes(PODS) if c.verb == "delete"]
    sync.put(tenant, PODS, _marked(tpod, 5))  # kubectl delete --grace-period=5
    await sync.settle()
    deletes = [c for c in sync.client(edge).writes(PODS) if c.verb == "delete"]
    assert [(c.body["uid"], c.body["grace"]) for c in deletes] == [
        (epod["metadata"]["uid"], 5)]


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


async def test_a_gated_pod_waits_for_its_gates_then_is_placed(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    gated = pod("shop", "web", spec=pod_spec(schedulingGates=[{"name": "quota"}]))
    created = sync.put(tenant, PODS, gated)
    await sync.settle()
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    cond = tpod["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False",
                                                              "SchedulingGated")
    assert not sync.client(tenant).writes(EVENTS)  # as kube-scheduler: no event for a gate
    sync.put(tenant, PODS, {**created, "spec": pod_spec()})  # the last gate removed
    await sync.settle()
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None and "schedulingGates" not in epod["spec"]


async def test_spec_updates_reach_the_edge_and_observed_generation_follows(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    first = pod("shop", "web")
    first["metadata"]["generation"] = 1
    sync.put(tenant, PODS, first)
    await sync.settle()
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running",
                                             "conditions": [{"type": "Ready", "status": "True"}]}})
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and tpod["status"]["observedGeneration"] == 1
    changed = {**tpod, "metadata": {**tpod["metadata"], "generation": 2},
               "spec": {**tpod["spec"], "activeDeadlineSeconds": 600,
                        "containers": [container(image="registry.local/app:2")]}}
    sync.put(tenant, PODS, changed)
    await sync.settle()
    patches = [c.body for c in sync.client(edge).writes(PODS) if c.verb == "patch"]
    assert patches[-1]["spec"] == {"containers": [{"name": "main",
                                                   "image": "registry.local/app:2"}],
                                   "activeDeadlineSeconds": 600}
    assert patches[-1]["metadata"]["annotations"] == {markers.TENANT_GENERATION: "2"}
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and tpod["status"]["observedGeneration"] == 2
    assert tpod["status"]["conditions"][0]["observedGeneration"] == 2


async def test_an_update_the_edge_refuses_is_reported_once_not_retried(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await place(sync)
    sync.client(edge).fail[("patch", "pods")] = KubeError(
        422, "Invalid", 'Pod "web" is invalid: spec.tolerations: Forbidden: existing '
        "toleration can not be modified except its tolerationSeconds")
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    sync.put(tenant, PODS, {**tpod, "metadata": {**tpod["metadata"], "generation": 2},
                            "spec": {**tpod["spec"], "tolerations": [{"key": "x",
                                                                      "operator": "Exists"}]}})
    await sync.settle()
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running"}})  # more events: no retry
    await sync.settle()
    patches = [c for c in sync.client(edge).calls if c.verb == "patch"]
    assert len(patches) == 1
    events = [c.body for c in sync.client(tenant).writes(EVENTS)]
    assert [e["reason"] for e in events] == ["UpdateRejected"]
    assert "toleration can not be modified" in events[0]["message"]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and tpod["status"]["phase"] == "Running"  # status still mirrored


async def test_a_label_change_after_a_refused_one_is_tried(sync: SyncTest) -> None:
    """Labels do not bump the generation: a refusal must not block the tenant's next change."""
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await place(sync)
    sync.client(edge).fail[("patch", "pods")] = KubeError(
        403, "Forbidden", "this edge refuses pods with the refuse label")
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    meta = tpod["metadata"]
    sync.put(tenant, PODS, {**tpod, "metadata": {**meta, "labels": {
        **meta["labels"], "refuse": "yes"}}})
    await sync.settle()
    del sync.client(edge).fail[("patch", "pods")]
    sync.put(tenant, PODS, {**tpod, "metadata": {**meta, "labels": {
        **meta["labels"], "tier": "gold"}}})
    await sync.settle()
    patches = [c.body for c in sync.client(edge).calls if c.verb == "patch"]
    assert len(patches) == 2, "the refused change once, then the next one"
    assert patches[-1]["metadata"]["labels"]["tier"] == "gold"
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None and epod["metadata"]["labels"]["tier"] == "gold"
    assert "refuse" not in epod["metadata"]["labels"]
