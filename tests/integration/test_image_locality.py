"""Image locality (issue 15) on the sandbox: among otherwise equal edge nodes, a pod goes to
the one whose kubelet reports its image in status.images (kwok keeps what is written)."""

from __future__ import annotations

import json

from tests.builders import container, pod, pod_spec

from .kube_helpers import apply, get_json, namespace, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

MODEL = "registry.local:5000/llm/locality-model:1"
GB = 1024**3
# The three sh-cpu nodes of edge-sh are alike (config/sandbox.yaml): same price, size, zone.
SH_CPU = {"topology.kubernetes.io/region": "cn-shanghai", "node.kubernetes.io/instance-type": "cpu"}


def _report_image(sandbox: SandboxHandle, node: str, images: list[dict[str, object]]) -> None:
    sandbox["edge-sh"].kubectl("patch", "node", node, "--subresource=status", "--type=merge",
                               "-p", json.dumps({"status": {"images": images}}))


def test_a_pod_goes_to_the_node_that_has_its_image(sandbox: SandboxHandle,
                                                   syncer: SyncerProcess) -> None:
    ns, a = unique("locality"), sandbox["tenant-a"]
    _report_image(sandbox, "sh-cpu-1", [{"names": [MODEL], "sizeBytes": 6 * GB}])
    try:
        wait_for(lambda: get_json(sandbox["edge-sh"], "node", "sh-cpu-1")["status"].get("images"),
                 30, "the node to report the image")
        apply(a, namespace(ns))
        for i in range(2):  # one after the other: each decision sees the same equal nodes
            apply(a, pod(ns, f"infer-{i}", spec=pod_spec(containers=[container(image=MODEL)],
                                                       nodeSelector=SH_CPU)))
            wait_for(lambda i=i: get_json(a, "pod", f"infer-{i}", "-n", ns)["spec"].get(
                "nodeName"), 60, f"infer-{i} bound")
            placed = get_json(a, "pod", f"infer-{i}", "-n", ns)
            assert placed["metadata"]["annotations"]["fusionvc.io/edge-node"] == "sh-cpu-1"
        other = pod(ns, "plain", spec=pod_spec(containers=[container(image="nginx:1.27")],
                                               nodeSelector=SH_CPU))
        apply(a, other)
        wait_for(lambda: get_json(a, "pod", "plain", "-n", ns)["spec"].get("nodeName"), 60,
                 "plain bound")
    finally:
        _report_image(sandbox, "sh-cpu-1", [])
        a.kubectl("delete", "namespace", ns, "--wait=false")
