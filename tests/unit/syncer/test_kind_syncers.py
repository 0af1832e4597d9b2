"""ServiceSyncer, NamespaceSyncer, VirtualNodeSyncer and EventSyncer through SyncTest."""

from __future__ import annotations

import pytest

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.syncer import NameTaken
from syncer.kube.apis import EVENTS, LEASES, NAMESPACES, NODES, PODS, SERVICES
from syncer.kube.client import KubeError
from tests.builders import edge_node, namespace, pod, service

from .harness import SyncTest


async def running_pod(t: SyncTest, name: str = "web") -> None:
    t.put(t.ctx.tenants["tenant-a"], PODS, pod("shop", name, labels={"app": "web"}))
    await t.settle()


# ---- services ------------------------------------------------------------------------

async def test_a_service_is_copied_where_its_pods_run_and_follows_them(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, SERVICES, service("shop", "web"))
    await sync.settle()
    assert edge.get(SERVICES, sync.edge_ns(), "web") is None  # no pod of it runs there yet
    await running_pod(sync)
    copy = edge.get(SERVICES, sync.edge_ns(), "web")
    assert copy is not None and markers.is_managed(copy, "tenant-a")
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    keys = list(sync.syncer("Service").edge_event(edge, "pods", epod, None))
    assert keys == [WorkKey("tenant-a", "Service", "shop", "web")]
    sync.remove(tenant, PODS, "shop", "web")
    await sync.settle()
    assert edge.get(SERVICES, sync.edge_ns(), "web") is None


async def test_a_forbidden_service_gets_a_condition_and_no_copy(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await running_pod(sync)
    sync.put(tenant, SERVICES, service("shop", "web", type="NodePort"))
    await sync.settle()
    assert edge.get(SERVICES, sync.edge_ns(), "web") is None
    svc = tenant.get(SERVICES, "shop", "web")
    assert svc is not None
    cond = svc["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("fusionvc.io/Synced", "False",
                                                              "Forbidden")


async def test_a_service_name_held_by_a_foreign_object_is_reported(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await running_pod(sync)
    sync.put(edge, SERVICES, service(sync.edge_ns(), "web", selector={"x": "y"}))
    sync.put(tenant, SERVICES, service("shop", "web"))
    await sync.settle()
    kept = edge.get(SERVICES, sync.edge_ns(), "web")
    assert kept is not None and kept["spec"]["selector"] == {"x": "y"}
    reasons = [c.body["reason"] for c in sync.client(tenant).writes(EVENTS)]
    assert "NameTaken" in reasons


# ---- namespaces ----------------------------------------------------------------------

async def test_ensure_creates_the_edge_namespace_once_and_refuses_a_foreign_one(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    assert await sync.ctx.namespaces.ensure(tenant, edge, "shop") == sync.edge_ns()
    assert await sync.ctx.namespaces.ensure(tenant, edge, "shop") == sync.edge_ns()
    creates = [c.resource for c in sync.client(edge).writes() if c.verb == "create"]
    assert creates == ["namespaces", "networkpolicies"]
    sync.put(tenant, NAMESPACES, namespace("other"))
    sync.put(edge, NAMESPACES, namespace(edge_namespace("tenant-a", tenant.uid, "other")))
    with pytest.raises(NameTaken):
        await sync.ctx.namespaces.ensure(tenant, edge, "other")


async def test_a_deleted_tenant_namespace_takes_its_edge_namespaces_along(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await running_pod(sync)
    edge_ns = edge.get(NAMESPACES, "", sync.edge_ns())
    assert edge_ns is not None
    assert list(sync.syncer("Namespace").edge_event(edge, "namespaces", None, edge_ns)) == [
        WorkKey("tenant-a", "Namespace", "", "shop")]
    sync.remove(tenant, NAMESPACES, "", "shop")
    await sync.settle()
    deletes = [c for c in sync.client(edge).writes(NAMESPACES) if c.verb == "delete"]
    assert [(c.name, c.body["uid"]) for c in deletes] == [
        (sync.edge_ns(), edge_ns["metadata"]["uid"])]


# ---- virtual nodes -------------------------------------------------------------------

async def test_a_virtual_node_follows_its_edge_node_and_goes_when_unused(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await running_pod(sync)
    vnode = tenant.get(NODES, "", "vn-edge-1-n1")
    assert vnode is not None and vnode["metadata"]["labels"][markers.EDGE_CLUSTER] == "edge-1"
    changed = edge_node("n1", cpu="32")
    keys = list(sync.syncer("Node").edge_event(edge, "nodes", None, changed))
    assert keys == [WorkKey("tenant-a", "Node", "", "vn-edge-1-n1")]
    sync.put(edge, NODES, changed)
    await sync.settle()
    vnode = tenant.get(NODES, "", "vn-edge-1-n1")
    assert vnode is not None and vnode["status"]["capacity"]["cpu"] == "32"
    sync.remove(tenant, PODS, "shop", "web")
    await sync.settle()
    sync.put(tenant, NODES, {**vnode, "metadata": {**vnode["metadata"],
                                                  "creationTimestamp": "2020-01-01T00:00:00Z"}})
    await sync.settle()
    assert tenant.get(NODES, "", "vn-edge-1-n1") is None
    leases = [c for c in sync.client(tenant).writes(LEASES) if c.verb == "delete"]
    assert [c.name for c in leases] == ["vn-edge-1-n1"]


async def test_a_pod_leaving_a_node_others_still_use_queues_no_node_key(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    await running_pod(sync, "web")
    await running_pod(sync, "api")
    key = WorkKey("tenant-a", "Node", "", "vn-edge-1-n1")
    sync.remove(tenant, PODS, "shop", "web")
    assert key not in await sync.queued()  # "api" is still bound to it
    sync.remove(tenant, PODS, "shop", "api")
    assert key in await sync.queued()  # the last one: is the node still in use?


async def test_a_virtual_node_of_an_unreachable_edge_goes_unknown(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await running_pod(sync)
    for informer in edge.informers.values():
        informer.healthy = False
    await sync.controller.process(WorkKey("tenant-a", "Node", "", "vn-edge-1-n1"))
    vnode = tenant.get(NODES, "", "vn-edge-1-n1")
    assert vnode is not None
    ready = [c for c in vnode["status"]["conditions"] if c["type"] == "Ready"]
    assert [(c["status"], c["reason"]) for c in ready] == [("Unknown", "EdgeClusterUnreachable")]


async def test_a_node_lease_another_worker_just_created_counts_as_renewed(
        sync: SyncTest) -> None:
    """Workers placing pods on one new node all renew its Lease: the losers of the create
    race see 409, which is no failure (it cost the pod a retry before)."""
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(edge, NODES, edge_node("n1"))
    sync.client(tenant).fail[("create", "leases")] = KubeError(409, "AlreadyExists", "taken")
    assert await sync.ctx.virtual_nodes.ensure(tenant, edge, "n1") == "vn-edge-1-n1"
    assert tenant.get(NODES, "", "vn-edge-1-n1") is not None


# ---- events --------------------------------------------------------------------------

async def test_edge_events_about_a_tenant_pod_are_copied_up_in_tenant_terms(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await running_pod(sync)
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": "web.1", "namespace": sync.edge_ns()},
             "involvedObject": {"kind": "Pod", "name": "web", "namespace": sync.edge_ns()},
             "reason": "Pulled", "message": "image pulled", "type": "Normal", "count": 1,
             "source": {"component": "kubelet", "host": "n1"}}
    assert list(sync.syncer("Event").edge_event(edge, "events", None, event)) == [
        WorkKey("tenant-a", "Event", "shop", "web.1")]
    sync.put(edge, EVENTS, event)
    await sync.settle()
    copied = tenant.get(EVENTS, "shop", "web.1")
    tpod = tenant.get(PODS, "shop", "web")
    assert copied is not None and tpod is not None
    assert copied["involvedObject"]["namespace"] == "shop"
    assert copied["involvedObject"]["uid"] == tpod["metadata"]["uid"]
    assert "host" not in copied["source"]
    foreign = {**event, "metadata": {"name": "x", "namespace": "kube-system"}}
    assert list(sync.syncer("Event").edge_event(edge, "events", None, foreign)) == []


GPU = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


@pytest.mark.parametrize(("have", "want", "result"), [
    ([], [], None),
    ([GPU], [GPU], None),
    ([], [GPU], [GPU]),  # the EdgeCluster lists the key after the node was made
    ([GPU], [], []),
    ([UNREACHABLE], [GPU], [UNREACHABLE, GPU]),  # the tenant controller-manager's taint stays
    ([UNREACHABLE, GPU], [GPU], None),
])
def test_virtual_node_taints_converge_and_keep_the_tenants_own(
        have: list[dict[str, str]], want: list[dict[str, str]],
        result: list[dict[str, str]] | None) -> None:
    from syncer.kinds.nodes import converged_taints
    assert converged_taints({"spec": {"taints": have}}, {"spec": {"taints": want}}) == result
