"""ImagePrewarm (issue 15) on the sandbox: one pull Job per target node on the edge, kwok
completes them, the tenant reads progress with `kubectl get imageprewarms`, TTL cleans up."""

from __future__ import annotations

from syncer.core.names import virtual_node_name
from syncer.fleet.registries import PULL_SECRET
from tests.builders import container, pod, pod_spec

from .kube_helpers import apply, edge_ns, get_json, items, namespace, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

IMAGE = "registry.local:5000/llm/qwen2-7b:1"  # tenant-a's platform registry (sandbox.yaml)
SH_CPU = {"topology.kubernetes.io/region": "cn-shanghai", "node.kubernetes.io/instance-type": "cpu"}


def _prewarm(ns: str, name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ImagePrewarm",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"images": [{"image": IMAGE, "sizeBytes": 7_000_000_000}], **spec}}


def _status(sandbox: SandboxHandle, ns: str, name: str) -> dict[str, object]:
    found = items(sandbox["tenant-a"], "imageprewarms", "-n", ns)
    status: dict[str, object] = next((p.get("status") or {} for p in found
                                      if p["metadata"]["name"] == name), {})
    return status


def test_prewarm_pulls_on_every_target_node_and_reports_per_cluster(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a = unique("prewarm"), sandbox["tenant-a"]
    target = {"clusters": ["edge-bj"],
              "nodeSelector": {"matchLabels": {"kubernetes.io/arch": "amd64"}}}
    apply(a, namespace(ns), _prewarm(ns, "qwen", parallelism=3, target=target))
    bj_nodes = {n["metadata"]["name"] for n in items(sandbox["edge-bj"], "nodes")}
    wait_for(lambda: _status(sandbox, ns, "qwen").get("phase") == "Succeeded", 180,
             "the ImagePrewarm to succeed")
    status = _status(sandbox, ns, "qwen")
    assert (status["desired"], status["succeeded"], status["failed"], status["active"]) == (
        len(bj_nodes), len(bj_nodes), 0, 0)
    assert status["clusters"] == [{"name": "edge-bj", "desired": len(bj_nodes), "active": 0,
                                   "succeeded": len(bj_nodes), "failed": 0}]
    assert status["failedNodes"] == [] and status["completionTime"]

    jobs = items(sandbox["edge-bj"], "jobs", "-n", edge_ns(sandbox, "tenant-a", ns))
    assert {j["spec"]["template"]["spec"]["nodeName"] for j in jobs} == bj_nodes
    for job in jobs:
        pod_spec = job["spec"]["template"]["spec"]
        assert [c["image"] for c in pod_spec["containers"]] == [IMAGE]
        assert pod_spec["imagePullSecrets"] == [{"name": PULL_SECRET}]
        assert any(c["type"] == "Complete" and c["status"] == "True"
                   for c in job["status"]["conditions"])
    for edge in ("edge-sh", "edge-gz"):
        assert not items(sandbox[edge], "jobs", "-A", "-l",
                         "fusionvc.io/tenant=tenant-a,edge.fusionvc.io/imageprewarm")

    table = a.kubectl("get", "imageprewarms", "-n", ns).stdout
    header, row = table.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "PHASE", "DESIRED", "ACTIVE", "SUCCEEDED", "FAILED"]
    assert row.split()[:6] == ["qwen", "Succeeded", str(len(bj_nodes)), "0",
                               str(len(bj_nodes)), "0"]
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_ttl_after_finished_removes_the_prewarm_and_its_jobs(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a = unique("prewarm-ttl"), sandbox["tenant-a"]
    apply(a, namespace(ns), _prewarm(ns, "short", ttlSecondsAfterFinished=3,
                                     target={"clusters": ["edge-sh"]}))
    ens = edge_ns(sandbox, "tenant-a", ns)
    wait_for(lambda: _status(sandbox, ns, "short").get("phase") == "Succeeded", 180,
             "the ImagePrewarm to succeed")
    assert items(sandbox["edge-sh"], "jobs", "-n", ens)
    wait_for(lambda: not items(a, "imageprewarms", "-n", ns), 60, "the TTL to delete it")
    wait_for(lambda: not [j for j in items(sandbox["edge-sh"], "jobs", "-n", ens)
                          if not j["metadata"].get("deletionTimestamp")], 60,
             "its edge Jobs to be deleted")
    crd = get_json(a, "crd", "imageprewarms.edge.fusionvc.io")
    assert crd["metadata"]["annotations"]["fusionvc.io/manifest-sha256"]
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_prewarming_a_node_makes_the_next_pod_land_there(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns, a = unique("prewarm-place"), sandbox["tenant-a"]
    image = "registry.local:5000/llm/prewarmed-model:1"
    chosen = virtual_node_name("edge-sh", "sh-cpu-2")
    apply(a, namespace(ns), {
        "apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ImagePrewarm",
        "metadata": {"name": "one", "namespace": ns},
        "spec": {"images": [{"image": image, "sizeBytes": 7_000_000_000}],
                 "target": {"nodeSelector": {"matchLabels": {"kubernetes.io/hostname": chosen}}}}})
    wait_for(lambda: _status(sandbox, ns, "one").get("phase") == "Succeeded", 180,
             "the ImagePrewarm to succeed")
    for i in range(2):  # the same three equal sh-cpu nodes; the pre-warmed one wins each time
        apply(a, pod(ns, f"infer-{i}", spec=pod_spec(containers=[container(image=image)],
                                                   nodeSelector=SH_CPU)))
        wait_for(lambda i=i: get_json(a, "pod", f"infer-{i}", "-n", ns)["spec"].get("nodeName"),
                 60, f"infer-{i} bound")
        assert get_json(a, "pod", f"infer-{i}", "-n", ns)["spec"]["nodeName"] == chosen
    a.kubectl("delete", "namespace", ns, "--wait=false")
