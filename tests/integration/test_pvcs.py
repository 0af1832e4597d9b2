"""PersistentVolumeClaims on the sandbox (issue 18, item 7): the claim is created in the
edge cluster where its pod is placed, with the storage class that cluster maps, its status
comes up, a claim no cluster can satisfy keeps its pod Pending with the reason, and the copy
goes with the tenant's claim.

Before: the claim stayed in the tenant only (Pending for good) while the pod read Running.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .kube_helpers import EDGES, apply, edge_ns, get_json, items, namespace, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for
from .test_hostile_pods import hardened_pod, live_edge_pod, pod_scheduled

Obj = dict[str, Any]
EDGE = "edge-gz"  # not tenant-a's preferred region: only its storage class brings pods here
EDGE_CLASS = "fusionvc-test-local"


def claim(ns: str, name: str, storage_class: str) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                     "resources": {"requests": {"storage": "1Gi"}}}}


def pod_with_claim(ns: str, name: str, claim_name: str) -> Obj:
    pod = hardened_pod(ns, name, volumes=[{"name": "data",
                                           "persistentVolumeClaim": {"claimName": claim_name}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return pod


@pytest.fixture
def fast_class_on_gz(sandbox: SandboxHandle) -> Iterator[str]:
    """edge-gz offers tenants' class "fast" as its own class, with one static volume."""
    management, edge, pv = sandbox["management"], sandbox[EDGE], unique("fusionvc-test-pv")
    apply(edge, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                 "metadata": {"name": EDGE_CLASS}, "provisioner": "kubernetes.io/no-provisioner",
                 "volumeBindingMode": "Immediate"},
          {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
           "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                    "storageClassName": EDGE_CLASS, "hostPath": {"path": f"/tmp/{pv}"},
                    "persistentVolumeReclaimPolicy": "Retain"}})
    management.kubectl("patch", "edgecluster", EDGE, "--type=merge", "-p", json.dumps(
        {"spec": {"storageClasses": {"fast": EDGE_CLASS}}}))
    try:
        yield pv
    finally:
        management.kubectl("patch", "edgecluster", EDGE, "--type=merge", "-p",
                           json.dumps({"spec": {"storageClasses": None}}))
        edge.kubectl("delete", "pv", pv, "--wait=false", check=False)


def test_a_claim_is_made_where_its_pod_runs_and_its_status_comes_up(
        sandbox: SandboxHandle, syncer: SyncerProcess, fast_class_on_gz: str) -> None:
    tenant, ns = sandbox["tenant-a"], unique("pvc")
    apply(tenant, namespace(ns), claim(ns, "data", "fast"), pod_with_claim(ns, "db", "data"))
    ens = edge_ns(sandbox, "tenant-a", ns)
    found = wait_for(lambda: live_edge_pod(sandbox, ens, "db"), 120, "the pod on an edge")
    assert found[0] == EDGE  # the only cluster offering "fast"
    copy = get_json(sandbox[EDGE], "pvc", "data", "-n", ens)
    assert copy["spec"]["storageClassName"] == EDGE_CLASS
    assert copy["metadata"]["labels"]["fusionvc.io/managed-by"] == "fusionvc"

    def bound() -> Obj | None:
        status: Obj = get_json(tenant, "pvc", "data", "-n", ns).get("status") or {}
        return status if status.get("phase") == "Bound" else None
    status = wait_for(bound, 90, "the tenant's claim Bound, as its edge copy")
    assert status["capacity"] == {"storage": "2Gi"}  # the edge volume's size
    assert get_json(sandbox[EDGE], "pv", fast_class_on_gz)["spec"]["claimRef"]["namespace"] == ens

    # The pod goes: the claim (its data) stays. The claim goes: so does its copy.
    tenant.kubectl("delete", "pod", "db", "-n", ns, "--wait=false")
    wait_for(lambda: not live_edge_pod(sandbox, ens, "db"), 90, "the edge pod gone")
    assert [c["metadata"]["name"] for c in items(sandbox[EDGE], "pvc", "-n", ens)] == ["data"]
    tenant.kubectl("delete", "pvc", "data", "-n", ns, "--wait=false")
    wait_for(lambda: not any(items(sandbox[e], "pvc", "-n", ens) for e in EDGES), 90,
             "the claim's edge copy removed")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_claim_no_edge_cluster_can_satisfy_keeps_the_pod_pending_with_the_reason(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("pvcgold")
    apply(tenant, namespace(ns), claim(ns, "data", "gold"), pod_with_claim(ns, "db", "data"))
    cond = wait_for(lambda: pod_scheduled(tenant, ns, "db"), 90, "PodScheduled=False")
    assert 'storage class "gold" is offered by no edge cluster' in cond["message"]
    assert not live_edge_pod(sandbox, edge_ns(sandbox, "tenant-a", ns), "db")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_an_ephemeral_volume_claim_is_the_tenants_copied_where_the_pod_runs(
        sandbox: SandboxHandle, syncer: SyncerProcess, fast_class_on_gz: str) -> None:
    tenant, ns = sandbox["tenant-a"], unique("pvceph")
    pod = hardened_pod(ns, "job", volumes=[{"name": "scratch", "ephemeral": {
        "volumeClaimTemplate": {"spec": claim(ns, "x", "fast")["spec"]}}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/s"}]
    apply(tenant, namespace(ns), pod)
    ens = edge_ns(sandbox, "tenant-a", ns)
    found = wait_for(lambda: live_edge_pod(sandbox, ens, "job"), 120, "the pod on an edge")
    assert found[0] == EDGE
    assert found[1]["spec"]["volumes"][0] == {
        "name": "scratch", "persistentVolumeClaim": {"claimName": "job-scratch"}}
    copy = get_json(sandbox[EDGE], "pvc", "job-scratch", "-n", ens)
    assert copy["spec"]["storageClassName"] == EDGE_CLASS
    wait_for(lambda: (get_json(tenant, "pvc", "job-scratch", "-n", ns).get("status") or {}).get(
        "phase") == "Bound", 90, "the tenant's ephemeral claim Bound, as its edge copy")
    # The claim belongs to the pod: deleting the pod deletes the claim, and its copy.
    tenant.kubectl("delete", "pod", "job", "-n", ns, "--wait=false")
    wait_for(lambda: not any(items(sandbox[e], "pvc", "-n", ens) for e in EDGES), 120,
             "the ephemeral claim's edge copy removed with the pod")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
