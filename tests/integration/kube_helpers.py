"""Small kubectl-based helpers for integration tests (JSON in, dicts out)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

from syncer.core.names import edge_namespace
from tests.builders import HARDENED, HARDENED_CONTAINER, deployment, namespace

from .sandbox_fixture import Cluster, SandboxHandle

Obj = dict[str, Any]
EDGES = ("edge-bj", "edge-sh", "edge-gz")
__all__ = ["HARDENED", "HARDENED_CONTAINER", "deployment", "namespace"]

def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def get_json(cluster: Cluster, *args: str) -> Obj:
    out: Obj = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return out


def items(cluster: Cluster, *args: str) -> list[Obj]:
    found: list[Obj] = get_json(cluster, *args)["items"]
    return found


def apply(cluster: Cluster, *objs: Obj, timeout: float = 60) -> None:
    """kubectl apply; tried again while a new namespace has no default ServiceAccount yet
    (the controller-manager makes it moments after the namespace, later after its API
    server restarted), as a user would."""
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)})
    deadline = time.monotonic() + timeout
    while True:
        out = cluster.kubectl("apply", "-f", "-", stdin=doc, check=False)
        if out.returncode == 0:
            return
        waiting = 'serviceaccount "default" not found' in out.stderr
        if not waiting or time.monotonic() > deadline:
            raise AssertionError(f"kubectl apply on {cluster.name}: {out.stderr.strip()}")
        time.sleep(1)


def tenant_uid(sandbox: SandboxHandle, tenant: str) -> str:
    uid: str = get_json(sandbox["management"], "tenant", tenant)["metadata"]["uid"]
    return uid


def edge_ns(sandbox: SandboxHandle, tenant: str, namespace: str) -> str:
    return edge_namespace(tenant, tenant_uid(sandbox, tenant), namespace)


def edge_objects(sandbox: SandboxHandle, kind: str, namespace: str) -> dict[str, list[Obj]]:
    """kind objects in one namespace of every edge cluster, by edge name."""
    return {e: items(sandbox[e], kind, "-n", namespace) for e in EDGES}


def running_pods(cluster: Cluster, ns: str, selector: str | None = None) -> list[Obj]:
    args = ["pods", "-n", ns] + (["-l", selector] if selector else [])
    return [p for p in items(cluster, *args) if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]


def edge_pods(sandbox: SandboxHandle, ens: str) -> list[Obj]:
    return [p for ps in edge_objects(sandbox, "pods", ens).values() for p in ps]


def converged(sandbox: SandboxHandle, ns: str, ens: str, replicas: int) -> bool:
    """replicas tenant pods Running, each with exactly one live edge pod."""
    tenant_pods = running_pods(sandbox["tenant-a"], ns)
    live = [p for p in edge_pods(sandbox, ens) if not p["metadata"].get("deletionTimestamp")]
    names = Counter(p["metadata"]["name"] for p in live)
    return (len(tenant_pods) == replicas and len(live) == replicas
            and max(names.values(), default=1) == 1
            and {p["metadata"]["name"] for p in tenant_pods} == set(names))


def wait_edge_nodes_settled(sandbox: SandboxHandle, timeout: float = 120) -> None:
    """Until every edge node is Ready and carries no taint. After a test stopped an edge
    kube-apiserver, kwok's leases fail and that edge's node lifecycle controller taints
    its nodes node.kubernetes.io/unreachable; the taint outlives the Ready condition's
    return by a monitor period or more, and a test that counts nodes by their taints
    counted one of those (CI: test_scheduling_contract saw "2 node(s) had a taint")."""
    def unsettled() -> list[str]:
        return [f"{edge}/{node['metadata']['name']}"
                for edge in EDGES for node in items(sandbox[edge], "nodes")
                if node["spec"].get("taints") or not any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in node["status"].get("conditions", []))]
    deadline = time.monotonic() + timeout
    while (left := unsettled()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left, f"edge nodes still tainted or not Ready after {timeout:.0f}s: {left}"


def wait_controllers_caught_up(cluster: Cluster, timeout: float = 180) -> None:
    """After a tenant kube-apiserver restarted, until its controller-manager's ReplicaSet
    controller counts a pod it made. Its informers come back with a backoff (first refused,
    then forbidden while RBAC loads), and until the pod informer has caught up the
    ReplicaSet controller syncs nothing ("read version ... is not as new as written
    version"), backing off each ReplicaSet for longer each time: a next test's replacement
    pods waited for it (CI: test_failover after test_edge_dns's centre restart). A pod made
    is not enough (CI ran on with the informer a minute behind): the ReplicaSet's
    status.replicas is written only by a sync that saw the pod in the informer."""
    ns = unique("kcm-probe")
    apply(cluster, namespace(ns), deployment(ns, "probe", 1), timeout=timeout)
    deadline = time.monotonic() + timeout

    def counted() -> bool:
        return any((rs.get("status") or {}).get("replicas") == 1
                   for rs in items(cluster, "replicasets", "-n", ns))
    try:
        while not counted():
            if time.monotonic() > deadline:
                raise AssertionError(f"{cluster.name}: no pod counted after {timeout:.0f}s")
            time.sleep(1)
    finally:
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
