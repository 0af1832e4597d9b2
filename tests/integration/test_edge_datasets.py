"""EdgeDataset (issue 15) on the sandbox: download Jobs per chosen node in fusionvc's edge
namespace, kwok completes them, status per cluster readable with `kubectl get edgedatasets`;
a pod that needs the dataset waits with a reason, then starts on the node where it is ready,
with the dataset mounted through the PV and claim fusionvc makes for that node's copy.

kwok runs no container, so the downloader itself is tested as a real process against a real
HTTP server in test_dataset_fetch.py (checksum mismatch included)."""

from __future__ import annotations

from syncer.core.names import virtual_node_name
from syncer.kinds.dataset_translate import DATASET_LABEL, DATASET_NAMESPACE, host_path
from tests.builders import pod, pod_spec

from .kube_helpers import Obj, apply, edge_ns, get_json, items, namespace, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

SHA = "5" * 64
URL = "http://127.0.0.1:18080/models/qwen2-7b.bin"  # never contacted by the sandbox (kwok)
SH_CPU = {"topology.kubernetes.io/region": "cn-shanghai", "node.kubernetes.io/instance-type": "cpu"}


def _dataset(ns: str, name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "EdgeDataset",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"url": URL, "sha256": SHA, "sizeBytes": 7_000_000_000}, **spec}}


def _status(sandbox: SandboxHandle, ns: str, name: str) -> dict[str, object]:
    found = items(sandbox["tenant-a"], "edgedatasets", "-n", ns)
    status: dict[str, object] = next((d.get("status") or {} for d in found
                                      if d["metadata"]["name"] == name), {})
    return status


def test_rolling_distribution_reports_per_cluster(sandbox: SandboxHandle,
                                                  syncer: SyncerProcess) -> None:
    ns, a = unique("dataset"), sandbox["tenant-a"]
    apply(a, namespace(ns), _dataset(ns, "qwen", target={"clusters": ["edge-sh"]},
                                     strategy={"type": "Rolling", "maxConcurrent": 2}))
    sh_nodes = {n["metadata"]["name"] for n in items(sandbox["edge-sh"], "nodes")}
    wait_for(lambda: _status(sandbox, ns, "qwen").get("phase") == "Ready", 180,
             "the EdgeDataset to be ready")
    status = _status(sandbox, ns, "qwen")
    assert (status["desired"], status["ready"], status["failed"]) == (len(sh_nodes),
                                                                      len(sh_nodes), 0)
    assert status["clusters"] == [{"name": "edge-sh", "desired": len(sh_nodes), "active": 0,
                                   "ready": len(sh_nodes), "failed": 0}]
    jobs = [j for j in items(sandbox["edge-sh"], "jobs", "-n", DATASET_NAMESPACE)
            if j["metadata"]["annotations"]["fusionvc.io/tenant-namespace"] == ns]
    assert {j["spec"]["template"]["spec"]["nodeName"] for j in jobs} == sh_nodes
    path = host_path(edge_ns(sandbox, "tenant-a", ns), "qwen", SHA)
    assert all(j["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"] == path
               for j in jobs)
    header, row = a.kubectl("get", "edgedatasets", "-n", ns).stdout.splitlines()[:2]
    assert header.split()[:7] == ["NAME", "PHASE", "STRATEGY", "DESIRED", "ACTIVE", "READY",
                                  "FAILED"]
    assert row.split()[:3] == ["qwen", "Ready", "Rolling"]
    a.kubectl("delete", "edgedataset", "qwen", "-n", ns)
    wait_for(lambda: not [j for j in items(sandbox["edge-sh"], "jobs", "-n", DATASET_NAMESPACE)
                          if j["metadata"]["annotations"]["fusionvc.io/tenant-namespace"] == ns
                          and not j["metadata"].get("deletionTimestamp")], 60,
             "its Jobs to be deleted")
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_pod_waits_for_its_dataset_then_starts_where_it_is_ready(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a = unique("dataset-pod"), sandbox["tenant-a"]
    infer = pod(ns, "infer", spec=pod_spec(nodeSelector=SH_CPU))
    infer["metadata"]["annotations"] = {"edge.fusionvc.io/datasets": "llm",
                                        "edge.fusionvc.io/dataset-mounts": "llm=/models/llm"}
    apply(a, namespace(ns), infer)

    def waiting() -> str:
        got = get_json(a, "pod", "infer", "-n", ns)
        cond: dict[str, object] = next((c for c in got["status"].get("conditions", [])
                                        if c["type"] == "PodScheduled"), {})
        return str(cond.get("message", "")) if cond.get("reason") == "Unschedulable" else ""
    text = wait_for(waiting, 60, "the pod to wait for its dataset")
    assert "didn't have the pod's edge datasets ready" in text
    chosen = virtual_node_name("edge-sh", "sh-cpu-2")
    apply(a, _dataset(ns, "llm", target={
        "nodeSelector": {"matchLabels": {"kubernetes.io/hostname": chosen}}}))
    wait_for(lambda: _status(sandbox, ns, "llm").get("phase") == "Ready", 180,
             "the EdgeDataset to be ready")
    assert _status(sandbox, ns, "llm")["readyNodes"] == [chosen]
    wait_for(lambda: get_json(a, "pod", "infer", "-n", ns)["spec"].get("nodeName"), 120,
             "the pod to be placed")
    placed = get_json(a, "pod", "infer", "-n", ns)
    assert placed["spec"]["nodeName"] == chosen
    _check_mounted(sandbox, ns)
    a.kubectl("delete", "namespace", ns, "--wait=false")


def _dataset_objects(sandbox: SandboxHandle, kind: str, ns: str) -> list[Obj]:
    """The edge-sh PVs or PVCs fusionvc made for datasets of tenant namespace ``ns``."""
    args = ("-n", edge_ns(sandbox, "tenant-a", ns)) if kind == "pvc" else ()
    return [o for o in items(sandbox["edge-sh"], kind, *args, "-l", DATASET_LABEL)
            if o["metadata"]["annotations"]["fusionvc.io/tenant-namespace"] == ns]


def _check_mounted(sandbox: SandboxHandle, ns: str) -> None:
    """The edge pod runs with the claim of its node's copy mounted read-only at the path the
    tenant chose; the claim is bound to a local PV of that copy's folder on that node; deleting
    the EdgeDataset (then the pod that still uses the claim) removes both."""
    a, sh, ens = sandbox["tenant-a"], sandbox["edge-sh"], edge_ns(sandbox, "tenant-a", ns)
    wait_for(lambda: get_json(sh, "pod", "infer", "-n", ens)["status"].get("phase")
             == "Running", 120, "the edge pod to run")
    epod = get_json(sh, "pod", "infer", "-n", ens)
    (volume,) = [v for v in epod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    claim = volume["persistentVolumeClaim"]
    assert claim["readOnly"] is True
    assert {"name": volume["name"], "mountPath": "/models/llm", "readOnly": True} in \
        epod["spec"]["containers"][0]["volumeMounts"]
    assert not any("hostPath" in v for v in epod["spec"]["volumes"])

    def bound() -> bool:
        return all(o.get("status", {}).get("phase") == "Bound"
                   for kind in ("pv", "pvc") for o in _dataset_objects(sandbox, kind, ns))
    wait_for(bound, 60, "the dataset's PV and PVC to be bound")
    (pvc,) = _dataset_objects(sandbox, "pvc", ns)
    (pv,) = _dataset_objects(sandbox, "pv", ns)
    assert pvc["metadata"]["name"] == claim["claimName"]
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pv["spec"]["claimRef"]["name"] == pvc["metadata"]["name"]
    assert pv["spec"]["claimRef"]["namespace"] == ens
    assert pv["spec"]["local"]["path"] == host_path(ens, "llm", SHA)
    hostname = get_json(sh, "node", "sh-cpu-2")["metadata"]["labels"]["kubernetes.io/hostname"]
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0][
        "matchExpressions"] == [{"key": "kubernetes.io/hostname", "operator": "In",
                                 "values": [hostname]}]
    assert pv["spec"]["accessModes"] == pvc["spec"]["accessModes"] == ["ReadOnlyMany"]
    a.kubectl("delete", "edgedataset", "llm", "-n", ns)
    wait_for(lambda: all(o["metadata"].get("deletionTimestamp")
                         for o in _dataset_objects(sandbox, "pvc", ns)), 60,
             "the claim to be deleted (kept while its pod runs: pvc-protection)")
    a.kubectl("delete", "pod", "infer", "-n", ns, "--wait=false")
    wait_for(lambda: not _dataset_objects(sandbox, "pvc", ns)
             and not _dataset_objects(sandbox, "pv", ns), 120, "the PV and PVC to be gone")
