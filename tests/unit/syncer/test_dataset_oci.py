"""EdgeDatasets from OCI artifacts: the source (exactly one of url/oci), the pull Job (an image
volume, a no-op in the downloader image, in the tenant's edge namespace, with the tenant's
registry credentials), pull errors as failed nodes, no PV/PVC, and the tenant pod's edge copy
mounting the artifact as a read-only image volume."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scheduler.datasets import DATASETS_ANNOTATION, dataset_image
from syncer.core import markers
from syncer.fleet.registries import PULL_SECRET, resolve_registry_auths
from syncer.fleet.specs import parse_tenant_spec
from syncer.kinds.dataset_oci import (
    OciMount,
    oci_job_state,
    oci_mount,
    pull_failure,
    translate_oci_job,
    work_pod_index,
)
from syncer.kinds.dataset_sources import oci_key, parse_source
from syncer.kinds.dataset_translate import DatasetError, parse_dataset_spec
from syncer.kinds.dataset_volumes import mount_datasets
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj, apis
from syncer.kube.apis import EDGEDATASETS, EVENTS, JOBS, NAMESPACES, NODES, PODS, SECRETS
from syncer.warm_nodes import PROVIDES, provides
from tests.builders import edge_node, namespace

from .harness import SyncTest
from .test_registry_credentials import REGISTRIES, SERVER, basic_auth

REF = f"{SERVER}/models/qwen2:7b"
DIGEST_REF = "registry.example.com/llm/qwen@sha256:" + "a" * 64


def oci_dataset(name: str = "qwen", reference: str = REF, **spec: object) -> Obj:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "EdgeDataset",
            "metadata": {"name": name, "namespace": "shop", "uid": f"{name}-uid",
                         "generation": 1},
            "spec": {"source": {"oci": {"reference": reference}, "sizeBytes": 3_000_000_000},
                     **spec}}


# ---- pure -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "error"), [
    ({"oci": {"reference": REF}}, None),
    ({"oci": {"reference": DIGEST_REF}}, None),
    ({"oci": {"reference": "localhost:5000/m:1"}}, None),
    ({"oci": {"reference": "qwen:7b"}}, "full OCI reference"),  # no registry host
    ({"oci": {"reference": "registry.local/qwen"}}, "neither a tag nor a digest"),
    ({"oci": {"reference": "registry.local/Qwen:7b"}}, "full OCI reference"),
    ({"oci": {}}, "full OCI reference"),
    ({"oci": {"reference": REF}, "url": "http://x/y", "sha256": "a" * 64}, "not both"),
    ({"oci": {"reference": REF}, "sha256": "a" * 64}, "digest in its reference"),
    ({}, "http"),
])
def test_a_source_is_exactly_one_of_url_or_oci(source: Obj, error: str | None) -> None:
    if error is None:
        found = parse_source(source)
        assert (found.url, found.oci, found.sha256) == ("", source["oci"]["reference"],
                                                        oci_key(source["oci"]["reference"]))
    else:
        with pytest.raises(DatasetError, match=error):
            parse_source(source)


def test_a_changed_reference_is_a_new_source_key() -> None:
    assert oci_key(REF) != oci_key(REF.replace(":7b", ":8b"))
    assert len(oci_key(REF)) == 64
    assert parse_dataset_spec(oci_dataset()["spec"]).oci == REF


def test_the_pull_job_mounts_the_artifact_and_runs_a_no_op() -> None:
    spec = parse_dataset_spec(oci_dataset()["spec"])
    job = translate_oci_job(oci_dataset(), spec, Target("edge-1", "n1"), tenant="tenant-a",
                            edge_namespace="ens", pull_secrets=(PULL_SECRET,))
    assert job["metadata"]["namespace"] == "ens"
    assert job["metadata"]["annotations"][markers.EDGE_NODE] == "n1"
    template = job["spec"]["template"]
    pod = template["spec"]
    assert pod["nodeName"] == "n1" and pod["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert pod["volumes"] == [{"name": "dataset", "image": {"reference": REF,
                                                            "pullPolicy": "IfNotPresent"}}]
    (work,) = pod["containers"]
    assert work["command"] == ["/bin/sh", "-c", "exit 0"]
    assert work["volumeMounts"] == [{"name": "dataset", "mountPath": "/dataset",
                                     "readOnly": True}]
    assert not any("hostPath" in v for v in pod["volumes"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert dataset_image("tenant-a", "shop", "qwen") in template["metadata"]["annotations"][
        PROVIDES]
    assert work_pod_index({"metadata": {**template["metadata"], "namespace": "ens"}}) == [
        "tenant-a/shop/qwen"]


def _pod(reason: str | None, message: str = "") -> Obj:
    waiting = {"reason": reason, "message": message} if reason else None
    state = {"waiting": waiting} if waiting else {"running": {}}
    return {"metadata": {"name": "p"}, "status": {"containerStatuses": [{"state": state}]}}


@pytest.mark.parametrize(("job_status", "pods", "expected"), [
    ({}, [_pod(None)], NodeState("active")),
    ({}, [_pod("ContainerCreating")], NodeState("active")),
    ({}, [_pod("ErrImagePull", "not found")],
     NodeState("failed", "ImagePullFailed", "ErrImagePull: not found")),
    ({}, [_pod("ImagePullBackOff")],
     NodeState("failed", "ImagePullFailed", "ImagePullBackOff: the artifact could not be pulled")),
    ({"conditions": [{"type": "Complete", "status": "True"}]}, [], NodeState("succeeded")),
    ({"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                      "message": "late"}]}, [], NodeState("failed", "DeadlineExceeded", "late")),
    ({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                      "message": "3 tries"}]}, [],
     NodeState("failed", "ImagePullFailed", "3 tries")),
])
def test_pull_errors_fail_the_node(job_status: Obj, pods: list[Obj],
                                   expected: NodeState) -> None:
    assert oci_job_state({"status": job_status}, pods) == expected


def test_a_tenant_pods_copy_never_counts_as_pull_work() -> None:
    assert pull_failure([]) is None
    meta = {"labels": {**markers.marker_labels("tenant-a"), "edge.fusionvc.io/edgedataset": "q"},
            "annotations": {"edge.fusionvc.io/edgedataset-key": "tenant-b/shop/qwen"}}
    assert work_pod_index({"metadata": meta}) == []


def test_the_edge_copy_mounts_the_artifact_as_a_read_only_image_volume() -> None:
    spec: Obj = {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}],
                 "imagePullSecrets": [{"name": "own"}]}
    mount_datasets(spec, {"qwen": "/models/qwen"}, {"qwen": OciMount(REF, (PULL_SECRET,))})
    assert spec["volumes"] == [{"name": "fusionvc-ds-qwen", "image": {
        "reference": REF, "pullPolicy": "IfNotPresent"}}]
    for group in ("containers", "initContainers"):
        assert spec[group][0]["volumeMounts"] == [{"name": "fusionvc-ds-qwen",
                                                   "mountPath": "/models/qwen", "readOnly": True}]
    assert spec["imagePullSecrets"] == [{"name": "own"}, {"name": PULL_SECRET}]


def test_credentials_apply_to_artifacts_of_the_tenants_registries_only() -> None:
    auths = resolve_registry_auths(parse_tenant_spec(REGISTRIES).registries,
                                   {"reg-a": basic_auth("reg-a", "robot", "s3cret")}.get)
    assert oci_mount(REF, auths) == OciMount(REF, (PULL_SECRET,))
    assert oci_mount(DIGEST_REF, auths) == OciMount(DIGEST_REF, ())


# ---- the syncer -----------------------------------------------------------------------------


def one_edge(nodes: int, *, credentials: bool = False) -> SyncTest:
    """tenant-a with namespace shop (pulling from registry.local:5000 with credentials when
    ``credentials``); edge-1 (r1) with nodes n0..n<nodes-1>."""
    sync = SyncTest()
    tenant = sync.add_tenant("tenant-a", REGISTRIES if credentials else None)
    if credentials:
        tenant.registry_auths = resolve_registry_auths(
            tenant.spec.registries, {"reg-a": basic_auth("reg-a", "robot", "s3cret")}.get)
    sync.put(tenant, NAMESPACES, namespace("shop"))
    edge = sync.add_edge("edge-1", region="r1")
    for i in range(nodes):
        sync.put(edge, NODES, edge_node(f"n{i}"))
    return sync


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    sync = one_edge(2, credentials=True)
    yield sync
    sync.close()


def jobs(sync: SyncTest) -> dict[str, Obj]:
    """edge-1's Jobs by node."""
    return {j["metadata"]["annotations"][markers.EDGE_NODE]: j
            for j in sync.ctx.edges["edge-1"].store(JOBS)}


def status(sync: SyncTest, name: str = "qwen") -> Obj:
    obj = sync.ctx.tenants["tenant-a"].get(EDGEDATASETS, "shop", name)
    assert obj is not None
    found: Obj = obj.get("status") or {}
    return found


def work_pod(job: Obj, phase: str, waiting: str | None = None) -> Obj:
    template = job["spec"]["template"]
    status: Obj = {"phase": phase}
    if waiting:
        status["containerStatuses"] = [{"name": "image-0", "state": {"waiting": {
            "reason": waiting, "message": f"Back-off pulling image {REF!r}"}}}]
    return {"metadata": {"name": f"{job['metadata']['name']}-x",
                         "namespace": job["metadata"]["namespace"],
                         "labels": {**template["metadata"]["labels"],
                                    "batch.kubernetes.io/job-name": job["metadata"]["name"]},
                         "annotations": template["metadata"]["annotations"],
                         "ownerReferences": [{"kind": "Job", "controller": True,
                                              "name": job["metadata"]["name"], "uid": "j"}]},
            "spec": template["spec"], "status": status}


async def test_an_oci_dataset_is_pulled_per_node_with_credentials_and_no_volume_pair(
        fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, oci_dataset())
    await fleet.settle()
    assert set(jobs(fleet)) == {"n0", "n1"}
    job = jobs(fleet)["n0"]
    assert job["metadata"]["namespace"] == fleet.edge_ns()  # the tenant's, not fusionvc's
    assert job["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert edge.get(SECRETS, fleet.edge_ns(), PULL_SECRET) is not None
    for node, j in jobs(fleet).items():
        fleet.put(edge, PODS, work_pod(j, "Succeeded"))
        fleet.put(edge, JOBS, {**j, "status": {"conditions": [{"type": "Complete",
                                                              "status": "True"}]}})
        assert dataset_image("tenant-a", "shop", "qwen") in fleet.placer.snapshot.node(
            "edge-1", node).facts.images  # type: ignore[union-attr]
    await fleet.settle()
    got = status(fleet)
    assert (got["phase"], got["ready"]) == ("Ready", 2)
    assert got["conditions"][0]["type"] == "Ready" and got["conditions"][0]["status"] == "True"
    assert not list(edge.store(apis.PERSISTENTVOLUMES)) and not list(edge.store(apis.PVCS))
    infer = {"metadata": {"name": "infer", "namespace": "shop", "uid": "infer-uid",
                          "annotations": {DATASETS_ANNOTATION: "qwen"}},
             "spec": {"containers": [{"name": "c", "image": "app:1"}]}}
    fleet.put(tenant, PODS, infer)
    await fleet.settle()
    epod = edge.get(PODS, fleet.edge_ns(), "infer")
    assert epod is not None
    assert {"name": "fusionvc-ds-qwen", "image": {"reference": REF,
                                                  "pullPolicy": "IfNotPresent"}} in \
        epod["spec"]["volumes"]
    assert {"name": PULL_SECRET} in epod["spec"]["imagePullSecrets"]


async def test_an_unpullable_reference_is_a_failed_node_with_the_reason(
        fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, oci_dataset(target={"nodeSelector": {"matchLabels": {
        "kubernetes.io/hostname": "vn-edge-1-n1"}}}))
    await fleet.settle()
    (job,) = jobs(fleet).values()
    fleet.put(edge, PODS, work_pod(job, "Pending", waiting="ErrImagePull"))
    await fleet.settle()
    got = status(fleet)
    assert got["phase"] == "Failed"
    (failed,) = got["failedNodes"]
    assert (failed["node"], failed["reason"]) == ("vn-edge-1-n1", "ImagePullFailed")
    assert failed["message"].startswith("ErrImagePull: Back-off pulling image")


async def test_a_bad_reference_is_told_with_an_event_and_a_condition(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, oci_dataset(reference="registry.local/qwen"))
    await fleet.settle()
    got = status(fleet)
    assert got["phase"] == "Failed" and "neither a tag nor a digest" in got["message"]
    (cond,) = got["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "False", "InvalidSpec")
    assert any(c.verb == "create" and c.body["reason"] == "InvalidSpec"
               for c in fleet.client(tenant).writes(EVENTS))
    assert not jobs(fleet)


async def test_only_fusionvc_pull_pods_announce_a_dataset_outside_its_namespace(
        fleet: SyncTest) -> None:
    """An OCI pull runs in the tenant's edge namespace: the EdgeDataset label, set only on
    fusionvc's Jobs, is what lets its pod announce the dataset there; a tenant pod's copy
    carrying that label and annotation (its markers) never does."""
    edge = fleet.ctx.edges["edge-1"]
    claim = {PROVIDES: provides({dataset_image("tenant-a", "shop", "qwen"): 1})}
    label = {"edge.fusionvc.io/edgedataset": "qwen"}
    owner = [{"kind": "Job", "controller": True, "name": "j", "uid": "j"}]
    forged = {"metadata": {"name": "forged", "namespace": fleet.edge_ns(),
                           "labels": {**markers.marker_labels("tenant-a"), **label},
                           "annotations": claim, "ownerReferences": owner},
              "spec": {"nodeName": "n1", "containers": []}, "status": {"phase": "Succeeded"}}
    fleet.put(edge, PODS, forged)
    assert not fleet.placer.snapshot.node("edge-1", "n1").facts.images  # type: ignore[union-attr]
    work = {**forged, "metadata": {**forged["metadata"], "name": "work", "labels": label}}
    fleet.put(edge, PODS, work)
    assert fleet.placer.snapshot.node("edge-1", "n1").facts.images  # type: ignore[union-attr]
