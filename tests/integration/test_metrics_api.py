"""metrics.k8s.io in tenants: kubectl top, isolation, authorization, HPA (real clusters).

Usage is simulated by kwok from the pod annotations kwok.x-k8s.io/usage-cpu|memory,
scraped by each edge's real metrics-server, and served by the syncer's metrics API
through each tenant apiserver's aggregation layer.
"""

from __future__ import annotations

import json
from typing import Any

from .kube_helpers import (
    apply,
    deployment,
    get_json,
    items,
    namespace,
    running_pods,
    unique,
)
from .metrics_helpers import (
    POD_METRICS,
    cpu_milli,
    direct_get,
    front_proxy_cert,
    top_rows,
)
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

USAGE_CPU, USAGE_MEMORY = "kwok.x-k8s.io/usage-cpu", "kwok.x-k8s.io/usage-memory"
# The edge node both tenants are pinned to, by the name tenants see (its virtual node).
SHARED_NODE = {"kubernetes.io/hostname": "vn-edge-bj-bj-cpu-1"}


def usage_deployment(ns: str, name: str, replicas: int, cpu: str, memory: str,
                     node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    dep = deployment(ns, name, replicas, container={
        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}},
        pod_spec={"nodeSelector": node_selector} if node_selector else None)
    dep["spec"]["template"]["metadata"]["annotations"] = {USAGE_CPU: cpu, USAGE_MEMORY: memory}
    return dep


def top_pods(tenant: Cluster, ns: str) -> dict[str, tuple[float, float]]:
    proc = tenant.kubectl("top", "pods", "-n", ns, "--no-headers", check=False)
    return top_rows(proc.stdout) if proc.returncode == 0 else {}


def pods_near(tenant: Cluster, ns: str, count: int, cpu_m: float, mem_mib: float) -> bool:
    rows = top_pods(tenant, ns)
    return len(rows) == count and all(
        abs(cpu - cpu_m) <= cpu_m * 0.2 + 2 and abs(mem - mem_mib) <= 1 for cpu, mem in
        rows.values())


def raw(tenant: Cluster, path: str) -> Any:
    return json.loads(tenant.kubectl("get", "--raw", path).stdout)


def test_kubectl_top_follows_usage_annotations(sandbox: SandboxHandle,
                                               syncer: SyncerProcess) -> None:
    a = sandbox["tenant-a"]
    ns = unique("top")
    apply(a, namespace(ns), usage_deployment(ns, "infer", 2, "300m", "200Mi"))
    wait_for(lambda: len(running_pods(a, ns)) == 2, 120, "2 pods running")
    wait_for(lambda: pods_near(a, ns, 2, 300, 200), 180, "kubectl top pods ~300m/200Mi",
             every=3)
    assert set(top_pods(a, ns)) == {p["metadata"]["name"] for p in running_pods(a, ns)}

    # Usage follows the annotation when it changes on a running pod.
    pod = running_pods(a, ns)[0]["metadata"]["name"]
    a.kubectl("annotate", "pod", pod, "-n", ns, f"{USAGE_CPU}=100m", f"{USAGE_MEMORY}=50Mi",
              "--overwrite")
    wait_for(lambda: abs(top_pods(a, ns).get(pod, (0, 0))[1] - 50) <= 1
             and abs(top_pods(a, ns)[pod][0] - 100) <= 22, 180, "usage following the change",
             every=3)

    # kubectl top nodes: the virtual nodes of tenant-a's pods, each the sum of its pods.
    nodes = {p["spec"]["nodeName"] for p in running_pods(a, ns)}

    def nodes_sum_their_pods() -> bool:
        node_items = {n["metadata"]["name"]: n for n in raw(a, f"{POD_METRICS}/nodes")["items"]}
        pod_items = raw(a, f"{POD_METRICS}/pods")["items"]
        pods_by_name = {(p["metadata"]["namespace"], p["metadata"]["name"]): p
                        for p in items(a, "pods", "-A")}
        for node in nodes:
            if node not in node_items:
                return False
            want = sum(cpu_milli(c["usage"]["cpu"]) for p in pod_items for c in p["containers"]
                       if pods_by_name[(p["metadata"]["namespace"], p["metadata"]["name"])]
                       ["spec"].get("nodeName") == node)
            if abs(cpu_milli(node_items[node]["usage"]["cpu"]) - want) > 0.01:
                return False
        return True

    wait_for(nodes_sum_their_pods, 60, "node usage = sum of tenant-a's pods on it", every=2)
    proc = a.kubectl("top", "nodes", "--no-headers")
    assert nodes <= set(top_rows(proc.stdout)), proc.stdout
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_tenants_never_see_each_others_metrics(sandbox: SandboxHandle,
                                               syncer: SyncerProcess) -> None:
    a, b = sandbox["tenant-a"], sandbox["tenant-b"]
    ns_a, ns_b = unique("iso-a"), unique("iso-b")
    apply(a, namespace(ns_a), usage_deployment(ns_a, "alpha", 2, "500m", "300Mi", SHARED_NODE))
    apply(b, namespace(ns_b), usage_deployment(ns_b, "beta", 1, "100m", "100Mi", SHARED_NODE))
    wait_for(lambda: pods_near(a, ns_a, 2, 500, 300), 240, "tenant-a metrics", every=3)
    wait_for(lambda: pods_near(b, ns_b, 1, 100, 100), 240, "tenant-b metrics", every=3)
    vnode = running_pods(b, ns_b)[0]["spec"]["nodeName"]
    assert vnode == running_pods(a, ns_a)[0]["spec"]["nodeName"], "not on one shared node"

    # tenant-b: its own pod only, on the shared node only its own usage.
    b_pods = raw(b, f"{POD_METRICS}/pods")["items"]
    a_names = {p["metadata"]["name"] for p in running_pods(a, ns_a)}
    assert not a_names & {p["metadata"]["name"] for p in b_pods}
    assert {p["metadata"]["namespace"] for p in b_pods} >= {ns_b}
    assert ns_a not in {p["metadata"]["namespace"] for p in b_pods}
    node_b = raw(b, f"{POD_METRICS}/nodes/{vnode}")
    assert 80 <= cpu_milli(node_b["usage"]["cpu"]) <= 120, node_b
    node_a = raw(a, f"{POD_METRICS}/nodes/{vnode}")
    assert 800 <= cpu_milli(node_a["usage"]["cpu"]) <= 1200, node_a
    # tenant-b asking for tenant-a's namespace gets nothing of it.
    assert raw(b, f"{POD_METRICS}/namespaces/{ns_a}/pods")["items"] == []

    # Straight at the server: tenant-b's front-proxy certificate sees tenant-b only,
    # and a certificate no tenant's front-proxy CA issued is refused.
    status, body = direct_get(sandbox, syncer, f"{POD_METRICS}/pods",
                              client_cert=front_proxy_cert(sandbox, "tenant-b"))
    assert status == 200 and not a_names & {p["metadata"]["name"] for p in body["items"]}
    admin_pki = sandbox.dir / "pki" / "tenant-a"
    status, _ = direct_get(sandbox, syncer, f"{POD_METRICS}/pods",
                           client_cert=(str(admin_pki / "admin.crt"), str(admin_pki / "admin.key")))
    assert status in (0, 401)
    status, _ = direct_get(sandbox, syncer, f"{POD_METRICS}/pods", client_cert=None)
    assert status in (0, 401)
    a.kubectl("delete", "namespace", ns_a, "--wait=false")
    b.kubectl("delete", "namespace", ns_b, "--wait=false")


def test_users_without_rbac_get_403(sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    a = sandbox["tenant-a"]
    ns = unique("rbac")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "metrics-reader", "namespace": ns},
            "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods"],
                       "verbs": ["get", "list"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "viewer-reads-metrics", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "metrics-reader"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                             "name": "viewer"}]}
    apply(a, namespace(ns), role, binding, usage_deployment(ns, "web", 1, "100m", "64Mi"))
    wait_for(lambda: pods_near(a, ns, 1, 100, 64), 180, "metrics of the pod", every=3)

    proc = a.kubectl("--as=nobody", "top", "pods", "-n", ns, check=False)
    assert proc.returncode != 0 and "forbidden" in proc.stderr.lower(), proc.stderr
    proc = a.kubectl("--as=viewer", "top", "pods", "-n", ns, "--no-headers")
    assert len(top_rows(proc.stdout)) == 1
    # The server's own SubjectAccessReview (as the aggregator would call it).
    cert = front_proxy_cert(sandbox, "tenant-a")
    path = f"{POD_METRICS}/namespaces/{ns}/pods"
    status, body = direct_get(sandbox, syncer, path, client_cert=cert, user="nobody", groups=())
    assert status == 403 and body["reason"] == "Forbidden", body
    status, body = direct_get(sandbox, syncer, path, client_cert=cert, user="viewer", groups=())
    assert status == 200 and len(body["items"]) == 1
    status, _ = direct_get(sandbox, syncer, f"{POD_METRICS}/nodes", client_cert=cert,
                           user="viewer", groups=())
    assert status == 403
    a.kubectl("delete", "namespace", ns, "--wait=false")


def hpa_replicas(tenant: Cluster, ns: str) -> int:
    return int(get_json(tenant, "deployment", "infer", "-n", ns)["spec"]["replicas"])


def test_hpa_scales_up_and_down_with_usage(sandbox: SandboxHandle,
                                           syncer: SyncerProcess) -> None:
    """Tenant KCMs run with --horizontal-pod-autoscaler-sync-period=5s and
    --horizontal-pod-autoscaler-downscale-stabilization=20s (hack/sandbox_lib/metrics.py)."""
    a = sandbox["tenant-a"]
    ns = unique("hpa")
    apply(a, namespace(ns), usage_deployment(ns, "infer", 1, "50m", "64Mi"))
    wait_for(lambda: pods_near(a, ns, 1, 50, 64), 180, "metrics of the first pod", every=3)
    a.kubectl("autoscale", "deployment", "infer", "-n", ns, "--cpu-percent=50", "--min=1",
              "--max=5")
    # 300m of a 200m request: 150% against a 50% target.
    a.kubectl("annotate", "pods", "-n", ns, "-l", "app=infer", f"{USAGE_CPU}=300m",
              "--overwrite")
    wait_for(lambda: hpa_replicas(a, ns) > 1, 240, "HPA scaling up", every=3)
    wait_for(lambda: len(running_pods(a, ns)) == hpa_replicas(a, ns), 180, "new pods running")
    a.kubectl("annotate", "pods", "-n", ns, "-l", "app=infer", f"{USAGE_CPU}=5m",
              "--overwrite")
    wait_for(lambda: hpa_replicas(a, ns) == 1, 300, "HPA scaling back down", every=3)
    a.kubectl("delete", "namespace", ns, "--wait=false")


def test_edge_metrics_servers_scrape_kwok_on_loopback(sandbox: SandboxHandle) -> None:
    """One metrics-server per edge, listed by status --json; nodes point at kwok on 127.0.0.1."""
    status = sandbox.status()
    for edge in ("edge-bj", "edge-sh", "edge-gz"):
        assert status["processes"][f"{edge}-metrics-server"] == "running"
        entry = next(c for c in status["clusters"] if c["name"] == edge)
        assert entry["metricsServer"].startswith("https://127.0.0.1:")
        # A node kwok has just taken over may not have its status yet: wait for it.
        nodes = wait_for(lambda e=edge: (found := items(sandbox[e], "nodes")) and all(
            n.get("status", {}).get("addresses") for n in found) and found, 60,
            f"{edge} nodes with addresses")
        for node in nodes:
            addresses = node["status"]["addresses"]
            # metrics-server dials InternalIP only (--kubelet-preferred-address-types).
            assert [a["address"] for a in addresses if a["type"] == "InternalIP"] == ["127.0.0.1"]
            assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
        wait_for(lambda e=edge: get_json(sandbox[e], "apiservice", "v1beta1.metrics.k8s.io")
                 ["status"]["conditions"][0]["status"] == "True", 120, f"{edge} metrics API")
    edge = sandbox["edge-bj"]
    wait_for(lambda: edge.kubectl("top", "pods", "-n", "edge-system", "--no-headers",
                                  check=False).returncode == 0, 120, "edge top pods")
