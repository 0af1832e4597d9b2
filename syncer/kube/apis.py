"""Kubernetes resource types fusionvc reads or writes, and their REST paths."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


PODS = ResourceType("", "v1", "pods", "Pod")
CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap")
SECRETS = ResourceType("", "v1", "secrets", "Secret")
PVCS = ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
PERSISTENTVOLUMES = ResourceType("", "v1", "persistentvolumes", "PersistentVolume",
                               namespaced=False)
SERVICES = ResourceType("", "v1", "services", "Service")
EVENTS = ResourceType("", "v1", "events", "Event")
NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", namespaced=False)
NODES = ResourceType("", "v1", "nodes", "Node", namespaced=False)
RESOURCEQUOTAS = ResourceType("", "v1", "resourcequotas", "ResourceQuota")
LIMITRANGES = ResourceType("", "v1", "limitranges", "LimitRange")
NETWORKPOLICIES = ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy")
RUNTIMECLASSES = ResourceType("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass",
                              namespaced=False)
LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "Lease")
TENANTS = ResourceType("fusionvc.io", "v1alpha1", "tenants", "Tenant", namespaced=False)
EDGECLUSTERS = ResourceType("fusionvc.io", "v1alpha1", "edgeclusters", "EdgeCluster",
                            namespaced=False)
USERREGIONS = ResourceType("fusionvc.io", "v1alpha1", "userregions", "UserRegion", namespaced=False)
SERVICEDOMAINS = ResourceType("edge.fusionvc.io", "v1alpha1", "servicedomains", "ServiceDomain")
CRDS = ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                    "CustomResourceDefinition", namespaced=False)
JOBS = ResourceType("batch", "v1", "jobs", "Job")
IMAGEPREWARMS = ResourceType("edge.fusionvc.io", "v1alpha1", "imageprewarms", "ImagePrewarm")
EDGEDATASETS = ResourceType("edge.fusionvc.io", "v1alpha1", "edgedatasets", "EdgeDataset")


# Subresources of a Namespace object: /api/v1/namespaces/{name}/{status,finalize}.
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
NON_RESOURCE = "nonresource"  # /readyz, /version, discovery


def resource_of(path: str) -> str:
    """The resource a REST path names, as kubectl spells it: ``plural[.group][/subresource]``
    (``pods/status``, ``leases.coordination.k8s.io``); ``nonresource`` for other paths.
    Object and namespace names are dropped, so the values are as few as the kinds a
    process calls (kube-apiserver's RequestInfo splits a path the same way)."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return NON_RESOURCE
    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
        rest = rest[2:]
    resource = f"{rest[0]}.{group}" if group else rest[0]
    return f"{resource}/{rest[2]}" if len(rest) > 2 else resource
