"""In-place resize of a running pod (syncer/kinds/pod_resize.py): the pure patch, and
through the SyncTest harness what the pod syncer writes to the edge and the tenant."""

from __future__ import annotations

import pytest

from syncer.kinds.pod_resize import resize_patch, resize_pending, resized_pod
from syncer.kube.apis import PODS
from tests.builders import container, pod, pod_spec

from .harness import SyncTest


async def place(t: SyncTest) -> None:
    t.put(t.ctx.tenants["tenant-a"], PODS, pod("shop", "web"))
    await t.settle()


def test_resize_patch_names_only_containers_whose_resources_changed() -> None:
    have = {"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "1"}}},
        {"name": "b", "resources": {"requests": {"cpu": "1"}, "claims": []}}]}}
    want = {"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "2"}}},
        {"name": "b", "resources": {"requests": {"cpu": "1"}}}]}}
    assert resize_patch(have, want) == {"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "2"}}}]}}
    assert resize_patch(have, have) is None


def test_the_resized_pod_has_the_new_resources_of_the_named_containers_only() -> None:
    have = {"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [
        {"name": "a", "image": "a:1", "resources": {"requests": {"cpu": "1"}}},
        {"name": "b", "image": "b:1", "resources": {"requests": {"cpu": "1"}}}]}}
    patch = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "2"}}}]}}
    out = resized_pod(have, patch)
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "a:1", "resources": {"limits": {"cpu": "2"}}},
        {"name": "b", "image": "b:1", "resources": {"requests": {"cpu": "1"}}}]
    assert out["spec"]["nodeName"] == "n1" and out["metadata"] == have["metadata"]
    assert have["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "1"}}


def test_a_shortfall_is_the_kubelets_resize_pending_condition() -> None:
    assert resize_pending(("Deferred", "no room now")) == {
        "type": "PodResizePending", "status": "True", "reason": "Deferred",
        "message": "no room now"}


def resized(tpod: dict[str, object], cpu: str) -> dict[str, object]:
    spec = tpod["spec"]
    assert isinstance(spec, dict)
    meta = tpod["metadata"]
    assert isinstance(meta, dict)
    return {**tpod, "metadata": {**meta, "generation": 2}, "spec": {**spec, "containers": [
        container(resources={"requests": {"cpu": cpu, "memory": "32Mi"}})]}}


async def test_an_in_place_resize_that_fits_goes_to_the_edge_resize_subresource(
        sync: SyncTest) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await place(sync)
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    sync.put(tenant, PODS, resized(tpod, "2"))
    await sync.settle()
    resizes = [c.body for c in sync.client(edge).calls if c.verb == "patch/resize"]
    assert resizes == [{"spec": {"containers": [
        {"name": "main", "resources": {"requests": {"cpu": "2", "memory": "32Mi"}}}]}}]
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    assert epod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "2"


@pytest.mark.parametrize(("cpu", "reason", "message"), [
    ("64", "Infeasible", "Node didn't have enough capacity: cpu, requested: 64000, "
     "capacity: 16000"),
    ("8", "Deferred", "Node didn't have enough resource: cpu, requested: 8000, used: 10000, "
     "capacity: 16000"),
])
async def test_a_resize_that_does_not_fit_is_pending_as_the_kubelet_says(
        sync: SyncTest, cpu: str, reason: str, message: str) -> None:
    tenant, edge = sync.ctx.tenants["tenant-a"], sync.ctx.edges["edge-1"]
    await place(sync)  # web: 50m on n1 (16 cores)
    hog = pod("shop", "hog", spec=pod_spec(containers=[container(resources={
        "requests": {"cpu": "10"}})]))
    sync.put(tenant, PODS, hog)
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    sync.put(tenant, PODS, resized(tpod, cpu))
    await sync.settle()
    assert not [c for c in sync.client(edge).calls if c.verb == "patch/resize"]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    pending = [c for c in tpod["status"]["conditions"] if c["type"] == "PodResizePending"]
    assert [(c["status"], c["reason"], c["message"]) for c in pending] == [
        ("True", reason, message)]
    assert pending[0]["observedGeneration"] == 2
