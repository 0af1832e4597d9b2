"""The objects the sandbox writes into its clusters, as plain manifests (pure functions)."""

from __future__ import annotations

import base64
from typing import Any

import yaml

from .metrics import node_metrics_annotation
from .topology import ClusterSpec, NodeGroup

SYSTEM_NAMESPACE = "fusionvc-system"
K8S_VERSION = "v1.36.3"


def edge_node(cluster: ClusterSpec, group: NodeGroup, name: str) -> dict[str, Any]:
    """A kwok-managed Node with the capacity, arch, GPU and price the topology gives it."""
    capacity = {
        "cpu": group.cpu,
        "memory": group.memory,
        "pods": str(group.pods),
        "ephemeral-storage": "200Gi",
    }
    labels = {
        "kubernetes.io/arch": group.arch,
        "beta.kubernetes.io/arch": group.arch,
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "type": "kwok",
        "topology.kubernetes.io/region": cluster.region,
        "node.kubernetes.io/instance-type": group.name.split("-", 1)[-1],
    }
    if group.zone:
        labels["topology.kubernetes.io/zone"] = group.zone
    if group.gpu:
        capacity["nvidia.com/gpu"] = str(group.gpu)
        labels["nvidia.com/gpu.product"] = group.gpu_model
        labels["nvidia.com/gpu.count"] = str(group.gpu)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                "node.alpha.kubernetes.io/ttl": "0",
                "fusionvc.io/price-per-hour": group.price_per_hour,
                **node_metrics_annotation(name),
            },
        },
        "spec": {"taints": [dict(t) for t in group.taints]},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "nodeInfo": {
                "architecture": group.arch,
                "operatingSystem": "linux",
                "kubeletVersion": K8S_VERSION,
                "kubeProxyVersion": K8S_VERSION,
                "containerRuntimeVersion": "kwok",
                "osImage": "kwok",
                "kernelVersion": "kwok",
                "bootID": "",
                "machineID": "",
                "systemUUID": "",
            },
        },
    }


def gpu_user_pod(node_name: str, gpus: int) -> dict[str, Any]:
    """A pod that is not fusionvc's, using some GPUs of a node (the scheduler must count it)."""
    res = {"nvidia.com/gpu": str(gpus), "cpu": "1", "memory": "4Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"gpu-user-{node_name}",
            "namespace": "edge-system",
            "labels": {"app": "edge-local-inference"},
        },
        "spec": {
            "nodeName": node_name,
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.local/inference:1",
                    "resources": {"requests": res, "limits": res},
                }
            ],
            "tolerations": [{"operator": "Exists"}],
        },
    }


def edge_objects(cluster: ClusterSpec) -> list[dict[str, Any]]:
    nodes, pods = [], []
    for group in cluster.nodes:
        for name in group.node_names():
            nodes.append(edge_node(cluster, group, name))
            if group.used_gpus:
                pods.append(gpu_user_pod(name, group.used_gpus))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "edge-system"}}
    return [*nodes, namespace, *pods]


def kubeconfig_secret(name: str, kubeconfig: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": SYSTEM_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "fusionvc"},
        },
        "data": {"kubeconfig": data},
    }


def secret_ref(cluster: str) -> dict[str, str]:
    return {"name": f"{cluster}-kubeconfig", "namespace": SYSTEM_NAMESPACE, "key": "kubeconfig"}


def tenant_object(cluster: ClusterSpec) -> dict[str, Any]:
    tenant = cluster.tenant
    isolation = {
        "podSecurity": tenant.get("podSecurity", "baseline"),
        "allowNodePort": bool(tenant.get("allowNodePort", False)),
        "allowLoadBalancer": bool(tenant.get("allowLoadBalancer", False)),
    }
    spec: dict[str, Any] = {"kubeconfigSecretRef": secret_ref(cluster.name), "isolation": isolation}
    if "scheduling" in tenant:
        spec["scheduling"] = tenant["scheduling"]
    if "dns" in tenant:  # GSLB: zones the tenant may export
        spec["dns"] = tenant["dns"]
    if tenant.get("registries"):
        spec["registries"] = tenant_registries(cluster)
    return {
        "apiVersion": "fusionvc.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": cluster.name},
        "spec": spec,
    }


def edge_cluster_object(cluster: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "fusionvc.io/v1alpha1",
        "kind": "EdgeCluster",
        "metadata": {"name": cluster.name},
        "spec": {
            "region": cluster.region,
            "kubeconfigSecretRef": secret_ref(cluster.name),
            "latencyMs": dict(cluster.latency_ms),
            "runtimeHandlers": list(cluster.runtime_handlers),
            **({"entrance": [dict(e) for e in cluster.entrance]} if cluster.entrance else {}),
        },
    }


def user_region_objects(networks: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """GSLB: one UserRegion per sandbox user network (127/8 CIDRs -> region, carrier)."""
    return [
        {
            "apiVersion": "fusionvc.io/v1alpha1",
            "kind": "UserRegion",
            "metadata": {"name": n["name"]},
            "spec": {"cidrs": list(n["cidrs"]), "region": n["region"],
                     "carrier": str(n.get("carrier", ""))},
        }
        for n in networks
    ]


def as_list(items: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)


# ---- registry credentials (issue 15): Tenant.spec.registries and their management Secrets ----


def registry_secret_name(cluster: str, index: int) -> str:
    return f"{cluster}-registry-{index}"


def tenant_registries(cluster: ClusterSpec) -> list[dict[str, Any]]:
    """``spec.registries`` of a sandbox tenant: each names its credentials Secret."""
    return [
        {
            "server": r["server"],
            "credentialsSecretRef": {"name": registry_secret_name(cluster.name, i)},
        }
        for i, r in enumerate(cluster.tenant.get("registries") or [])
    ]


def registry_secrets(cluster: ClusterSpec) -> list[dict[str, Any]]:
    """The basic-auth Secrets (sandbox-only values from config/sandbox.yaml) in fusionvc-system."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/basic-auth",
            "metadata": {
                "name": registry_secret_name(cluster.name, i),
                "namespace": SYSTEM_NAMESPACE,
                "labels": {"app.kubernetes.io/part-of": "fusionvc"},
            },
            "stringData": {"username": str(r["username"]), "password": str(r["password"])},
        }
        for i, r in enumerate(cluster.tenant.get("registries") or [])
    ]
