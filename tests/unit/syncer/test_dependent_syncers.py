"""ConfigMapSyncer and SecretSyncer through the SyncTest harness."""

from __future__ import annotations

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.kube.apis import CONFIGMAPS, NAMESPACES, PODS, SECRETS
from tests.builders import config_map, container, namespace, pod, pod_spec, secret

from .harness import SyncTest

CM_KEY = WorkKey("tenant-a", "ConfigMap", "shop", "cfg")


def uses(cm: str = "cfg", sec: str | None = None) -> dict[str, object]:
    env = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "k"}}}]
    if sec:
        env.append({"name": "B", "valueFrom": {"secretKeyRef": {"name": sec, "key": "k"}}})
    return pod_spec(containers=[container(env=env)])


async def test_an_object_no_pod_uses_is_not_queued_and_a_used_one_is(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg"))
    assert CM_KEY not in await sync.queued()
    sync.put(tenant, PODS, pod("shop", "web", spec=uses()))
    assert CM_KEY in await sync.queued()  # the pod watch names what the pod uses
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg", {"k": "2"}))
    assert CM_KEY in await sync.queued()


async def test_copied_before_the_pod_follows_edits_and_leaves_with_the_pod(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg"))
    sync.put(tenant, PODS, pod("shop", "web", spec=uses()))
    await sync.settle()
    order = [(c.verb, c.resource) for c in sync.client(edge).writes()]
    assert order.index(("create", "configmaps")) < order.index(("create", "pods"))
    copy = edge.get(CONFIGMAPS, sync.edge_ns(), "cfg")
    assert copy is not None and markers.is_managed(copy, "tenant-a")
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg", {"k": "2"}))
    await sync.settle()
    copy = edge.get(CONFIGMAPS, sync.edge_ns(), "cfg")
    assert copy is not None and copy["data"] == {"k": "2"}
    syncer = sync.syncer("ConfigMap")
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    assert list(syncer.edge_event(edge, "pods", epod, None)) == [CM_KEY]
    sync.syncer("ConfigMap")._recent.clear()  # type: ignore[attr-defined]
    sync.remove(tenant, PODS, "shop", "web")  # its edge copy goes, and then the ConfigMap
    await sync.settle()
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    assert edge.get(CONFIGMAPS, sync.edge_ns(), "cfg") is None


async def test_token_secrets_never_reach_an_edge(sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg"))
    sync.put(tenant, SECRETS, secret("shop", "tok", type="kubernetes.io/service-account-token"))
    sync.put(tenant, PODS, pod("shop", "web", spec=uses(sec="tok")))
    await sync.settle()
    assert edge.get(SECRETS, sync.edge_ns(), "tok") is None
    assert not sync.client(edge).writes(SECRETS)


async def test_a_name_held_by_a_foreign_object_is_reported_not_overwritten(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    foreign = config_map(sync.edge_ns(), "cfg", {"theirs": "1"})
    ours = namespace(sync.edge_ns())  # the edge namespace is fusionvc's; one object in it is not
    ours["metadata"]["labels"] = markers.marker_labels("tenant-a")
    ours["metadata"]["annotations"] = markers.marker_annotations(namespace("shop"))
    sync.put(edge, NAMESPACES, ours)
    sync.put(edge, CONFIGMAPS, foreign)
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg"))
    sync.put(tenant, PODS, pod("shop", "web", spec=uses()))
    await sync.settle()
    kept = edge.get(CONFIGMAPS, sync.edge_ns(), "cfg")
    assert kept is not None and kept["data"] == {"theirs": "1"}
    events = [c.body for c in sync.client(tenant).writes() if c.resource == "events"]
    assert [(e["involvedObject"]["kind"], e["message"].split(":")[0]) for e in events] == [
        ("Pod", "ConfigMap cfg")]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    cond = tpod["status"]["conditions"][0]
    assert cond["reason"] == "NameTaken" and sync.edge_ns() not in cond["message"]


async def test_scan_lists_used_objects_and_copies(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    sync.put(tenant, CONFIGMAPS, config_map("shop", "cfg"))
    sync.put(tenant, PODS, pod("shop", "web", spec=uses()))
    await sync.settle()
    sync.remove(tenant, CONFIGMAPS, "shop", "cfg")
    assert set(sync.syncer("ConfigMap").scan(tenant)) == {CM_KEY}
