"""Tenants never see or touch each other; forbidden objects never reach an edge."""

from __future__ import annotations

import pytest

from .kube_helpers import (
    EDGES,
    HARDENED,
    HARDENED_CONTAINER,
    apply,
    deployment,
    edge_ns,
    edge_objects,
    get_json,
    items,
    namespace,
    running_pods,
    unique,
)
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for


def test_two_tenants_same_names_never_collide(sandbox: SandboxHandle,
                                              syncer: SyncerProcess) -> None:
    ns = unique("same")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": ns},
              "stringData": {"pw": "x"}}
    dep = deployment(ns, "web", 2, container={
        "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]})
    for tenant in ("tenant-a", "tenant-b"):
        apply(sandbox[tenant], namespace(ns), secret, dep)
    for tenant in ("tenant-a", "tenant-b"):
        wait_for(lambda t=tenant: len(running_pods(sandbox[t], ns)) == 2, 90, f"{tenant} pods")
    ens_a, ens_b = edge_ns(sandbox, "tenant-a", ns), edge_ns(sandbox, "tenant-b", ns)
    assert ens_a != ens_b
    for ens, tenant in ((ens_a, "tenant-a"), (ens_b, "tenant-b")):
        pods = [p for ps in edge_objects(sandbox, "pods", ens).values() for p in ps]
        assert len(pods) == 2
        assert {p["metadata"]["labels"]["fusionvc.io/tenant"] for p in pods} == {tenant}

    b = sandbox["tenant-b"]
    a_pods = {p["metadata"]["uid"] for p in items(sandbox["tenant-a"], "pods", "-A")}
    a_ips = {p["status"].get("podIP") for p in running_pods(sandbox["tenant-a"], ns)}
    assert not a_pods & {p["metadata"]["uid"] for p in items(b, "pods", "-A")}
    events = items(b, "events", "-A")
    assert not any(e["involvedObject"].get("uid") in a_pods for e in events)
    slices = items(b, "endpointslices", "-A")
    assert not a_ips & {a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]}
    b_nodes = {n["metadata"]["name"] for n in items(b, "nodes")}
    b_bound = {p["spec"].get("nodeName") for p in items(b, "pods", "-A")}
    assert b_nodes <= b_bound | set(), "tenant-b sees a virtual node it has no pod on"
    b_secret = get_json(b, "secret", "db", "-n", ns)
    assert b_secret["metadata"]["uid"] != get_json(sandbox["tenant-a"], "secret", "db", "-n",
                                                   ns)["metadata"]["uid"]
    for tenant in ("tenant-a", "tenant-b"):
        sandbox[tenant].kubectl("delete", "namespace", ns, "--wait=false")


FORBIDDEN = [
    ("privileged", {"containers": [{"name": "c", "image": "x",
                                    "securityContext": {"privileged": True}}]},
     "spec.containers[0].securityContext.privileged"),
    ("hostpath", {"containers": [{"name": "c", "image": "x"}],
                  "volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]},
     "spec.volumes[0].hostPath"),
    ("hostnetwork", {"hostNetwork": True, "containers": [{"name": "c", "image": "x"}]},
     "spec.hostNetwork"),
    ("hostpid", {"hostPID": True, "containers": [{"name": "c", "image": "x"}]}, "spec.hostPID"),
    ("hostport", {"containers": [{"name": "c", "image": "x",
                                  "ports": [{"containerPort": 80, "hostPort": 8080}]}]},
     "spec.containers[0].ports[0].hostPort"),
]


@pytest.mark.parametrize(("case", "spec", "field"), FORBIDDEN, ids=[c[0] for c in FORBIDDEN])
def test_forbidden_pod_is_never_written_to_an_edge(sandbox: SandboxHandle, syncer: SyncerProcess,
                                                   case: str, spec: dict, field: str) -> None:  # type: ignore[type-arg]
    tenant, ns = sandbox["tenant-a"], unique(f"bad-{case}")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": ns},
           "spec": spec}
    apply(tenant, namespace(ns), pod)

    def warning() -> list[dict]:  # type: ignore[type-arg]
        return [e for e in items(tenant, "events", "-n", ns, "--field-selector",
                                 "involvedObject.name=bad")
                if e["type"] == "Warning" and e["reason"] == "SyncRejected"]
    events = wait_for(warning, 60, "a Warning event on the pod")
    assert field in events[0]["message"]
    cond = next(c for c in get_json(tenant, "pod", "bad", "-n", ns)["status"]["conditions"]
                if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Forbidden" and field in cond["message"]
    ens = edge_ns(sandbox, "tenant-a", ns)
    assert not any(edge_objects(sandbox, "pods", ens).values())
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_node_port_service_rejected_by_policy(sandbox: SandboxHandle,
                                              syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("np")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np", "namespace": ns},
           "spec": {"type": "NodePort", "selector": {"app": "np"}, "ports": [{"port": 80}]}}
    apply(tenant, namespace(ns), deployment(ns, "np", 1), svc)
    wait_for(lambda: running_pods(tenant, ns), 90, "pod running")

    def warning() -> list[dict]:  # type: ignore[type-arg]
        return [e for e in items(tenant, "events", "-n", ns, "--field-selector",
                                 "involvedObject.kind=Service")
                if e["reason"] == "SyncRejected"]
    events = wait_for(warning, 60, "a Warning event on the service")
    assert "spec.type" in events[0]["message"] and "NodePort" in events[0]["message"]
    ens = edge_ns(sandbox, "tenant-a", ns)
    assert not any(edge_objects(sandbox, "services", ens).values())
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_names_at_the_limits(sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    tenant = sandbox["tenant-a"]
    ns = unique("n") + "-" + "x" * 54
    ns = ns[:63]
    cm_name = ("c" * 240 + unique("m"))[:253]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm_name, "namespace": ns},
          "data": {"k": "v"}}
    dep = deployment(ns, "long", 1, container={"envFrom": [{"configMapRef": {"name": cm_name}}]})
    apply(tenant, namespace(ns), cm, dep)
    wait_for(lambda: running_pods(tenant, ns), 90, "pod in a 63-character namespace running")
    ens = edge_ns(sandbox, "tenant-a", ns)
    assert len(ens) <= 63
    copies = [c for e in EDGES for c in items(sandbox[e], "configmaps", "-n", ens)
              if c["metadata"]["name"] == cm_name]
    assert len(copies) == 1 and copies[0]["data"] == {"k": "v"}
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_restricted_tenant_rejects_unhardened_pod(sandbox: SandboxHandle,
                                                  syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-b"], unique("restricted")
    plain = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain", "namespace": ns},
             "spec": {"containers": [{"name": "c", "image": "x"}]}}
    ok = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": ns},
          "spec": {**HARDENED, "containers": [{"name": "c", "image": "x", **HARDENED_CONTAINER}]}}
    apply(tenant, namespace(ns), plain, ok)
    wait_for(lambda: [p for p in running_pods(tenant, ns) if p["metadata"]["name"] == "ok"],
             90, "hardened pod running")
    cond = wait_for(lambda: next((c for c in get_json(tenant, "pod", "plain", "-n", ns)[
        "status"].get("conditions", []) if c["reason"] == "Forbidden"), None), 60, "rejection")
    assert "allowPrivilegeEscalation" in cond["message"]
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
