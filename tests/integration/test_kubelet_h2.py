"""Followed logs of several pods of one tenant go over HTTP/2, both ways, through the endpoint.

tenant-a's kube-apiserver takes HTTP/2 to the kubelet endpoint (ALPN), so
several ``kubectl logs -f`` share one connection; the endpoint passes them to
each edge API server as streams of one HTTP/2 connection per edge cluster. The
syncer's own gauges say so (``fusionvc_kubelet_log_streams{protocol="h2"}``,
``fusionvc_kubelet_edge_connections{cluster}``). Cancelling one ``kubectl``
ends its stream only: the others keep flowing.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from .kube_helpers import HARDENED_CONTAINER, apply, get_json, namespace, unique
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, metric_samples, wait_for
from .test_kubelet_endpoint import read_until

PODS = ("alpha", "beta", "gamma")


class Followed:
    def __init__(self, sandbox: SandboxHandle, ns: str) -> None:
        self.tenant: Cluster = sandbox["tenant-a"]
        self.ns = ns
        self.logs_file = json.loads((sandbox.dir / "state.json").read_text())["kubelet"][
            "logsFile"]

    def log_line(self, text: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        with open(self.logs_file, "a", encoding="utf-8") as out:
            out.write(f"{stamp} stdout F {text}\n")

    def follow(self, pod: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["kubectl", f"--kubeconfig={self.tenant.kubeconfig}", "-n",
                                 self.ns, "logs", "-f", "--tail=0", pod],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def edge_of(self, pod: str) -> str:
        node = get_json(self.tenant, "node", get_json(self.tenant, "pod", pod, "-n", self.ns)[
            "spec"]["nodeName"])
        return str(node["metadata"]["annotations"]["fusionvc.io/edge-cluster"])


@pytest.fixture(scope="module")
def followed(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[Followed]:
    ns = unique("kubelet-h2")
    f = Followed(sandbox, ns)
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
             "spec": {"containers": [{"name": "main", "image": "busybox",
                                      **HARDENED_CONTAINER}]}} for name in PODS]
    apply(f.tenant, namespace(ns), *pods)
    for name in PODS:
        wait_for(lambda name=name: get_json(f.tenant, "pod", name, "-n", ns).get(  # type: ignore[misc]
            "status", {}).get("phase") == "Running", 120, f"pod {name} running")
    yield f
    f.tenant.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def gauge(syncer: SyncerProcess, name: str, **labels: str) -> float:
    return sum(metric_samples(syncer.metrics(), name, **labels))


def test_followed_logs_share_http2_connections_and_one_cancel_leaves_the_others(
        followed: Followed, syncer: SyncerProcess) -> None:
    edges = {followed.edge_of(pod) for pod in PODS}
    before = gauge(syncer, "fusionvc_kubelet_log_streams", protocol="h2")
    procs = {pod: followed.follow(pod) for pod in PODS}
    try:
        wait_for(lambda: gauge(syncer, "fusionvc_kubelet_log_streams", protocol="h2")
                 >= before + len(PODS), 60, "every followed log open over HTTP/2")
        assert gauge(syncer, "fusionvc_kubelet_tenant_connections", protocol="h2") >= 1
        for edge in edges:  # one HTTP/2 connection per edge cluster for all its streams
            assert gauge(syncer, "fusionvc_kubelet_edge_connections", cluster=edge) == 1
        first = f"h2-first-{uuid.uuid4().hex[:8]}"
        followed.log_line(first)
        for pod, proc in procs.items():
            assert first in read_until(proc, first, 30), f"{pod} did not see {first}"
        cancelled = procs.pop(PODS[0])
        cancelled.kill()
        cancelled.communicate(timeout=10)
        wait_for(lambda: gauge(syncer, "fusionvc_kubelet_log_streams", protocol="h2")
                 <= before + len(PODS) - 1, 30, "the cancelled stream to end in the endpoint")
        later = f"h2-later-{uuid.uuid4().hex[:8]}"
        followed.log_line(later)
        for pod, proc in procs.items():
            assert later in read_until(proc, later, 30), f"{pod} stopped after another's cancel"
            assert proc.poll() is None
    finally:
        for proc in procs.values():
            proc.kill()
            proc.communicate(timeout=10)
    wait_for(lambda: gauge(syncer, "fusionvc_kubelet_log_streams", protocol="h2") <= before,
             30, "every stream to end once kubectl went away")
    wait_for(lambda: all(gauge(syncer, "fusionvc_kubelet_edge_connections", cluster=edge) == 0
                         for edge in edges), 30, "the idle edge connections to close")
