"""Builders of Kubernetes objects shared by unit tests, integration tests and benchmarks.

Plain dicts, as fusionvc handles them. Defaults are what every Pod Security level
(restricted included) admits, so a builder's output can be applied to a sandbox
tenant as is; keyword arguments add or override fields.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

# A pod template every Pod Security level (restricted included) admits.
HARDENED = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"}},
}
HARDENED_CONTAINER = {"securityContext": {"allowPrivilegeEscalation": False,
                                          "capabilities": {"drop": ["ALL"]}}}
IMAGE = "registry.local/app:1"


def container(name: str = "main", **extra: Any) -> Obj:
    return {"name": name, "image": IMAGE,
            "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
            **HARDENED_CONTAINER, **extra}


_container = container  # for builders whose keyword argument is named "container"


def pod_spec(*, containers: list[Obj] | None = None, **extra: Any) -> Obj:
    return {**HARDENED, "containers": containers or [container()], **extra}


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(namespace: str, name: str, *, labels: Obj | None = None, uid: str | None = None,
        spec: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": spec or pod_spec(), "status": {"phase": "Pending"}}


def deployment(namespace: str, name: str, replicas: int, *, labels: Obj | None = None,
               pod_spec: Obj | None = None, container: Obj | None = None) -> Obj:
    labels = labels or {"app": name}
    main = _container(**(container or {}))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {**HARDENED, "containers": [main],
                                           **(pod_spec or {})}}}}


def service(namespace: str, name: str, *, selector: Obj | None = None,
            ports: list[Obj] | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name} if selector is None else selector,
                     "ports": ports or [{"name": "http", "port": 80, "targetPort": 8080,
                                         "protocol": "TCP"}],
                     "type": "ClusterIP", **spec}}


def config_map(namespace: str, name: str, data: Obj | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": data or {"k": "v"}}


def secret(namespace: str, name: str, data: Obj | None = None, **extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace}, "type": "Opaque",
            "data": data or {"k": "dg=="}, **extra}


def edge_node(name: str, *, cpu: str = "16", memory: str = "64Gi", pods: str = "110",
              labels: Obj | None = None, **spec: Any) -> Obj:
    capacity = {"cpu": cpu, "memory": memory, "pods": pods}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name, **(labels or {})}},
            "spec": dict(spec),
            "status": {"capacity": capacity, "allocatable": dict(capacity),
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"}}}
