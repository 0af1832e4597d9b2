"""EdgeDataset mounts (issue 15): where a pod's datasets go (core/dataset_mounts), the
PersistentVolume and claim of each ready copy (kinds/dataset_volumes, dataset_claims) and
the edge pod that names the claim of its node (pod_translate.translate_pod_down)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from scheduler.datasets import DATASETS_ANNOTATION
from syncer.core import markers
from syncer.core.dataset_mounts import MOUNTS_ANNOTATION, mount_paths, mount_violations
from syncer.core.keys import WorkKey
from syncer.kinds.dataset_translate import host_path, parse_dataset_spec
from syncer.kinds.dataset_volumes import (
    STORAGE_CLASS,
    claim_name,
    pod_volume_name,
    translate_dataset_volumes,
    volume_name,
)
from syncer.kinds.edge_targets import Target
from syncer.kinds.pod_translate import translate_pod_down
from syncer.kube import Obj
from syncer.kube.apis import (
    EDGEDATASETS,
    EVENTS,
    JOBS,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMES,
    PODS,
    PVCS,
)
from tests.builders import container, edge_node, namespace, pod, pod_spec

from .harness import SyncTest
from .test_edgedatasets import SHA, bind_claims, dataset, finish, work_pod

OTHER_SHA = "cd" * 32


def needs(*names: str, mounts: str | None = None, **spec: object) -> Obj:
    p = pod("shop", "infer", uid="infer-uid", spec=pod_spec(**spec))
    p["metadata"]["annotations"] = {DATASETS_ANNOTATION: ",".join(names)}
    if mounts is not None:
        p["metadata"]["annotations"][MOUNTS_ANNOTATION] = mounts
    return p


# ---- pure: where the datasets go ------------------------------------------------------------


@pytest.mark.parametrize(("names", "mounts", "paths"), [
    (("qwen",), None, {"qwen": "/datasets/qwen"}),
    (("qwen", "llm"), "qwen=/models/qwen/", {"qwen": "/models/qwen", "llm": "/datasets/llm"}),
    (("qwen",), " qwen = /m ,", {"qwen": "/m"}),
    (("qwen",), "qwen=relative", {"qwen": "/datasets/qwen"}),  # refused by check_pod anyway
    ((), "qwen=/m", {}),
])
def test_mount_paths(names: tuple[str, ...], mounts: str | None,
                     paths: dict[str, str]) -> None:
    assert mount_paths(needs(*names, mounts=mounts)) == paths


@pytest.mark.parametrize(("mounts", "expected"), [
    ("qwen=/models/qwen", []),
    ("other=/m", ["'other' is not one of the pod's datasets"]),
    ("qwen=models", ["is not an absolute path"]),
    ("qwen=/a/../etc", ["must not contain a '..' element"]),
    ("qwen=/", ["must not be /"]),
    ("qwen=/data,llm=/data", ["two datasets are mounted at the same path"]),
    ("qwen=/cache", ["container 'main' already mounts a volume at /cache ('qwen')"]),
])
def test_mount_violations(mounts: str, expected: list[str]) -> None:
    mounted = container(volumeMounts=[{"name": "c", "mountPath": "/cache/"}])
    found = mount_violations(needs("qwen", "llm", mounts=mounts, containers=[mounted]))
    assert len(found) == len(expected)
    assert all(text in v.rule for v, text in zip(found, expected, strict=True))
    assert all(v.field == f"metadata.annotations[{MOUNTS_ANNOTATION}]" for v in found)


# ---- pure: the volume of a copy and the edge pod ----------------------------------------------


def test_a_ready_copy_gets_a_read_only_local_volume_pre_bound_to_its_claim() -> None:
    spec = parse_dataset_spec(dataset()["spec"])
    target = Target("edge-1", "n1")
    pv, pvc = translate_dataset_volumes(dataset(), spec, target, tenant="tenant-a",
                                        edge_namespace="ens", hostname="host-n1")
    assert pv["spec"]["local"] == {"path": host_path("ens", "qwen", SHA)}
    assert "hostPath" not in pv["spec"]
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-n1"]}]}]
    assert pv["spec"]["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "namespace": "ens", "name": pvc["metadata"]["name"]}
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pvc["metadata"]["namespace"] == "ens"
    for obj in (pv, pvc):
        assert obj["spec"]["accessModes"] == ["ReadOnlyMany"]
        assert obj["spec"]["storageClassName"] == STORAGE_CLASS
        assert markers.is_managed(obj, "tenant-a")
        assert markers.tenant_ref(obj) == ("shop", "qwen", "qwen-uid")
    assert pv["spec"]["capacity"] == pvc["spec"]["resources"]["requests"] == {
        "storage": "4000000000"}
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"


def test_copy_names_fit_and_differ_by_tenant_node_and_source() -> None:
    long = "m" * 250
    names = {f(t, "shop", long, s, Target("e", n)) for f in (claim_name, volume_name)
             for t in ("tenant-a", "tenant-b") for n in ("n1", "n2") for s in (SHA, OTHER_SHA)}
    assert len(names) == 16 and all(len(n) <= 63 for n in names)
    assert claim_name("t", "shop", "qwen", SHA, Target("e", "n1")).startswith("ds-qwen-")
    assert pod_volume_name("qwen") == "fusionvc-ds-qwen"
    dotted = pod_volume_name("qwen.v2")
    assert "." not in dotted and dotted != pod_volume_name("qwen-v2") and len(dotted) <= 63


DOWN = {"tenant": "tenant-a", "edge_namespace": "ens", "edge_node": "n1",
        "virtual_node": "vn-edge-1-n1"}


def test_the_edge_pod_mounts_each_claim_read_only_in_every_container() -> None:
    tpod = needs("qwen", "llm", mounts="qwen=/models/qwen",
                 initContainers=[container("init")], containers=[container("a"), container("b")])
    before = copy.deepcopy(tpod)
    epod = translate_pod_down(tpod, **DOWN, dataset_claims={"qwen": "ds-qwen-1",
                                                            "llm": "ds-llm-1"})
    assert tpod == before  # the tenant pod is unchanged
    spec = epod["spec"]
    assert {v["name"]: v["persistentVolumeClaim"] for v in spec["volumes"]} == {
        "fusionvc-ds-qwen": {"claimName": "ds-qwen-1", "readOnly": True},
        "fusionvc-ds-llm": {"claimName": "ds-llm-1", "readOnly": True}}
    for c in [*spec["initContainers"], *spec["containers"]]:
        assert sorted((m["name"], m["mountPath"], m["readOnly"]) for m in c["volumeMounts"]) \
            == [("fusionvc-ds-llm", "/datasets/llm", True),
                ("fusionvc-ds-qwen", "/models/qwen", True)]
    assert all("hostPath" not in v for v in spec["volumes"])


def test_a_dataset_without_a_claim_is_not_mounted() -> None:
    tpod = needs("qwen", "llm")
    assert "volumes" not in translate_pod_down(tpod, **DOWN)["spec"]
    spec = translate_pod_down(tpod, **DOWN, dataset_claims={"qwen": "ds-qwen-1"})["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["fusionvc-ds-qwen"]


# ---- the syncer ------------------------------------------------------------------------------


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    """tenant-a with namespace shop; edge-1 with n1, n2."""
    sync = SyncTest()
    sync.put(sync.add_tenant("tenant-a"), NAMESPACES, namespace("shop"))
    edge = sync.add_edge("edge-1")
    for name in ("n1", "n2"):
        sync.put(edge, NODES, edge_node(name))
    yield sync
    sync.close()


def volumes(sync: SyncTest) -> dict[str, tuple[Obj, Obj]]:
    """node -> (PV, PVC) of the datasets' copies on edge-1."""
    edge = sync.ctx.edges["edge-1"]
    claims = {c["metadata"]["name"]: c for c in edge.store(PVCS)
              if "edge.fusionvc.io/edgedataset" in c["metadata"]["labels"]}
    return {pv["metadata"]["annotations"][markers.EDGE_NODE]:
            (pv, claims[pv["spec"]["claimRef"]["name"]])
            for pv in edge.store(PERSISTENTVOLUMES)}


async def ready_on(sync: SyncTest, node: str) -> None:
    """The download on ``node`` succeeds (its pod too, as the placer sees it)."""
    edge = sync.ctx.edges["edge-1"]
    for job in list(edge.store(JOBS)):
        if job["metadata"]["annotations"][markers.EDGE_NODE] == node:
            sync.put(edge, PODS, work_pod(job, "Succeeded"))
    await finish(sync)
    await bind_claims(sync, node)


async def test_ready_copies_get_volumes_and_lose_them_with_the_source_and_the_dataset(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset())
    await fleet.settle()
    assert volumes(fleet) == {}  # nothing before a copy is ready
    await finish(fleet)
    got = volumes(fleet)
    assert set(got) == {"n1", "n2"}
    pv, pvc = got["n1"]
    assert pvc["metadata"]["namespace"] == fleet.edge_ns()
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pv["spec"]["local"]["path"] == host_path(fleet.edge_ns(), "qwen", SHA)
    edge = fleet.ctx.edges["edge-1"]
    # Drift: a deleted claim comes back.
    fleet.remove(edge, PVCS, fleet.edge_ns(), pvc["metadata"]["name"])
    await fleet.settle()
    assert volumes(fleet)["n1"][1]["metadata"]["name"] == pvc["metadata"]["name"]
    # A changed source: the old pairs go, the new ones come once the new copies are ready.
    fleet.put(tenant, EDGEDATASETS, dataset(sha=OTHER_SHA))
    await fleet.settle()
    assert volumes(fleet) == {}
    await finish(fleet)
    assert {p["spec"]["local"]["path"] for p, _ in volumes(fleet).values()} == {
        host_path(fleet.edge_ns(), "qwen", OTHER_SHA)}
    fleet.remove(tenant, EDGEDATASETS, "shop", "qwen")
    await fleet.settle()
    assert volumes(fleet) == {} and not list(edge.store(PVCS))
    assert PERSISTENTVOLUMES in fleet.controller.cluster_scoped_copies()


async def test_a_pod_that_needs_the_dataset_names_the_claim_of_its_node(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(target={"nodeSelector": {"matchLabels": {
        "kubernetes.io/hostname": "vn-edge-1-n2"}}}))
    await fleet.settle()
    await ready_on(fleet, "n2")
    fleet.put(tenant, PODS, needs("qwen", mounts="qwen=/models/qwen"))
    await fleet.settle()
    edge = fleet.ctx.edges["edge-1"]
    epod = edge.get(PODS, fleet.edge_ns(), "infer")
    assert epod is not None and epod["spec"]["nodeName"] == "n2"
    _, pvc = volumes(fleet)["n2"]
    assert {"name": "fusionvc-ds-qwen", "persistentVolumeClaim": {
        "claimName": pvc["metadata"]["name"], "readOnly": True}} in epod["spec"]["volumes"]
    assert {"name": "fusionvc-ds-qwen", "mountPath": "/models/qwen", "readOnly": True} in \
        epod["spec"]["containers"][0]["volumeMounts"]
    # The claims syncer leaves the dataset's claim alone (it is no copy of a tenant claim).
    await fleet.controller.process(WorkKey("tenant-a", "PersistentVolumeClaim", "shop",
                                           pvc["metadata"]["name"]))
    assert edge.get(PVCS, fleet.edge_ns(), pvc["metadata"]["name"]) is not None


async def test_a_bad_mount_is_refused_before_placing(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, PODS, needs("qwen", mounts="qwen=models"))
    await fleet.settle()
    got = tenant.get(PODS, "shop", "infer")
    assert got is not None
    cond = next(c for c in got["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["reason"] == "Forbidden" and "is not an absolute path" in cond["message"]
    assert any(c.verb == "create" and "absolute" in c.body["message"]
               for c in fleet.client(tenant).writes(EVENTS))
