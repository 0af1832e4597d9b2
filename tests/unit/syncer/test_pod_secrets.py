"""PodSecretSyncer through the SyncTest harness: the tenant token is requested from the
tenant, written before the edge pod, renewed when due, removed with the pod."""

from __future__ import annotations

import asyncio
import base64

import pytest

from syncer.core.keys import WorkKey
from syncer.kinds.pod_projection import TokenWant, pod_secret_name
from syncer.kinds.pod_tokens import REFRESH_AT
from syncer.kube import Obj
from syncer.kube.apis import CONFIGMAPS, EVENTS, PODS, SECRETS
from syncer.kube.client import KubeError
from tests.builders import config_map, container, pod, pod_spec

from .harness import SyncTest

INJECTED = {"name": "kube-api-access-x7k2p", "projected": {"sources": [
    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace",
                                "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}
TOKEN_KEY = TokenWant("", 3607).key
KEY = WorkKey("tenant-a", "PodSecret", "shop", "web")


async def place(sync: SyncTest, **spec: object) -> Obj:
    tenant = sync.ctx.tenants["tenant-a"]
    sync.put(tenant, CONFIGMAPS, {**config_map("shop", "kube-root-ca.crt",
                                               {"ca.crt": "TENANT-CA"})})
    mounts = [{"name": INJECTED["name"], "mountPath": "/var/run/secrets/kubernetes.io/sa"}]
    sync.put(tenant, PODS, pod("shop", "web", uid="pod-uid-1", spec=pod_spec(
        containers=[container(volumeMounts=mounts)], volumes=[INJECTED],
        serviceAccountName="builder", **spec)))
    await sync.settle()
    found = sync.ctx.edges["edge-1"].get(SECRETS, sync.edge_ns(), pod_secret_name("pod-uid-1"))
    assert found is not None
    return found


def value(secret: Obj, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


async def test_the_token_is_the_tenants_and_the_edge_pod_reads_it(sync: SyncTest) -> None:
    secret = await place(sync)
    requests = [c for c in sync.client(sync.ctx.tenants["tenant-a"]).calls if c.verb == "token"]
    assert requests and requests[0].namespace == "shop" and requests[0].name == "builder"
    assert requests[0].body["spec"]["boundObjectRef"]["uid"] == "pod-uid-1"
    assert value(secret, TOKEN_KEY).startswith("tenant-a-token-")
    assert value(secret, "ca.crt") == "TENANT-CA"
    edge = sync.ctx.edges["edge-1"]
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    assert "ownerReferences" not in secret["metadata"]  # no write of its own: see renewal
    sources = epod["spec"]["volumes"][0]["projected"]["sources"]
    assert {"secret": {"name": secret["metadata"]["name"],
                       "items": [{"key": TOKEN_KEY, "path": "token"}]}} in sources
    env = {e["name"]: e.get("value") for e in epod["spec"]["containers"][0]["env"]}
    assert env["KUBERNETES_SERVICE_HOST"] == "kubernetes.default.svc"  # harness: no kubeconfig


async def test_a_due_token_is_renewed_and_the_key_comes_back_when_due(sync: SyncTest) -> None:
    secret = await place(sync)
    first = value(secret, TOKEN_KEY)
    assert await sync.syncer("PodSecret").reconcile(KEY) is not None  # when to renew
    edge = sync.ctx.edges["edge-1"]
    assert value(edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"]) or {},
                 TOKEN_KEY) == first  # not due: kept
    sync.put(edge, SECRETS, {**secret, "metadata": {**secret["metadata"], "annotations": {
        **secret["metadata"]["annotations"], REFRESH_AT: "0"}}})
    await sync.settle()
    renewed = edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"])
    assert renewed is not None and value(renewed, TOKEN_KEY) != first
    assert float(renewed["metadata"]["annotations"][REFRESH_AT]) > 0
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None  # the renewal names the edge pod owner, for the edge's GC
    assert renewed["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": epod["metadata"]["uid"]}]


async def test_the_secret_goes_with_the_tenant_pod(sync: SyncTest) -> None:
    secret = await place(sync)
    sync.remove(sync.ctx.tenants["tenant-a"], PODS, "shop", "web")
    await sync.settle()
    edge = sync.ctx.edges["edge-1"]
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    assert edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"]) is None


async def test_a_label_change_reaches_the_downward_values(sync: SyncTest) -> None:
    labels = {"name": "labels", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
    tenant = sync.ctx.tenants["tenant-a"]
    sync.put(tenant, PODS, pod("shop", "web", uid="pod-uid-2", spec=pod_spec(volumes=[labels])))
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    sync.put(tenant, PODS, {**tpod, "metadata": {**tpod["metadata"], "labels": {"app": "v2"}}})
    await sync.settle()
    secret = sync.ctx.edges["edge-1"].get(SECRETS, sync.edge_ns(), pod_secret_name("pod-uid-2"))
    assert secret is not None and 'app="v2"' in str(
        {k: value(secret, k) for k in secret["data"]})


async def test_a_pod_naming_a_reserved_secret_is_not_placed(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    steal = {"name": "s", "secret": {"secretName": pod_secret_name("someone-else")}}
    sync.put(tenant, PODS, pod("shop", "thief", spec=pod_spec(volumes=[steal])))
    await sync.settle()
    assert sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "thief") is None
    tpod = tenant.get(PODS, "shop", "thief")
    assert tpod is not None and "reserved for fusionvc" in str(tpod["status"]["conditions"])


async def test_a_refused_token_request_is_told_to_the_tenant(sync: SyncTest) -> None:
    tenant = sync.ctx.tenants["tenant-a"]
    sync.client(tenant).fail[("token", "serviceaccounts")] = KubeError(
        404, "NotFound", 'serviceaccounts "builder" not found')
    with pytest.raises(AssertionError):  # no Secret: the request failed
        await place(sync)
    assert sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web") is None
    events = [e for e in tenant.store(EVENTS) if e["reason"] == "TokenRequestFailed"]
    assert events and "builder" in events[0]["message"]


async def test_only_what_the_secret_holds_wakes_the_pod_secret(sync: SyncTest) -> None:
    await place(sync)
    tenant = sync.ctx.tenants["tenant-a"]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    syncer = sync.syncer("PodSecret")
    unplaced = {**tpod, "spec": {k: v for k, v in tpod["spec"].items() if k != "nodeName"}}
    assert list(syncer.tenant_event(tenant, "pods", None, unplaced)) == []  # written as placed
    assert list(syncer.tenant_event(tenant, "pods", None, tpod)) == [KEY]  # placed already
    newer = {**tpod, "metadata": {**tpod["metadata"], "resourceVersion": "999"},
             "status": {"phase": "Running"}}
    assert list(syncer.tenant_event(tenant, "pods", tpod, newer)) == []
    # Its volumes read no label or annotation: a binding's topology labels change nothing.
    relabeled = {**tpod, "metadata": {**tpod["metadata"], "labels": {"app": "v2"},
                                      "annotations": {"a": "1"}}}
    assert list(syncer.tenant_event(tenant, "pods", tpod, relabeled)) == []
    going = {**tpod, "metadata": {**tpod["metadata"], "deletionTimestamp": "t"}}
    assert list(syncer.tenant_event(tenant, "pods", tpod, going)) == []  # its copy's removal
    cut = {**tpod, "metadata": {**tpod["metadata"], "deletionTimestamp": "t-30"}}
    assert list(syncer.tenant_event(tenant, "pods", going, cut)) == []
    reads = {"name": "labels", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels['app']"}}]}}
    reading = {**tpod, "spec": {**tpod["spec"], "volumes": [*tpod["spec"]["volumes"], reads]}}
    relabeled = {**reading, "metadata": relabeled["metadata"]}
    assert list(syncer.tenant_event(tenant, "pods", reading, relabeled)) == [KEY]


async def test_placing_writes_the_secret_once_and_its_repair_and_delete_queue_nothing(
        sync: SyncTest) -> None:
    secret = await place(sync)  # created, the edge pod created: settled
    edge = sync.ctx.edges["edge-1"]
    assert [c.verb for c in sync.client(edge).writes(SECRETS)] == ["create"]
    assert KEY not in await sync.queued()
    sync.put(edge, SECRETS, {**secret, "data": {}})  # changed by someone else: repaired
    assert KEY in await sync.queued()
    await sync.controller.process(KEY)
    assert KEY not in await sync.queued()  # the repair's own event
    sync.remove(sync.ctx.tenants["tenant-a"], PODS, "shop", "web")
    sync.remove(edge, PODS, sync.edge_ns(), "web")
    assert KEY in await sync.queued()
    await sync.controller.process(KEY)
    assert edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"]) is None
    assert KEY not in await sync.queued()  # the delete's own event


async def test_a_secret_removed_by_someone_else_comes_back_only_for_a_live_pod(
        sync: SyncTest) -> None:
    secret = await place(sync)
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    sync.remove(edge, SECRETS, sync.edge_ns(), secret["metadata"]["name"])
    assert KEY in await sync.queued()
    await sync.controller.process(KEY)
    again = edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"])
    assert again is not None  # put back
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    sync.put(tenant, PODS, {**tpod, "metadata": {**tpod["metadata"], "deletionTimestamp": "t"}})
    await sync.queued()  # (not reconciled: the Secret stays until the edge's GC takes it)
    sync.remove(edge, SECRETS, sync.edge_ns(), secret["metadata"]["name"])
    assert KEY not in await sync.queued()


async def test_a_deleted_pods_secret_goes_with_its_edge_copy_once(sync: SyncTest) -> None:
    secret = await place(sync)  # written just now: kept for an edge pod being created
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    syncer = sync.syncer("PodSecret")
    going = {**tpod, "metadata": {**tpod["metadata"], "deletionTimestamp": "t"}}
    sync.put(tenant, PODS, going)
    assert KEY not in await sync.queued()  # its copy still runs and reads it
    sync.remove(edge, PODS, sync.edge_ns(), "web")
    assert KEY in await sync.queued()
    await sync.controller.process(KEY)  # a going pod gets no new copy: no need to wait
    assert edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"]) is None
    assert [c.verb for c in sync.client(edge).writes(SECRETS)] == ["create", "delete"]
    assert list(syncer.tenant_event(tenant, "pods", going, None)) == []  # nothing left
    sync.put(edge, SECRETS, secret)  # one left behind (written again by someone)
    assert list(syncer.tenant_event(tenant, "pods", going, None)) == [KEY]


async def test_a_secret_whose_pod_was_never_created_goes_after_a_while(sync: SyncTest) -> None:
    edge = sync.ctx.edges["edge-1"]
    sync.client(edge).fail[("create", "pods")] = KubeError(403, "Forbidden", "quota")
    secret = await place(sync)
    assert edge.get(PODS, sync.edge_ns(), "web") is None
    assert KEY not in await sync.queued()  # its ADDED event is the create's echo...
    timer = sync.ctx.queue._timers.get(KEY)  # ...and the key comes back later
    assert timer is not None and timer.when() - asyncio.get_running_loop().time() > 25
    sync.client(edge).fail.clear()
    sync.syncer("PodSecret")._recent.clear()  # type: ignore[attr-defined]  # time passed
    await sync.controller.process(KEY)  # the tenant pod still waits for a copy
    assert edge.get(SECRETS, sync.edge_ns(), secret["metadata"]["name"]) is None
