"""The syncer end to end on real clusters: a tenant's workload runs on the edges."""

from __future__ import annotations

import json

from .kube_helpers import (
    EDGES,
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


def _workload(ns: str) -> list[dict]:  # type: ignore[type-arg]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
          "data": {"mode": "one"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw", "namespace": ns},
              "stringData": {"password": "hunter2"}}
    dep = deployment(ns, "api", 3, container={
        "envFrom": [{"configMapRef": {"name": "cfg"}}],
        "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "password"}}}]})
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": ns},
           "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    return [namespace(ns), cm, secret, dep, svc]


def test_deployment_runs_on_edges_and_cleans_up(sandbox: SandboxHandle,
                                                syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("e2e")
    apply(tenant, *_workload(ns))
    pods = wait_for(lambda: len(running_pods(tenant, ns)) == 3 and running_pods(tenant, ns),
                    90, "3 tenant pods Running")
    ens = edge_ns(sandbox, "tenant-a", ns)
    edge_pods = {e: p for e, p in edge_objects(sandbox, "pods", ens).items() if p}
    assert sum(len(p) for p in edge_pods.values()) == 3
    edge_ips = {p["status"]["podIP"] for ps in edge_pods.values() for p in ps}
    assert {p["status"]["podIP"] for p in pods} == edge_ips

    nodes = {p["spec"]["nodeName"] for p in pods}
    vnodes = {n["metadata"]["name"]: n for n in items(tenant, "nodes")}
    assert nodes <= set(vnodes)
    for name in nodes:
        labels = vnodes[name]["metadata"]["labels"]
        assert labels["fusionvc.io/edge-cluster"] in EDGES
        assert "topology.kubernetes.io/region" in labels

    def endpoint_ips() -> set[str]:
        slices = items(tenant, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=api")
        return {a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]
                if (e.get("conditions") or {}).get("ready")}
    wait_for(lambda: endpoint_ips() == edge_ips, 60, "endpoints = edge pod IPs")

    used = set(edge_pods)
    for e in used:
        assert [c["metadata"]["name"] for c in items(sandbox[e], "configmaps", "-n", ens)
                if c["metadata"]["name"] == "cfg"] == ["cfg"]
        assert any(s["metadata"]["name"] == "pw" for s in items(sandbox[e], "secrets", "-n", ens))
        assert any(s["metadata"]["name"] == "api" for s in items(sandbox[e], "services", "-n", ens))
    for e in set(EDGES) - used:
        assert not items(sandbox[e], "configmaps", "-n", ens, "-l",
                         "fusionvc.io/managed-by=fusionvc")

    tenant.kubectl("-n", ns, "patch", "configmap", "cfg", "-p",
                   json.dumps({"data": {"mode": "two"}}))
    some_edge = next(iter(used))
    wait_for(lambda: get_json(sandbox[some_edge], "configmap", "cfg", "-n", ens)["data"]["mode"]
             == "two", 30, "ConfigMap edit reaches the edge copy")

    tenant.kubectl("-n", ns, "scale", "deployment", "api", "--replicas=0")
    wait_for(lambda: not any(edge_objects(sandbox, "pods", ens).values()), 60, "edge pods gone")
    wait_for(lambda: not any(items(sandbox[e], "configmaps", "-n", ens, "-l",
                                   "fusionvc.io/managed-by=fusionvc") for e in EDGES),
             60, "unused ConfigMap copies removed")
    wait_for(lambda: not any(items(sandbox[e], "secrets", "-n", ens, "-l",
                                   "fusionvc.io/managed-by=fusionvc") for e in EDGES),
             60, "unused Secret copies removed")

    def unused_vnodes_left() -> set[str]:
        bound = {p["spec"].get("nodeName") for p in items(tenant, "pods", "-A")}
        present = {n["metadata"]["name"] for n in items(tenant, "nodes")}
        return (nodes & present) - bound
    wait_for(lambda: not unused_vnodes_left(), 90, "virtual nodes without pods removed")

    tenant.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: not any(ens in sandbox[e].kubectl("get", "ns", "-o", "name").stdout
                             for e in EDGES), 90, "edge namespaces deleted")


def test_edge_events_about_a_pod_reach_the_tenant(sandbox: SandboxHandle,
                                                  syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("events")
    apply(tenant, namespace(ns), deployment(ns, "ev", 1))
    pod = wait_for(lambda: running_pods(tenant, ns), 90, "pod running")[0]
    ens = edge_ns(sandbox, "tenant-a", ns)
    edge = next(e for e in EDGES if items(sandbox[e], "pods", "-n", ens))
    epod = items(sandbox[edge], "pods", "-n", ens)[0]
    # What a kubelet would say about the pod on the edge.
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": f"{epod['metadata']['name']}.pulled", "namespace": ens},
             "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": ens,
                                "name": epod["metadata"]["name"],
                                "uid": epod["metadata"]["uid"]},
             "reason": "Pulled", "message": "Successfully pulled image", "type": "Normal",
             "source": {"component": "kubelet", "host": epod["spec"]["nodeName"]}, "count": 1}
    apply(sandbox[edge], event)

    def copied() -> list[dict]:  # type: ignore[type-arg]
        return [e for e in items(tenant, "events", "-n", ns) if e["reason"] == "Pulled"]
    up = wait_for(copied, 60, "the edge event in the tenant")[0]
    assert up["involvedObject"]["name"] == pod["metadata"]["name"]
    assert up["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert up["involvedObject"]["namespace"] == ns
    assert "host" not in up.get("source", {})
    others = items(sandbox["tenant-b"], "events", "-A")
    assert not [e for e in others if e["involvedObject"].get("uid") == pod["metadata"]["uid"]]
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
