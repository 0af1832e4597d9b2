"""custom.metrics.k8s.io in tenants: a pod's own metric drives an HPA of type Pods.

kwok simulates each pod's http_requests_per_second from the pod annotation
sandbox.fusionvc.io/http-requests-per-second on the edge node's pod-metrics endpoint
(127.0.0.1, kwok's port); the syncer scrapes it (syncer/podmetrics) and serves it
through each tenant apiserver's aggregation layer (APIService
v1beta2.custom.metrics.k8s.io). The tenant's own controller-manager scales.
"""

from __future__ import annotations

import json
from typing import Any

from .kube_helpers import apply, deployment, get_json, namespace, running_pods, unique
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for
from .test_metrics_api import raw

RPS = "sandbox.fusionvc.io/http-requests-per-second"
METRIC = "http_requests_per_second"
CUSTOM = "/apis/custom.metrics.k8s.io/v1beta2"


def rps_deployment(ns: str, rps: str) -> dict[str, Any]:
    dep = deployment(ns, "infer", 1, container={
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}})
    dep["spec"]["template"]["metadata"]["annotations"] = {RPS: rps}
    return dep


def pods_hpa(ns: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "infer", "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "infer"},
            "minReplicas": 1, "maxReplicas": 4,
            "metrics": [{"type": "Pods", "pods": {
                "metric": {"name": METRIC},
                "target": {"type": "AverageValue", "averageValue": target}}}],
        },
    }


def values(tenant: Cluster, ns: str) -> dict[str, str]:
    proc = tenant.kubectl("get", "--raw", f"{CUSTOM}/namespaces/{ns}/pods/*/{METRIC}",
                          check=False)
    if proc.returncode != 0:
        return {}
    return {i["describedObject"]["name"]: i["value"] for i in json.loads(proc.stdout)["items"]}


def replicas(tenant: Cluster, ns: str) -> int:
    return int(get_json(tenant, "deployment", "infer", "-n", ns)["spec"]["replicas"])


def test_custom_metric_hpa_scales_up_and_down(sandbox: SandboxHandle,
                                              syncer: SyncerProcess) -> None:
    a, b = sandbox["tenant-a"], sandbox["tenant-b"]
    ns = unique("cm")
    apply(a, namespace(ns), rps_deployment(ns, "5"))
    wait_for(lambda: len(running_pods(a, ns)) == 1, 120, "the pod running")
    pod = running_pods(a, ns)[0]["metadata"]["name"]
    wait_for(lambda: values(a, ns) == {pod: "5000m"}, 180, "the pod's metric in tenant-a",
             every=3)
    one = raw(a, f"{CUSTOM}/namespaces/{ns}/pods/{pod}/{METRIC}")["items"]
    assert one[0]["describedObject"] == {"kind": "Pod", "namespace": ns, "name": pod,
                                         "apiVersion": "/v1"}
    # Discovery lists the metric; tenant-b sees nothing of tenant-a's namespace.
    names = {r["name"] for r in raw(a, CUSTOM)["resources"]}
    assert f"pods/{METRIC}" in names
    assert raw(b, f"{CUSTOM}/namespaces/{ns}/pods/*/{METRIC}")["items"] == []
    proc = a.kubectl("--as=nobody", "get", "--raw", f"{CUSTOM}/namespaces/{ns}/pods/*/{METRIC}",
                     check=False)
    assert proc.returncode != 0 and "forbidden" in proc.stderr.lower(), proc.stderr

    apply(a, pods_hpa(ns, "10"))
    a.kubectl("annotate", "pods", "-n", ns, "-l", "app=infer", f"{RPS}=30", "--overwrite")
    wait_for(lambda: replicas(a, ns) > 1, 240, "HPA scaling up on the custom metric", every=3)
    wait_for(lambda: len(running_pods(a, ns)) == replicas(a, ns), 180, "new pods running")
    a.kubectl("annotate", "pods", "-n", ns, "-l", "app=infer", f"{RPS}=1", "--overwrite")
    wait_for(lambda: replicas(a, ns) == 1, 300, "HPA scaling back down", every=3)
    hpa = get_json(a, "hpa", "infer", "-n", ns)
    current = hpa["status"]["currentMetrics"][0]["pods"]
    assert current["metric"]["name"] == METRIC, hpa["status"]
    a.kubectl("delete", "namespace", ns, "--wait=false")
