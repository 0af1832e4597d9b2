"""EdgeDatasets from OCI artifacts and OnFirstUse distribution (issue 15) on the sandbox.

OCI: the edge API servers (1.36) accept a pull Job whose pod mounts the artifact as an
``image`` volume, in the tenant's edge namespace with tenant-a's registry credentials; kwok
completes it; the pod that names the dataset runs with the artifact mounted read-only as an
image volume, and no PV/PVC is made. kwok pulls nothing, so a reference on
``unpullable.invalid`` is made to fail by a sandbox stage (hack/sandbox_lib/pull_failures.py),
as a kubelet reports it (ErrImagePull): the node shows in status.failedNodes.

OnFirstUse: nothing is distributed until a pod names the dataset; the pod is bound, waits
(Normal Event WaitingForDataset) while its node's copy is made, then runs there; a transfer
that fails fails the pod with the reason."""

from __future__ import annotations

import json
from typing import Any

from syncer.core.names import virtual_node_name
from syncer.fleet.registries import PULL_SECRET
from syncer.kinds.dataset_translate import DATASET_LABEL
from tests.builders import pod, pod_spec

from .kube_helpers import Obj, apply, edge_ns, get_json, items, namespace, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

REFERENCE = "registry.local:5000/models/qwen2-7b:v1"  # tenant-a's registry (config/sandbox.yaml)
UNPULLABLE = "unpullable.invalid/models/none:v1"
SH_CPU = {"topology.kubernetes.io/region": "cn-shanghai", "node.kubernetes.io/instance-type": "cpu"}


def _dataset(ns: str, name: str, reference: str, **spec: object) -> Obj:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "EdgeDataset",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"oci": {"reference": reference}, "sizeBytes": 7_000_000_000},
                     **spec}}


def _status(sandbox: SandboxHandle, ns: str, name: str) -> dict[str, Any]:
    found = items(sandbox["tenant-a"], "edgedatasets", "-n", ns)
    return next((d.get("status") or {} for d in found if d["metadata"]["name"] == name), {})


def _needs(ns: str, name: str, dataset: str) -> Obj:
    infer = pod(ns, name, spec=pod_spec(nodeSelector=SH_CPU))
    infer["metadata"]["annotations"] = {"edge.fusionvc.io/datasets": dataset,
                                        "edge.fusionvc.io/dataset-mounts":
                                            f"{dataset}=/models/{dataset}"}
    return infer


def _on_node(node: str) -> dict[str, object]:
    return {"nodeSelector": {"matchLabels": {"kubernetes.io/hostname": node}}}


def _events(sandbox: SandboxHandle, ns: str, name: str) -> list[Obj]:
    return [e for e in items(sandbox["tenant-a"], "events", "-n", ns)
            if e["involvedObject"].get("name") == name]


def test_an_oci_dataset_is_pulled_and_mounted_as_an_image_volume(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a, sh = unique("oci"), sandbox["tenant-a"], sandbox["edge-sh"]
    chosen = virtual_node_name("edge-sh", "sh-cpu-1")
    apply(a, namespace(ns), _dataset(ns, "llm", REFERENCE, target=_on_node(chosen)))
    wait_for(lambda: _status(sandbox, ns, "llm").get("phase") == "Ready", 180,
             "the OCI dataset to be ready")
    assert _status(sandbox, ns, "llm")["readyNodes"] == [chosen]
    ens = edge_ns(sandbox, "tenant-a", ns)
    (job,) = [j for j in items(sh, "jobs", "-n", ens) if DATASET_LABEL in j["metadata"]["labels"]]
    work = job["spec"]["template"]["spec"]
    assert work["volumes"] == [{"name": "dataset", "image": {"reference": REFERENCE,
                                                             "pullPolicy": "IfNotPresent"}}]
    assert work["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert any(s["metadata"]["name"] == PULL_SECRET for s in items(sh, "secrets", "-n", ens))
    apply(a, _needs(ns, "infer", "llm"))
    wait_for(lambda: get_json(a, "pod", "infer", "-n", ns)["status"].get("phase") == "Running",
             120, "the pod to run")
    assert get_json(a, "pod", "infer", "-n", ns)["spec"]["nodeName"] == chosen
    epod = get_json(sh, "pod", "infer", "-n", ens)
    (volume,) = [v for v in epod["spec"]["volumes"] if "image" in v]
    assert volume["image"] == {"reference": REFERENCE, "pullPolicy": "IfNotPresent"}
    assert {"name": volume["name"], "mountPath": "/models/llm", "readOnly": True} in \
        epod["spec"]["containers"][0]["volumeMounts"]
    assert {"name": PULL_SECRET} in epod["spec"]["imagePullSecrets"]
    assert not [v for v in items(sh, "pv", "-l", DATASET_LABEL)
                if v["metadata"]["annotations"]["fusionvc.io/tenant-namespace"] == ns]
    assert not items(sh, "pvc", "-n", ens, "-l", DATASET_LABEL)
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_an_unpullable_reference_is_a_failed_node_and_bad_input_is_refused(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a = unique("oci-bad"), sandbox["tenant-a"]
    chosen = virtual_node_name("edge-sh", "sh-cpu-0")
    apply(a, namespace(ns), _dataset(ns, "none", UNPULLABLE, target=_on_node(chosen)))
    wait_for(lambda: _status(sandbox, ns, "none").get("phase") == "Failed", 180,
             "the unpullable dataset to fail")
    (failed,) = _status(sandbox, ns, "none")["failedNodes"]
    assert (failed["node"], failed["reason"]) == (chosen, "ImagePullFailed")
    assert failed["message"].startswith("ErrImagePull")
    # The CRD refuses two sources; a reference without a tag or digest is told in status.
    both = _dataset(ns, "both", REFERENCE)
    both["spec"] = {"source": {"oci": {"reference": REFERENCE}, "url": "https://x/y",
                               "sha256": "5" * 64}}
    refused = a.kubectl("apply", "-f", "-", stdin=json.dumps(both), check=False)
    assert refused.returncode != 0 and "exactly one of spec.source.url or spec.source.oci" in \
        refused.stderr
    apply(a, _dataset(ns, "untagged", "registry.local:5000/models/qwen2-7b"))
    wait_for(lambda: _status(sandbox, ns, "untagged").get("phase") == "Failed", 60,
             "the untagged reference to be refused")
    cond = _status(sandbox, ns, "untagged")["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "False", "InvalidSpec")
    assert any(e["reason"] == "InvalidSpec" and e["type"] == "Warning"
               for e in _events(sandbox, ns, "untagged"))
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_on_first_use_the_pod_waits_for_its_copy_then_runs(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a, sh = unique("first-use"), sandbox["tenant-a"], sandbox["edge-sh"]
    apply(a, namespace(ns), _dataset(ns, "llm", REFERENCE, strategy={"type": "OnFirstUse"},
                                     target={"clusters": ["edge-sh"]}))
    wait_for(lambda: str(_status(sandbox, ns, "llm").get("message", "")).startswith(
        "OnFirstUse"), 60, "the OnFirstUse dataset to say it waits for a pod")
    ens = edge_ns(sandbox, "tenant-a", ns)
    assert not [j for j in items(sh, "jobs", "-n", ens) if DATASET_LABEL in j["metadata"][
        "labels"]], "nothing is distributed up front"
    apply(a, _needs(ns, "infer", "llm"))
    wait_for(lambda: get_json(a, "pod", "infer", "-n", ns)["status"].get("phase") == "Running",
             120, "the pod to run once its copy is ready")
    node = get_json(a, "pod", "infer", "-n", ns)["spec"]["nodeName"]
    status = _status(sandbox, ns, "llm")
    assert status["readyNodes"] == [node] and status["desired"] == 1
    waited = [e for e in _events(sandbox, ns, "infer") if e["reason"] == "WaitingForDataset"]
    assert waited and waited[0]["type"] == "Normal" and "'llm'" in waited[0]["message"]
    # A transfer that fails fails the pod, with the reason.
    apply(a, _dataset(ns, "none", UNPULLABLE, strategy={"type": "OnFirstUse"},
                      target={"clusters": ["edge-sh"]}), _needs(ns, "stuck", "none"))
    wait_for(lambda: get_json(a, "pod", "stuck", "-n", ns)["status"].get("phase") == "Failed",
             120, "the pod whose copy cannot be pulled to fail")
    stuck = get_json(a, "pod", "stuck", "-n", ns)
    assert stuck["status"]["reason"] == "DatasetTransferFailed"
    assert "ImagePullFailed" in stuck["status"]["message"]
    cond = next(c for c in stuck["status"]["conditions"] if c["type"] == "ContainersReady")
    assert cond["reason"] == "DatasetTransferFailed"
    assert any(e["reason"] == "DatasetTransferFailed" and e["type"] == "Warning"
               for e in _events(sandbox, ns, "stuck"))
    a.kubectl("delete", "namespace", ns, "--wait=false")


def _prewarm_status(sandbox: SandboxHandle, ns: str, name: str) -> dict[str, Any]:
    found = items(sandbox["tenant-a"], "imageprewarms", "-n", ns)
    return next((p.get("status") or {} for p in found if p["metadata"]["name"] == name), {})


def test_an_imageprewarm_pulls_an_artifact_through_an_image_volume(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a, sh = unique("artifact"), sandbox["tenant-a"], sandbox["edge-sh"]
    chosen = virtual_node_name("edge-sh", "sh-cpu-2")
    prewarm = {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ImagePrewarm",
               "metadata": {"name": "model", "namespace": ns},
               "spec": {"images": [{"image": REFERENCE, "kind": "Artifact"}],
                        "target": _on_node(chosen)}}
    unpullable = {**prewarm, "metadata": {"name": "none", "namespace": ns},
                  "spec": {"images": [{"image": UNPULLABLE, "kind": "Artifact"}],
                           "target": _on_node(chosen), "timeoutSeconds": 15}}
    apply(a, namespace(ns), prewarm, unpullable)
    wait_for(lambda: _prewarm_status(sandbox, ns, "model").get("phase") == "Succeeded", 120,
             "the artifact pre-warm to succeed")
    ens = edge_ns(sandbox, "tenant-a", ns)
    (job,) = [j for j in items(sh, "jobs", "-n", ens)
              if j["metadata"]["labels"].get("edge.fusionvc.io/imageprewarm") == "model"]
    work = job["spec"]["template"]["spec"]
    assert work["volumes"] == [{"name": "artifact-0", "image": {
        "reference": REFERENCE, "pullPolicy": "IfNotPresent"}}]
    assert work["containers"][0]["image"] != REFERENCE  # the artifact is not run
    assert work["imagePullSecrets"] == [{"name": PULL_SECRET}]
    # kwok's stage keeps the unpullable artifact's pod waiting (ErrImagePull) until the deadline.
    wait_for(lambda: _prewarm_status(sandbox, ns, "none").get("phase") == "Failed", 120,
             "the unpullable artifact's pre-warm to fail")
    (failed,) = _prewarm_status(sandbox, ns, "none")["failedNodes"]
    assert (failed["node"], failed["reason"]) == (chosen, "DeadlineExceeded")
    a.kubectl("delete", "namespace", ns, "--wait=false")
