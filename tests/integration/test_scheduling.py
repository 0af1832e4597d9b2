"""The fusion scheduler through kubectl: GPUs, arm64, latency vs cost, spread, outages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .kube_helpers import (
    EDGES,
    HARDENED,
    HARDENED_CONTAINER,
    apply,
    deployment,
    get_json,
    items,
    namespace,
    running_pods,
    unique,
)
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

Obj = dict  # type: ignore[type-arg]


def _pod(ns: str, name: str, **spec: object) -> Obj:
    requests = spec.pop("requests", {"cpu": "100m"})
    container = {"name": "c", "image": "registry.local/infer:1", **HARDENED_CONTAINER,
                 "resources": {"requests": requests, "limits": {
                     k: v for k, v in requests.items() if k == "nvidia.com/gpu"}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {**HARDENED, "containers": [container], **spec}}


def _vnode(sandbox: SandboxHandle, tenant: str, ns: str, pod: str) -> Obj:
    node = wait_for(lambda: get_json(sandbox[tenant], "pod", pod, "-n", ns)["spec"].get(
        "nodeName"), 90, f"{pod} bound")
    return get_json(sandbox[tenant], "node", node)


def _edge_node(sandbox: SandboxHandle, vnode: Obj) -> Obj:
    ann = vnode["metadata"]["annotations"]
    return get_json(sandbox[ann["fusionvc.io/edge-cluster"]], "node", ann["fusionvc.io/edge-node"])


def _free_gpus(sandbox: SandboxHandle, edge: str, node: str) -> int:
    alloc = int(get_json(sandbox[edge], "node", node)["status"]["allocatable"].get(
        "nvidia.com/gpu", "0"))
    pods = items(sandbox[edge], "pods", "-A", "--field-selector", f"spec.nodeName={node}")
    used = sum(int(c["resources"].get("requests", {}).get("nvidia.com/gpu", "0"))
               for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
               for c in p["spec"]["containers"])
    return alloc - used


@pytest.fixture
def ns(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[str]:
    name = unique("sched")
    for tenant in ("tenant-a", "tenant-b"):
        apply(sandbox[tenant], namespace(name))
    yield name
    for tenant in ("tenant-a", "tenant-b"):
        sandbox[tenant].kubectl("delete", "namespace", name, "--wait=false")


def test_gpu_pod_lands_on_a_node_with_a_free_gpu(sandbox: SandboxHandle, ns: str) -> None:
    apply(sandbox["tenant-a"], _pod(ns, "gpu", requests={"nvidia.com/gpu": "1", "cpu": "1"}))
    vnode = _vnode(sandbox, "tenant-a", ns, "gpu")
    assert vnode["metadata"]["labels"].get("nvidia.com/gpu.product")
    edge = vnode["metadata"]["annotations"]["fusionvc.io/edge-cluster"]
    node = vnode["metadata"]["annotations"]["fusionvc.io/edge-node"]
    assert _free_gpus(sandbox, edge, node) >= 0, "the node's GPUs are over-committed"


def test_more_gpus_than_any_node_has_stays_pending(sandbox: SandboxHandle, ns: str) -> None:
    apply(sandbox["tenant-a"], _pod(ns, "big", requests={"nvidia.com/gpu": "9"}))

    def message() -> str:
        pod = get_json(sandbox["tenant-a"], "pod", "big", "-n", ns)
        cond = next((c for c in pod["status"].get("conditions", [])
                     if c["type"] == "PodScheduled"), {})
        return str(cond.get("message", "")) if cond.get("reason") == "Unschedulable" else ""
    text = wait_for(message, 60, "Unschedulable condition")
    assert text.startswith("0/") and "nodes are available" in text
    assert "Insufficient nvidia.com/gpu" in text
    events = items(sandbox["tenant-a"], "events", "-n", ns, "--field-selector",
                   "involvedObject.name=big")
    assert any(e["reason"] == "FailedScheduling" for e in events)
    bj_free = sum(_free_gpus(sandbox, "edge-bj", n["metadata"]["name"])
                  for n in items(sandbox["edge-bj"], "nodes"))
    assert bj_free >= 9, "the test wants a cluster whose total would fit"
    assert not get_json(sandbox["tenant-a"], "pod", "big", "-n", ns)["spec"].get("nodeName")


def test_arm64_selector_lands_on_arm64(sandbox: SandboxHandle, ns: str) -> None:
    apply(sandbox["tenant-a"], _pod(ns, "arm", nodeSelector={"kubernetes.io/arch": "arm64"}))
    vnode = _vnode(sandbox, "tenant-a", ns, "arm")
    assert vnode["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert _edge_node(sandbox, vnode)["status"]["nodeInfo"]["architecture"] == "arm64"


def test_latency_first_goes_near_users_and_cost_first_goes_cheap(sandbox: SandboxHandle,
                                                                 ns: str) -> None:
    for tenant in ("tenant-a", "tenant-b"):
        apply(sandbox[tenant], deployment(ns, "same", 3))
    for tenant in ("tenant-a", "tenant-b"):
        wait_for(lambda t=tenant: len(running_pods(sandbox[t], ns)) == 3, 90, f"{tenant} pods")
    a_nodes = {p["spec"]["nodeName"] for p in running_pods(sandbox["tenant-a"], ns)}
    regions = {get_json(sandbox["tenant-a"], "node", n)["metadata"]["labels"][
        "topology.kubernetes.io/region"] for n in a_nodes}
    assert regions == {"cn-beijing"}, "tenant-a's users are in cn-beijing (latency-first)"
    # A pod that names no architecture runs on amd64 (its image is assumed single-arch).
    prices = {float(n["metadata"]["annotations"]["fusionvc.io/price-per-hour"])
              for e in EDGES for n in items(sandbox[e], "nodes")
              if n["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"}
    b_nodes = {p["spec"]["nodeName"] for p in running_pods(sandbox["tenant-b"], ns)}
    b_prices = {float(get_json(sandbox["tenant-b"], "node", n)["metadata"]["annotations"][
        "fusionvc.io/price-per-hour"]) for n in b_nodes}
    assert b_prices == {min(prices)}, "tenant-b (cost-first) runs on the cheapest fitting nodes"


@pytest.fixture
def spread_policy(sandbox: SandboxHandle) -> Iterator[None]:
    mgmt = sandbox["management"]
    before = get_json(mgmt, "tenant", "tenant-a")["spec"]["scheduling"]
    policy = {"mode": "balanced", "userRegions": ["cn-beijing"],
              "weights": {"latency": 0, "cost": 0, "spread": 10}}
    mgmt.kubectl("patch", "tenant", "tenant-a", "--type=merge", "-p",
                 json.dumps({"spec": {"scheduling": policy}}))
    wait_for(lambda: _policy_valid(sandbox) == ("True", policy), 30, "policy applied")
    yield
    mgmt.kubectl("patch", "tenant", "tenant-a", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/scheduling", "value": before}]))


def _policy_valid(sandbox: SandboxHandle) -> tuple[str, Obj]:
    tenant = get_json(sandbox["management"], "tenant", "tenant-a")
    cond = next((c for c in tenant.get("status", {}).get("conditions", [])
                 if c["type"] == "PolicyValid"), {})
    return cond.get("status", ""), tenant["spec"]["scheduling"]


def test_replicas_spread_across_clusters(sandbox: SandboxHandle, ns: str,
                                         spread_policy: None) -> None:
    apply(sandbox["tenant-a"], deployment(ns, "spread", 3))
    wait_for(lambda: len(running_pods(sandbox["tenant-a"], ns)) == 3, 90, "3 pods")
    clusters = {get_json(sandbox["tenant-a"], "node", p["spec"]["nodeName"])["metadata"][
        "labels"]["fusionvc.io/edge-cluster"] for p in running_pods(sandbox["tenant-a"], ns)}
    assert clusters == set(EDGES)


def test_invalid_policy_is_reported_and_the_previous_one_kept(sandbox: SandboxHandle,
                                                              ns: str) -> None:
    mgmt = sandbox["management"]
    before = get_json(mgmt, "tenant", "tenant-a")["spec"]["scheduling"]
    mgmt.kubectl("patch", "tenant", "tenant-a", "--type=merge", "-p",
                 json.dumps({"spec": {"scheduling": {"mode": "fastest-please"}}}))
    try:
        def invalid() -> str:
            cond = next((c for c in get_json(mgmt, "tenant", "tenant-a")["status"]["conditions"]
                         if c["type"] == "PolicyValid"), {})
            return str(cond.get("message", "")) if cond.get("status") == "False" else ""
        assert "spec.scheduling.mode" in wait_for(invalid, 30, "PolicyValid=False")
        apply(sandbox["tenant-a"], deployment(ns, "still", 2))
        wait_for(lambda: len(running_pods(sandbox["tenant-a"], ns)) == 2, 90, "pods still placed")
        regions = {get_json(sandbox["tenant-a"], "node", p["spec"]["nodeName"])["metadata"][
            "labels"]["topology.kubernetes.io/region"]
            for p in running_pods(sandbox["tenant-a"], ns)}
        assert regions == {"cn-beijing"}, "the previous latency-first policy still applies"
    finally:
        mgmt.kubectl("patch", "tenant", "tenant-a", "--type=json", "-p", json.dumps(
            [{"op": "replace", "path": "/spec/scheduling", "value": before}]))


def test_new_pods_avoid_an_edge_cluster_that_is_down(sandbox: SandboxHandle, ns: str) -> None:
    sandbox.run("stop", "edge-bj-apiserver")
    try:
        wait_for(lambda: _edge_ready(sandbox, "edge-bj") == "False", 60, "edge-bj not Ready")
        apply(sandbox["tenant-a"], deployment(ns, "detour", 2))
        wait_for(lambda: len(running_pods(sandbox["tenant-a"], ns)) == 2, 90, "pods placed")
        clusters = {get_json(sandbox["tenant-a"], "node", p["spec"]["nodeName"])["metadata"][
            "labels"]["fusionvc.io/edge-cluster"] for p in running_pods(sandbox["tenant-a"], ns)}
        assert "edge-bj" not in clusters
    finally:
        sandbox.run("start", "edge-bj-apiserver")
        wait_for(lambda: _edge_ready(sandbox, "edge-bj") == "True", 90, "edge-bj Ready again")


def _edge_ready(sandbox: SandboxHandle, edge: str) -> str:
    obj = get_json(sandbox["management"], "edgecluster", edge)
    return str(next((c["status"] for c in obj.get("status", {}).get("conditions", [])
                     if c["type"] == "Ready"), ""))
